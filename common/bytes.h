/*
 * Bytes: a bounds-checked read cursor over borrowed memory, and a write
 * buffer that is either fixed (caller storage) or growing up to a cap.
 *
 * Every getter checks what is left first.  On a short read it returns
 * CAIRN_ERR_NEED_MORE and leaves the cursor where it was, so a framer can
 * retry once more bytes arrive; a value that can never become valid (an
 * overlong varint) is CAIRN_ERR_PROTO.  Getters never allocate: views
 * point into the cursor's memory and live as long as it does.
 *
 * Writers return 0 or CAIRN_ERR_NOMEM / CAIRN_ERR_TOO_BIG.  The first
 * failure is also kept in w->err, so an encoder may put many fields and
 * check once at the end; after a failure further puts do nothing.
 *
 * Modelled on OpenBSD's ibuf (lib/libutil/imsg-buffer.c).  No I/O, no
 * logging.
 */
#ifndef CAIRN_COMMON_BYTES_H
#define CAIRN_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed run of bytes. */
struct bytes_view {
	const uint8_t	*p;
	size_t		 len;
};

/* Read cursor: p[0..len) is borrowed, off is the next byte to read. */
struct bytes_r {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

/* Write buffer: buf[0..len) is data; cap is allocated; max is the cap. */
struct bytes_w {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
	int		 fixed;	/* buf is caller storage: never grown or freed */
	int		 err;	/* first error, sticky */
};

static inline struct bytes_view
bytes_view_of(const void *p, size_t len)
{
	struct bytes_view v = { (const uint8_t *)p, len };
	return v;
}

/* Compare a view with a NUL-terminated string: 1 if equal. */
int	bytes_view_eq_str(struct bytes_view, const char *);

void	bytes_r_init(struct bytes_r *, const void *, size_t);

static inline size_t
bytes_r_left(const struct bytes_r *r)
{
	return r->len - r->off;
}

/* The unread rest as a view; does not move the cursor. */
struct bytes_view bytes_r_rest(const struct bytes_r *);

int	bytes_get_u8(struct bytes_r *, uint8_t *);
int	bytes_get_u16be(struct bytes_r *, uint16_t *);
int	bytes_get_u32be(struct bytes_r *, uint32_t *);
int	bytes_get_u64be(struct bytes_r *, uint64_t *);
/* A view of the next n bytes. */
int	bytes_get_view(struct bytes_r *, size_t n, struct bytes_view *);
/* A 16-bit big-endian length, then that many bytes. */
int	bytes_get_view16(struct bytes_r *, struct bytes_view *);
int	bytes_skip(struct bytes_r *, size_t n);
/*
 * MQTT variable byte integer: 1 to 4 bytes, 7 bits each, least
 * significant first.  A fifth continuation byte or a non-minimal
 * encoding (a trailing zero group) is CAIRN_ERR_PROTO.
 */
int	bytes_get_varint(struct bytes_r *, uint32_t *);

/* Growing buffer, never larger than max bytes; nothing is allocated yet. */
void	bytes_w_init(struct bytes_w *, size_t max);
/* Fixed buffer over caller storage buf[0..cap). */
void	bytes_w_init_fixed(struct bytes_w *, void *buf, size_t cap);
/* Frees a growing buffer's memory; the buffer is empty and reusable. */
void	bytes_w_fini(struct bytes_w *);
/* Empties the buffer and clears the sticky error; keeps the memory. */
void	bytes_w_reset(struct bytes_w *);
/* Drops the first n bytes (what a write(2) took). */
void	bytes_w_consume(struct bytes_w *, size_t n);
/* Makes room for n more bytes without writing them. */
int	bytes_w_reserve(struct bytes_w *, size_t n);

int	bytes_put_u8(struct bytes_w *, uint8_t);
int	bytes_put_u16be(struct bytes_w *, uint16_t);
int	bytes_put_u32be(struct bytes_w *, uint32_t);
int	bytes_put_u64be(struct bytes_w *, uint64_t);
int	bytes_put(struct bytes_w *, const void *, size_t);
int	bytes_put_view(struct bytes_w *, struct bytes_view);
int	bytes_put_str(struct bytes_w *, const char *);
/* Values above 268,435,455 are CAIRN_ERR_INVAL. */
int	bytes_put_varint(struct bytes_w *, uint32_t);
int	bytes_printf(struct bytes_w *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Overwrites a 16-bit big-endian value at off, inside [0, len). */
int	bytes_patch_u16be(struct bytes_w *, size_t off, uint16_t);

#endif
