/*
 * cairn-agent's HTTP endpoint: /healthz, /readyz, /metrics and
 * /api/v1/members over common/http.  Only the daemon links it; a broker
 * embedding the agent serves the agent's metrics from its own endpoint.
 */
#ifndef CAIRN_AGENT_ENDPOINT_H
#define CAIRN_AGENT_ENDPOINT_H

#include <stddef.h>

struct agent;
struct agent_conf;
struct ev_loop;
struct http;

/*
 * Serves ag (borrowed) on c's http_listen.  NULL with err[0] == '\0'
 * when c sets none; NULL with the reason in err on failure.  Free with
 * http_free().
 */
struct http	*agent_endpoint_new(struct ev_loop *loop, struct agent *ag,
		    const struct agent_conf *c, char *err, size_t errlen);

#endif
