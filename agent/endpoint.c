/*
 * cairn-agent's HTTP endpoint (common/http.h), when http_listen is set:
 *
 *	/healthz	200 "ok": the loop runs
 *	/readyz		200 "ready" while the state is up (quorum
 *			reached), else 503 and the state
 *	/metrics	agent_metrics(): Prometheus text format
 *	/api/v1/members	what `cairn members --json` prints
 *
 * Read-only, without a password (the agent has no user file): keep it
 * on loopback, which is the default host.  The http_* keys are read at
 * start; a SIGHUP reload does not move the endpoint.
 */
#include "agent/endpoint.h"

#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "common/http.h"

static int
agent_endpoint_on_request(void *arg, const char *path, struct http_reply *r)
{
	struct agent *ag = arg;
	struct bytes_w *w = &r->hr_body;

	if (strcmp(path, "/healthz") == 0)
		bytes_put_str(w, "ok\n");
	else if (strcmp(path, "/readyz") == 0) {
		if (agent_get_state(ag) != AGENT_UP) {
			r->hr_status = 503;
			bytes_printf(w, "not ready: quorum not reached "
			    "(state %s)\n", agent_state_name(
			    agent_get_state(ag)));
		} else
			bytes_put_str(w, "ready\n");
	} else if (strcmp(path, "/metrics") == 0) {
		r->hr_type = "text/plain; version=0.0.4; charset=utf-8";
		return agent_metrics(ag, w);
	} else if (strcmp(path, "/api/v1/members") == 0) {
		r->hr_type = "application/json";
		agent_members_json(ag, w);
		bytes_put_u8(w, '\n');
	} else {
		r->hr_status = 404;
		bytes_put_str(w, "not found\n");
	}
	return w->err;
}

struct http *
agent_endpoint_new(struct ev_loop *loop, struct agent *ag,
    const struct agent_conf *c, char *err, size_t errlen)
{
	struct http_conf hc;

	if (c->ac_http_listen.host == NULL)
		return NULL;
	http_conf_defaults(&hc);
	hc.hc_max_connections = (unsigned)c->ac_http_max_connections;
	hc.hc_timeout_ms = c->ac_http_timeout_ms;
	hc.hc_max_request = (size_t)c->ac_http_max_request;
	return http_new(loop, c->ac_http_listen.host, c->ac_http_listen.port,
	    &hc, agent_endpoint_on_request, ag, err, errlen);
}
