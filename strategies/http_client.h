/*
 * One HTTP/1.1 GET on the event loop, over TCP or TLS, for the
 * strategies that ask an HTTP service (kubernetes, rancher).  Nothing
 * blocks: the host name goes through the agent's c-ares resolver, the
 * connect and the TLS handshake are non-blocking, and the response is
 * read as it comes (http_resp.h frames it).
 *
 * TLS is OpenSSL's: the server's certificate must chain to the CA file
 * and name the host (SSL_set1_host, or its IP address), at TLS 1.2 or
 * later.  The CA file is read again for every request, so a rotated CA
 * is picked up with no restart.
 *
 * Every request is bounded: `timeout` from the start to the end of the
 * response headers, `idle` between any two reads after them (0: none,
 * for a watch that the server ends itself), and the caller's body
 * callback caps what it keeps.
 */
#ifndef CAIRN_STRATEGIES_HTTP_CLIENT_H
#define CAIRN_STRATEGIES_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct resolv;
struct http_client;

/*
 * Body bytes (borrowed) of a response whose status is status.  0 goes
 * on; a negative CAIRN_ERR_* ends the request with that error.
 */
typedef int http_client_body_fn(void *arg, int status, const uint8_t *p,
    size_t n);
/*
 * The end, exactly once, from the loop (never from inside
 * http_client_get).  err is 0 (a complete response; status is its
 * status) or a CAIRN_ERR_*, with why a short reason for a log line.  The
 * request is freed when this returns: do not cancel it here.
 */
typedef void http_client_done_fn(void *arg, int err, int status,
    const char *why);

struct http_client_opts {
	struct ev_loop		*loop;
	struct resolv		*resolv;
	const char		*host;		/* name or address */
	uint16_t		 port;
	const char		*ca_file;	/* non-NULL: TLS */
	/* The whole request, headers and blank line included. */
	const char		*request;
	uint64_t		 timeout_ms;
	uint64_t		 idle_ms;
	http_client_body_fn	*body;
	http_client_done_fn	*done;
	void			*arg;
};

/* Starts the request (opts and its strings are copied).  NULL on ENOMEM. */
struct http_client	*http_client_get(const struct http_client_opts *);
/* Ends it at once: no callback fires after this.  NULL is fine. */
void			 http_client_cancel(struct http_client *);

/*
 * "%XX" for every byte of s outside RFC 3986's unreserved set, into buf.
 * 0, or CAIRN_ERR_TOO_BIG when buf is too small.
 */
int	http_query_escape(const char *s, char *buf, size_t len);

#endif
