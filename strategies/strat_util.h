/*
 * Small helpers the strategies share: the default host part of node
 * names, the local epmd's address, and the epmd port from the
 * environment.  Private to strategies/.
 */
#ifndef CAIRN_STRATEGIES_STRAT_UTIL_H
#define CAIRN_STRATEGIES_STRAT_UTIL_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "strategies/strat.h"

struct ev_loop;
struct resolv;

#define STRAT_DEFAULT_POLL_MS		5000
#define STRAT_DEFAULT_TIMEOUT_MS	2000

/* $ERL_EPMD_PORT, else 4369. */
uint16_t	strat_epmd_port(void);
/* This host's short name, as `erl -sname` uses it (up to the first dot). */
void		strat_short_hostname(char *buf, size_t len);
/*
 * Builds "name@host" for each NAMES entry into one malloc'd block of
 * pointers followed by the strings; *out frees with one free().  Skips
 * names that start with skip_prefix (the agent's own hidden node).
 */
int		strat_node_list(const char *const *names, const size_t *lens,
		    size_t n, const char *host, const char *skip_prefix,
		    char ***out, size_t *nout);

/*
 * The `resolvers:` list of a DNS strategy: for -n, each entry must be an
 * IP address with an optional port (eg is the example named in the
 * error); at start, a resolver of the strategy's own over them (*own
 * set, to free), so that a topology's servers never change what the
 * others ask, or the agent's shared one when the list is empty (*own
 * NULL).  0, or -1 with err set.
 */
void		strat_check_resolvers(const struct conf_strlist *resolvers,
		    const char *eg, strat_conf_err_fn *err, void *arg);
int		strat_resolver(struct ev_loop *loop, struct resolv *shared,
		    const struct conf_strlist *resolvers, uint64_t timeout_ms,
		    struct resolv **own, struct resolv **use, char *err,
		    size_t errlen);

#endif
