/*
 * The HTTP/1.1 response reader (http_resp.h).  A line-at-a-time state
 * machine: status and header lines, chunk-size lines and trailers go
 * through the fixed line buffer; body and chunk bytes go straight to the
 * callback, never copied.
 */
#include "strategies/http_resp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

void
http_resp_init(struct http_resp *r, http_body_fn *body, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->hr_state = HTTP_S_STATUS;
	r->hr_length = -1;
	r->hr_body = body;
	r->hr_arg = arg;
}

static int
http_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "HTTP/1.x NNN reason" */
static int
http_status_line(struct http_resp *r, const char *l, size_t len)
{
	if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 ||
	    (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return CAIRN_ERR_PROTO;
	if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' ||
	    l[11] < '0' || l[11] > '9' || (len > 12 && l[12] != ' '))
		return CAIRN_ERR_PROTO;
	r->hr_status = (l[9] - '0') * 100 + (l[10] - '0') * 10 +
	    (l[11] - '0');
	r->hr_nheaders = 0;
	r->hr_chunked = 0;
	r->hr_length = -1;
	r->hr_no_body = r->hr_status == 204 || r->hr_status == 304;
	return 0;
}

static void
http_trim(const char **v, size_t *vlen)
{
	while (*vlen > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vlen)--;
	}
	while (*vlen > 0 && ((*v)[*vlen - 1] == ' ' ||
	    (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
}

static int
http_header_line(struct http_resp *r, const char *l, size_t len)
{
	const char *colon, *v;
	size_t nlen, vlen, i;
	uint64_t cl;

	if (++r->hr_nheaders > HTTP_MAX_HEADERS)
		return CAIRN_ERR_TOO_BIG;
	/* No obsolete line folding, no space before the colon. */
	if ((colon = memchr(l, ':', len)) == NULL || colon == l)
		return CAIRN_ERR_PROTO;
	nlen = (size_t)(colon - l);
	for (i = 0; i < nlen; i++)
		if (!http_tchar((unsigned char)l[i]))
			return CAIRN_ERR_PROTO;
	v = colon + 1;
	vlen = len - nlen - 1;
	http_trim(&v, &vlen);
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return CAIRN_ERR_PROTO;
	if (r->hr_state == HTTP_S_TRAILER)
		return 0;	/* trailers carry no framing */
	if (nlen == 14 && strncasecmp(l, "content-length", 14) == 0) {
		if (vlen == 0 || vlen > 15)
			return CAIRN_ERR_PROTO;
		for (cl = 0, i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return CAIRN_ERR_PROTO;
			cl = cl * 10 + (uint64_t)(v[i] - '0');
		}
		/* Two different lengths: a smuggling attempt or a bug. */
		if (r->hr_length >= 0 && (uint64_t)r->hr_length != cl)
			return CAIRN_ERR_PROTO;
		r->hr_length = (int64_t)cl;
	} else if (nlen == 17 &&
	    strncasecmp(l, "transfer-encoding", 17) == 0) {
		/* Only "chunked" is ours; anything layered under it is a
		 * coding we never asked for. */
		if (vlen != 7 || strncasecmp(v, "chunked", 7) != 0 ||
		    r->hr_chunked)
			return CAIRN_ERR_PROTO;
		r->hr_chunked = 1;
	}
	return 0;
}

/* The blank line after the headers: choose the body's framing. */
static int
http_headers_done(struct http_resp *r)
{
	if (r->hr_status < 200) {
		/* An interim response: the real one follows. */
		r->hr_status = 0;
		r->hr_state = HTTP_S_STATUS;
		return 0;
	}
	if (r->hr_no_body) {
		r->hr_state = HTTP_S_DONE;
		return 0;
	}
	if (r->hr_chunked) {
		/* RFC 9112 6.3: both is an error a client may refuse. */
		if (r->hr_length >= 0)
			return CAIRN_ERR_PROTO;
		r->hr_state = HTTP_S_CHUNK_SIZE;
	} else if (r->hr_length >= 0) {
		r->hr_left = (uint64_t)r->hr_length;
		r->hr_state = r->hr_left > 0 ? HTTP_S_BODY : HTTP_S_DONE;
	} else
		r->hr_state = HTTP_S_BODY_EOF;
	return 0;
}

/* "1a2b;ext=x" */
static int
http_chunk_size(struct http_resp *r, const char *l, size_t len)
{
	uint64_t n = 0;
	size_t i;
	int c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)l[i];
		if (c == ';' || c == ' ' || c == '\t')
			break;
		if (i >= 13)
			return CAIRN_ERR_TOO_BIG;
		if (c >= '0' && c <= '9')
			n = n * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			n = n * 16 + (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			n = n * 16 + (uint64_t)(c - 'A' + 10);
		else
			return CAIRN_ERR_PROTO;
	}
	if (i == 0)
		return CAIRN_ERR_PROTO;
	r->hr_left = n;
	r->hr_state = n > 0 ? HTTP_S_CHUNK_DATA : HTTP_S_TRAILER;
	return 0;
}

static int
http_line(struct http_resp *r, char *l, size_t len)
{
	switch (r->hr_state) {
	case HTTP_S_STATUS:
		if (len == 0 && r->hr_status == 0)
			return 0;	/* RFC 9112 2.2: ignore a leading CRLF */
		if (http_status_line(r, l, len) != 0)
			return CAIRN_ERR_PROTO;
		r->hr_state = HTTP_S_HEADER;
		return 0;
	case HTTP_S_HEADER:
		if (len == 0)
			return http_headers_done(r);
		return http_header_line(r, l, len);
	case HTTP_S_CHUNK_SIZE:
		return http_chunk_size(r, l, len);
	case HTTP_S_CHUNK_END:
		if (len != 0)
			return CAIRN_ERR_PROTO;
		r->hr_state = HTTP_S_CHUNK_SIZE;
		return 0;
	case HTTP_S_TRAILER:
		if (len == 0) {
			r->hr_state = HTTP_S_DONE;
			return 0;
		}
		return http_header_line(r, l, len);
	default:
		return CAIRN_ERR_PROTO;
	}
}

int
http_resp_feed(struct http_resp *r, const uint8_t *p, size_t n, size_t *used)
{
	const uint8_t *nl;
	size_t off = 0, take;
	int rc;

	*used = 0;
	if (r->hr_state == HTTP_S_ERROR)
		return CAIRN_ERR_PROTO;
	while (r->hr_state != HTTP_S_DONE) {
		if (off == n) {
			*used = off;
			return CAIRN_ERR_NEED_MORE;
		}
		switch (r->hr_state) {
		case HTTP_S_BODY:
		case HTTP_S_CHUNK_DATA:
		case HTTP_S_BODY_EOF:
			take = n - off;
			if (r->hr_state != HTTP_S_BODY_EOF &&
			    (uint64_t)take > r->hr_left)
				take = (size_t)r->hr_left;
			if (r->hr_body != NULL &&
			    (rc = r->hr_body(r->hr_arg, p + off, take)) != 0) {
				r->hr_state = HTTP_S_ERROR;
				*used = off + take;
				return rc;
			}
			off += take;
			if (r->hr_state == HTTP_S_BODY_EOF)
				break;
			r->hr_left -= take;
			if (r->hr_left == 0)
				r->hr_state = r->hr_state == HTTP_S_BODY ?
				    HTTP_S_DONE : HTTP_S_CHUNK_END;
			break;
		default:
			nl = memchr(p + off, '\n', n - off);
			take = nl != NULL ? (size_t)(nl - (p + off)) : n - off;
			if (r->hr_linelen + take >= sizeof(r->hr_line)) {
				r->hr_state = HTTP_S_ERROR;
				return CAIRN_ERR_TOO_BIG;
			}
			memcpy(r->hr_line + r->hr_linelen, p + off, take);
			r->hr_linelen += take;
			off += take;
			if (nl == NULL)
				break;
			off++;		/* the '\n' */
			take = r->hr_linelen;
			r->hr_linelen = 0;
			if (take > 0 && r->hr_line[take - 1] == '\r')
				take--;
			if (memchr(r->hr_line, '\0', take) != NULL ||
			    memchr(r->hr_line, '\r', take) != NULL) {
				r->hr_state = HTTP_S_ERROR;
				return CAIRN_ERR_PROTO;
			}
			r->hr_line[take] = '\0';
			if ((rc = http_line(r, r->hr_line, take)) != 0) {
				r->hr_state = HTTP_S_ERROR;
				return rc;
			}
			break;
		}
	}
	*used = off;
	return 0;
}

int
http_resp_eof(struct http_resp *r)
{
	if (r->hr_state == HTTP_S_BODY_EOF)
		r->hr_state = HTTP_S_DONE;
	return r->hr_state == HTTP_S_DONE ? 0 : CAIRN_ERR_CLOSED;
}

void
http_lines_init(struct http_lines *l, size_t max)
{
	bytes_w_init(&l->hl_buf, max + 1);
	l->hl_max = max;
}

void
http_lines_fini(struct http_lines *l)
{
	bytes_w_fini(&l->hl_buf);
}

int
http_lines_feed(struct http_lines *l, const uint8_t *p, size_t n,
    http_line_fn *fn, void *arg)
{
	const uint8_t *nl;
	size_t take, len;
	char *line;
	int rc;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		take = nl != NULL ? (size_t)(nl - p) : n;
		if (l->hl_buf.len + take > l->hl_max)
			return CAIRN_ERR_TOO_BIG;
		if (bytes_put(&l->hl_buf, p, take) != 0)
			return CAIRN_ERR_NOMEM;
		p += take;
		n -= take;
		if (nl == NULL)
			break;
		p++;
		n--;
		len = l->hl_buf.len;
		line = (char *)l->hl_buf.buf;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len > 0 && memchr(line, '\0', len) != NULL)
			return CAIRN_ERR_PROTO;
		if (len > 0) {
			/* Room for the NUL: the cap is hl_max + 1. */
			if (bytes_w_reserve(&l->hl_buf, 1) != 0)
				return CAIRN_ERR_NOMEM;
			line = (char *)l->hl_buf.buf;
			line[len] = '\0';
			rc = fn(arg, line, len);
		} else
			rc = 0;
		bytes_w_reset(&l->hl_buf);
		if (rc != 0)
			return rc;
	}
	return 0;
}
