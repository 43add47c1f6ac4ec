/*
 * A small read-only HTTP endpoint on the program's libev loop, for
 * metrics, health probes, a JSON API and a status page.  Both the broker
 * and cairn-agent embed one (off unless `http_listen` is set).
 *
 * It is libmicrohttpd (Debian's libmicrohttpd-dev) in external-event
 * mode: MHD_USE_EPOLL with no MHD thread; one ev_io watches MHD's epoll
 * fd and one ev_timer follows MHD_get_timeout(), and both call
 * MHD_run().  So requests are served on the loop, between packets, and
 * the handler may read any of the program's state without a lock.  Why
 * libmicrohttpd: it is packaged, small, has no threads of its own in
 * this mode, and already bounds what a client can make it hold (a
 * connection limit, a per-address limit, a per-connection memory pool
 * that caps the request line and headers, an idle timeout).
 *
 * What it does not do: request bodies (anything but GET and HEAD gets
 * 405), keep any state per client, log per request (MHD's own error
 * log is off: a client's mistake costs no log line).
 */
#ifndef CAIRN_COMMON_HTTP_H
#define CAIRN_COMMON_HTTP_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

struct ev_loop;
struct http;

/* Defaults of the bounds (config keys http_max_connections, ...). */
#define HTTP_DEFAULT_MAX_CONNECTIONS	32
#define HTTP_DEFAULT_MAX_PER_ADDR	8
#define HTTP_DEFAULT_TIMEOUT_MS		10000
/* Request line and headers of one request; past it MHD answers 431. */
#define HTTP_DEFAULT_MAX_REQUEST	16384
/* A reply body may not grow past this (the status page is the largest). */
#define HTTP_MAX_REPLY			(4u * 1024 * 1024)

struct http_reply {
	int		 hr_status;	/* 200 unless the handler says */
	const char	*hr_type;	/* Content-Type; static storage */
	struct bytes_w	 hr_body;	/* growing up to HTTP_MAX_REPLY */
};

/*
 * Serves one GET (or HEAD) of path (the URL's path, without the query
 * string; borrowed).  Fills r: status, content type, body.  A handler
 * that returns -1, or whose body hit its cap, gets a 500.
 */
typedef int	(*http_handler_cb)(void *arg, const char *path,
		    struct http_reply *r);
/*
 * Checks HTTP basic credentials (borrowed for the call): 1 good, 0 not.
 */
typedef int	(*http_auth_cb)(void *arg, const char *user,
		    const char *password);

struct http_conf {
	unsigned	 hc_max_connections;
	unsigned	 hc_max_per_addr;
	uint64_t	 hc_timeout_ms;		/* idle, per connection */
	size_t		 hc_max_request;	/* request line and headers */
	http_auth_cb	 hc_auth;		/* NULL: no password asked */
	void		*hc_auth_arg;
	const char	*hc_realm;		/* for WWW-Authenticate */
	/* Paths served without auth, space-separated (probes); NULL: none. */
	const char	*hc_open_paths;
};

/* Fills *c with the defaults above and no auth. */
void		 http_conf_defaults(struct http_conf *c);
/*
 * Listens on host:port (numeric address; port 0: any) and serves on
 * loop with handler.  Borrows loop, the args and c's strings; copies c
 * (hc_timeout_ms is rounded up to whole seconds: MHD counts in them).
 * NULL with the reason in err.
 */
struct http	*http_new(struct ev_loop *loop, const char *host, uint16_t port,
		    const struct http_conf *c, http_handler_cb handler,
		    void *arg, char *err, size_t errlen);
/* The bound port (for port 0). */
uint16_t	 http_port(const struct http *);
/* Closes every connection and the listener, frees.  Accepts NULL. */
void		 http_free(struct http *);

/*
 * Prometheus text format helpers: a metric's HELP and TYPE lines, and a
 * label value escaped as the exposition format wants (\\, \", \n).
 */
int		 http_prom_head(struct bytes_w *w, const char *name,
		    const char *type, const char *help);
int		 http_prom_label(struct bytes_w *w, const char *value);

#endif
