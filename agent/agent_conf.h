/*
 * The agent's YAML configuration: a top-level mapping of engine settings
 * and `topologies`, each {strategy, config, connector}, as libcluster
 * names them.  The agent core knows no strategy's or connector's keys:
 * each brings its own table.
 */
#ifndef CAIRN_AGENT_AGENT_CONF_H
#define CAIRN_AGENT_AGENT_CONF_H

#include <stddef.h>

#include <yaml.h>

#include "agent/agent.h"
#include "common/conf.h"

/*
 * Parses text[0..len) (name is used in messages) into a fresh conf.
 * Returns the conf, or NULL with every error, one per line, each
 * "FILE:LINE:COL: key 'x': what", in err.  The cookie is resolved here
 * (cookie, cookie_file, or ~/.erlang.cookie) when a connector needs one.
 */
struct agent_conf *agent_conf_parse(const char *name, const char *text,
		    size_t len, char *err, size_t errlen);
/*
 * Parses a `topologies` mapping (tn, borrowed from doc) into c, which
 * holds no topologies yet: for a program that keeps the agent's keys
 * inside its own YAML (cairn-broker).  text[0..len) is the document's
 * text, kept per topology for agent_reload()'s comparison; NULL keeps
 * none.  Every error is added to doc.  Returns 0, CAIRN_ERR_INVAL or
 * CAIRN_ERR_NOMEM; on error c may hold some topologies (agent_conf_free
 * frees them).  *need_cookie (may be NULL) is set to 1 when a connector
 * needs the Erlang cookie.
 */
int		 agent_conf_topologies(struct conf_doc *doc,
		    const yaml_node_t *tn, const char *text, size_t len,
		    struct agent_conf *c, int *need_cookie);
/* Reads path and parses it. */
struct agent_conf *agent_conf_load(const char *path, char *err, size_t errlen);

#endif
