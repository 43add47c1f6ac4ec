/*
 * Name resolution on the event loop: c-ares driven by libev.
 *
 * One `struct resolv` holds one c-ares channel; a process makes one and
 * passes it down.  The channel's sockets (c-ares may use several: UDP
 * per server, TCP on truncation) each get an ev_io, and one ev_timer
 * follows ares_timeout().  Nothing here blocks; /etc/hosts is read by
 * c-ares itself, which is a small local file.
 *
 * Every query answers exactly once, on a later loop iteration, never
 * from inside the call that started it: a numeric address, a hosts-file
 * hit and a DNS answer all take the same path.  A query answers with
 * CAIRN_ERR_TIMEOUT at the latest when its deadline passes, whatever
 * c-ares is doing.  After resolv_cancel() or resolv_free() its callback
 * never fires.
 *
 * Callbacks run from the loop, outside any c-ares call, so they may
 * start or cancel other queries and may even call resolv_free().
 *
 * This module is the one place that knows about c-ares; it lives in its
 * own library (cairn_resolv) so that the rest of common/ stays libc-only.
 */
#ifndef CAIRN_COMMON_RESOLV_H
#define CAIRN_COMMON_RESOLV_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct resolv;
struct resolv_query;

/* A DNS name is at most 253 characters; the target field holds it. */
#define RESOLV_NAME_MAX		256
/* Most addresses one query reports; the rest are dropped. */
#define RESOLV_MAX_ADDRS	64
/* Most SRV records one query reports; the rest are dropped. */
#define RESOLV_MAX_SRV		64

/* Defaults of struct resolv_opts (zero fields take them). */
#define RESOLV_DEFAULT_TIMEOUT_MS	2000	/* first try; c-ares doubles it */
#define RESOLV_DEFAULT_TRIES		2
#define RESOLV_DEFAULT_DEADLINE_MS	10000

struct resolv_opts {
	/*
	 * Comma-separated name servers, each "ip", "ip:port" or
	 * "[ipv6]:port" (c-ares' ares_set_servers_ports_csv syntax).  NULL
	 * keeps /etc/resolv.conf.  Borrowed for the call only.
	 */
	const char	*servers;
	int		 timeout_ms;	/* first try per server; 0: default */
	int		 tries;		/* rounds over the servers; 0: default */
	/* Whole-query bound, retries and search domains included. */
	int		 deadline_ms;	/* 0: default */
	/*
	 * Do not append resolv.conf's search domains: names are looked up
	 * as given (Kubernetes FQDNs, tests).
	 */
	int		 no_search;
};

/* One SRV record.  target is NUL-terminated. */
struct resolv_srv {
	uint16_t	priority;
	uint16_t	weight;
	uint16_t	port;
	char		target[RESOLV_NAME_MAX];
};

/*
 * Address answer.  err is 0, CAIRN_ERR_DNS (no such name, no address of
 * the family, server failure), CAIRN_ERR_TIMEOUT or CAIRN_ERR_NOMEM.  On
 * 0, addrs[0..n) holds n >= 1 distinct addresses with port 0, in the
 * order the answer gave them; on error addrs is NULL and n is 0.  addrs
 * is borrowed for the duration of the call: copy what you keep.
 */
typedef void (*resolv_addr_cb)(void *arg, int err,
    const struct sockaddr_storage *addrs, size_t n);

/*
 * SRV answer.  err as for resolv_addr_cb.  On 0, recs[0..n) holds
 * n >= 1 records sorted by priority (lowest first), then by weight
 * (highest first), then in answer order.  recs is borrowed for the
 * duration of the call.
 */
typedef void (*resolv_srv_cb)(void *arg, int err,
    const struct resolv_srv *recs, size_t n);

/*
 * Makes a resolver on loop.  opts may be NULL (all defaults).  Returns
 * NULL on failure: c-ares could not start (ENOMEM or its config), or
 * opts->servers did not parse (errno EINVAL).  The loop is borrowed and
 * must outlive the resolver.  Free with resolv_free().
 */
struct resolv	*resolv_new(struct ev_loop *loop, const struct resolv_opts *opts);

/*
 * Cancels every pending query (no callback fires), stops every watcher
 * and frees r.  NULL is fine.  Safe from inside a resolv callback.
 */
void		 resolv_free(struct resolv *r);

/*
 * Looks up the addresses of name: A records for AF_INET, AAAA for
 * AF_INET6, both for AF_UNSPEC.  /etc/hosts is consulted before DNS as
 * the system configures it, so "localhost" needs no server.  A numeric
 * address ("127.0.0.1", "::1", "[::1]") answers without DNS, or with
 * CAIRN_ERR_DNS when it is not of family.  Use this also to list every
 * address behind one name (a Kubernetes headless service).
 *
 * name is copied.  Returns a handle valid until cb has returned or until
 * resolv_cancel(); NULL (cb never fires) on a bad argument or no memory.
 * cb fires exactly once, from a later loop iteration.
 */
struct resolv_query *resolv_query_addr(struct resolv *r, const char *name,
		    int family, resolv_addr_cb cb, void *arg);

/*
 * Looks up the SRV records of name (for instance
 * "_erl._tcp.nodes.default.svc.cluster.local").  DNS only.  Handle,
 * copying and callback rules as for resolv_query_addr().
 */
struct resolv_query *resolv_query_srv(struct resolv *r, const char *name,
		    resolv_srv_cb cb, void *arg);

/*
 * Cancels q: its callback never fires and q is invalid afterwards.  NULL
 * is fine, and so is q from inside its own callback (nothing happens).
 * Never pass a handle whose callback has already returned.
 */
void		 resolv_cancel(struct resolv_query *q);

#endif
