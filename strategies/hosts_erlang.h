/*
 * A parser for `.hosts.erlang`, the file net_adm:world/0 reads: a
 * sequence of Erlang terms, each an atom naming a host and ending in a
 * full stop, with % comments:
 *
 *	'db1.example.com'.
 *	localhost.   % this host
 *
 * Only atoms are accepted (net_adm needs atoms); anything else is an
 * error naming line and column.  Pure: text in, hosts out.
 */
#ifndef CAIRN_STRATEGIES_HOSTS_ERLANG_H
#define CAIRN_STRATEGIES_HOSTS_ERLANG_H

#include <stddef.h>

#define HOSTS_ERLANG_MAX_HOSTS	4096
#define HOSTS_ERLANG_MAX_ATOM	255

/*
 * Parses text[0..len).  On success *hosts is a malloc'd array of n
 * malloc'd strings that the caller frees with hosts_erlang_free().  On
 * failure returns CAIRN_ERR_PROTO (or NOMEM / LIMIT), *hosts is NULL and
 * err holds "LINE:COL: what".
 */
int	hosts_erlang_parse(const char *text, size_t len, char ***hosts,
	    size_t *n, char *err, size_t errlen);
void	hosts_erlang_free(char **hosts, size_t n);

#endif
