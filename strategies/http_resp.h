/*
 * An HTTP/1.1 response reader, pure: bytes in, status and body out, no
 * I/O and no allocation (the line buffer is inside the struct).  For the
 * strategies that ask an HTTP service (kubernetes, rancher), whose
 * answers are network bytes like any other: every line, header count and
 * chunk size is bounded, and anything HTTP/1.1 (RFC 9112) does not allow
 * is CAIRN_ERR_PROTO.
 *
 * Bodies come framed by Content-Length, by chunked transfer coding (a
 * Kubernetes watch stream), or by the end of the connection.  1xx
 * interim responses are skipped.
 *
 * http_lines splits a body into lines (a watch stream is one JSON object
 * per line), each at most a given length.
 */
#ifndef CAIRN_STRATEGIES_HTTP_RESP_H
#define CAIRN_STRATEGIES_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

/* The longest status, header or chunk-size line. */
#define HTTP_MAX_LINE		8192
/* The most header lines in one response (trailers included). */
#define HTTP_MAX_HEADERS	100

/*
 * Body bytes, borrowed for the call.  0 to go on, or a negative
 * CAIRN_ERR_* that http_resp_feed() returns as it is.
 */
typedef int http_body_fn(void *arg, const uint8_t *p, size_t n);

enum http_resp_state {
	HTTP_S_STATUS,		/* reading the status line */
	HTTP_S_HEADER,		/* reading header lines */
	HTTP_S_BODY,		/* content-length bytes left */
	HTTP_S_BODY_EOF,	/* body until the connection ends */
	HTTP_S_CHUNK_SIZE,	/* a chunk-size line */
	HTTP_S_CHUNK_DATA,	/* chunk bytes left */
	HTTP_S_CHUNK_END,	/* the CRLF after a chunk */
	HTTP_S_TRAILER,		/* trailer lines after the last chunk */
	HTTP_S_DONE,
	HTTP_S_ERROR,
};

struct http_resp {
	enum http_resp_state	 hr_state;
	int			 hr_status;	/* 0 until the status line */
	int			 hr_chunked;
	int			 hr_no_body;	/* 204, 304 */
	int64_t			 hr_length;	/* Content-Length, or -1 */
	uint64_t		 hr_left;	/* of the body or chunk */
	size_t			 hr_nheaders;
	size_t			 hr_linelen;
	http_body_fn		*hr_body;
	void			*hr_arg;
	char			 hr_line[HTTP_MAX_LINE];
};

/* body may be NULL (the body is dropped). */
void	http_resp_init(struct http_resp *, http_body_fn *body, void *arg);
/*
 * Reads n bytes.  *used is how many it took.  Returns 0 when the
 * response is complete (bytes after it are not taken),
 * CAIRN_ERR_NEED_MORE when all were taken and more are needed,
 * CAIRN_ERR_PROTO (not HTTP/1.1), CAIRN_ERR_TOO_BIG (a line or the
 * header count over its cap), or what the body callback returned.  After
 * an error every call returns CAIRN_ERR_PROTO.
 */
int	http_resp_feed(struct http_resp *, const uint8_t *p, size_t n,
	    size_t *used);
/*
 * The connection ended: 0 if that completes the response (a body framed
 * by the end of the connection, or one already complete), else
 * CAIRN_ERR_CLOSED.
 */
int	http_resp_eof(struct http_resp *);

/* Lines of a body; each at most max bytes, without its newline. */
struct http_lines {
	struct bytes_w	hl_buf;
	size_t		hl_max;
};

/* line is NUL-terminated (len excludes the NUL) and may be modified. */
typedef int http_line_fn(void *arg, char *line, size_t len);

void	http_lines_init(struct http_lines *, size_t max);
void	http_lines_fini(struct http_lines *);
/*
 * Splits p[0..n) at '\n' (a '\r' before it is dropped), calling fn for
 * every complete line, empty ones excepted.  0, CAIRN_ERR_TOO_BIG for a
 * line over max (or one holding a NUL: CAIRN_ERR_PROTO), CAIRN_ERR_NOMEM,
 * or fn's own error, which stops the split.
 */
int	http_lines_feed(struct http_lines *, const uint8_t *p, size_t n,
	    http_line_fn *fn, void *arg);

#endif
