/*
 * Bytes: read cursor and write buffer.  See bytes.h for the contracts.
 */
#include "common/bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int
bytes_view_eq_str(struct bytes_view v, const char *s)
{
	size_t n = strlen(s);

	return v.len == n && (n == 0 || memcmp(v.p, s, n) == 0);
}

void
bytes_r_init(struct bytes_r *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p == NULL ? 0 : len;
	r->off = 0;
}

struct bytes_view
bytes_r_rest(const struct bytes_r *r)
{
	return bytes_view_of(r->p + r->off, r->len - r->off);
}

int
bytes_get_u8(struct bytes_r *r, uint8_t *v)
{
	if (bytes_r_left(r) < 1)
		return CAIRN_ERR_NEED_MORE;
	*v = r->p[r->off++];
	return 0;
}

int
bytes_get_u16be(struct bytes_r *r, uint16_t *v)
{
	const uint8_t *p;

	if (bytes_r_left(r) < 2)
		return CAIRN_ERR_NEED_MORE;
	p = r->p + r->off;
	*v = (uint16_t)((p[0] << 8) | p[1]);
	r->off += 2;
	return 0;
}

int
bytes_get_u32be(struct bytes_r *r, uint32_t *v)
{
	const uint8_t *p;

	if (bytes_r_left(r) < 4)
		return CAIRN_ERR_NEED_MORE;
	p = r->p + r->off;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	r->off += 4;
	return 0;
}

int
bytes_get_u64be(struct bytes_r *r, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (bytes_r_left(r) < 8)
		return CAIRN_ERR_NEED_MORE;
	for (i = 0; i < 8; i++)
		x = x << 8 | r->p[r->off + i];
	*v = x;
	r->off += 8;
	return 0;
}

int
bytes_get_view(struct bytes_r *r, size_t n, struct bytes_view *v)
{
	if (bytes_r_left(r) < n)
		return CAIRN_ERR_NEED_MORE;
	v->p = r->p + r->off;
	v->len = n;
	r->off += n;
	return 0;
}

int
bytes_get_view16(struct bytes_r *r, struct bytes_view *v)
{
	size_t save = r->off;
	uint16_t n;
	int rc;

	if ((rc = bytes_get_u16be(r, &n)) != 0)
		return rc;
	if ((rc = bytes_get_view(r, n, v)) != 0) {
		r->off = save;
		return rc;
	}
	return 0;
}

int
bytes_skip(struct bytes_r *r, size_t n)
{
	if (bytes_r_left(r) < n)
		return CAIRN_ERR_NEED_MORE;
	r->off += n;
	return 0;
}

int
bytes_get_varint(struct bytes_r *r, uint32_t *v)
{
	uint32_t x = 0;
	size_t i;
	uint8_t b;

	for (i = 0; i < 4; i++) {
		if (r->off + i >= r->len)
			return CAIRN_ERR_NEED_MORE;
		b = r->p[r->off + i];
		x |= (uint32_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			/* A last group of zero after the first is overlong. */
			if (i > 0 && b == 0)
				return CAIRN_ERR_PROTO;
			*v = x;
			r->off += i + 1;
			return 0;
		}
	}
	return CAIRN_ERR_PROTO;
}

void
bytes_w_init(struct bytes_w *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void
bytes_w_init_fixed(struct bytes_w *w, void *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->max = cap;
	w->fixed = 1;
}

void
bytes_w_fini(struct bytes_w *w)
{
	if (!w->fixed) {
		free(w->buf);
		w->buf = NULL;
		w->cap = 0;
	}
	w->len = 0;
	w->err = 0;
}

void
bytes_w_reset(struct bytes_w *w)
{
	w->len = 0;
	w->err = 0;
}

void
bytes_w_consume(struct bytes_w *w, size_t n)
{
	if (n >= w->len) {
		w->len = 0;
		return;
	}
	memmove(w->buf, w->buf + n, w->len - n);
	w->len -= n;
}

int
bytes_w_reserve(struct bytes_w *w, size_t n)
{
	size_t need, ncap;
	uint8_t *nbuf;

	if (w->err)
		return w->err;
	if (n > SIZE_MAX - w->len || w->len + n > w->max) {
		w->err = CAIRN_ERR_TOO_BIG;
		return w->err;
	}
	need = w->len + n;
	if (need <= w->cap)
		return 0;
	if (w->fixed) {
		w->err = CAIRN_ERR_TOO_BIG;
		return w->err;
	}
	ncap = w->cap ? w->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > w->max)
		ncap = w->max;
	if ((nbuf = realloc(w->buf, ncap)) == NULL) {
		w->err = CAIRN_ERR_NOMEM;
		return w->err;
	}
	w->buf = nbuf;
	w->cap = ncap;
	return 0;
}

int
bytes_put(struct bytes_w *w, const void *p, size_t n)
{
	int rc;

	if ((rc = bytes_w_reserve(w, n)) != 0)
		return rc;
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int
bytes_put_u8(struct bytes_w *w, uint8_t v)
{
	return bytes_put(w, &v, 1);
}

int
bytes_put_u16be(struct bytes_w *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	return bytes_put(w, b, sizeof(b));
}

int
bytes_put_u32be(struct bytes_w *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	return bytes_put(w, b, sizeof(b));
}

int
bytes_put_u64be(struct bytes_w *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
	return bytes_put(w, b, sizeof(b));
}

int
bytes_put_view(struct bytes_w *w, struct bytes_view v)
{
	return bytes_put(w, v.p, v.len);
}

int
bytes_put_str(struct bytes_w *w, const char *s)
{
	return bytes_put(w, s, strlen(s));
}

int
bytes_put_varint(struct bytes_w *w, uint32_t v)
{
	uint8_t b[4];
	size_t n = 0;

	if (w->err)
		return w->err;
	if (v > 268435455u)
		return CAIRN_ERR_INVAL;
	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return bytes_put(w, b, n);
}

int
bytes_printf(struct bytes_w *w, const char *fmt, ...)
{
	va_list ap;
	char *tmp;
	int n, rc;

	if (w->err)
		return w->err;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CAIRN_ERR_INVAL;
	if (n == 0)
		return 0;
	/* Room for the output only: vsnprintf's NUL is not kept. */
	if ((rc = bytes_w_reserve(w, (size_t)n)) != 0)
		return rc;
	if (w->cap - w->len > (size_t)n) {
		va_start(ap, fmt);
		vsnprintf((char *)w->buf + w->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	} else {
		/* The output fills the buffer exactly: the NUL would not
		 * fit, so format on the side. */
		if ((tmp = malloc((size_t)n + 1)) == NULL) {
			w->err = CAIRN_ERR_NOMEM;
			return w->err;
		}
		va_start(ap, fmt);
		vsnprintf(tmp, (size_t)n + 1, fmt, ap);
		va_end(ap);
		memcpy(w->buf + w->len, tmp, (size_t)n);
		free(tmp);
	}
	w->len += (size_t)n;
	return 0;
}

int
bytes_patch_u16be(struct bytes_w *w, size_t off, uint16_t v)
{
	if (off > w->len || w->len - off < 2)
		return CAIRN_ERR_INVAL;
	w->buf[off] = (uint8_t)(v >> 8);
	w->buf[off + 1] = (uint8_t)v;
	return 0;
}
