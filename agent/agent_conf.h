/*
 * The agent's YAML configuration: a top-level mapping of engine settings
 * and `topologies`, each {strategy, config, connector}, as libcluster
 * names them.  The agent core knows no strategy's or connector's keys:
 * each brings its own table.
 */
#ifndef CAIRN_AGENT_AGENT_CONF_H
#define CAIRN_AGENT_AGENT_CONF_H

#include <stddef.h>

#include "agent/agent.h"

/*
 * Parses text[0..len) (name is used in messages) into a fresh conf.
 * Returns the conf, or NULL with every error, one per line, each
 * "FILE:LINE:COL: key 'x': what", in err.  The cookie is resolved here
 * (cookie, cookie_file, or ~/.erlang.cookie) when a connector needs one.
 */
struct agent_conf *agent_conf_parse(const char *name, const char *text,
		    size_t len, char *err, size_t errlen);
/* Reads path and parses it. */
struct agent_conf *agent_conf_load(const char *path, char *err, size_t errlen);

#endif
