/*
 * EPMD wire codec; see epmd_codec.h for each message's contract.  The
 * acceptance rules follow OTP 25's erts/epmd/src/epmd_srv.c do_read() and
 * do_request(), so a request OTP drops is dropped here too.
 */
#include "epmd/epmd_codec.h"

#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

int
epmd_frame(struct bytes_view in, struct bytes_view *payload, size_t *consumed)
{
	struct bytes_r r;
	uint16_t n;

	bytes_r_init(&r, in.p, in.len);
	if (bytes_get_u16be(&r, &n) != 0)
		return CAIRN_ERR_NEED_MORE;
	if (n == 0)
		return CAIRN_ERR_PROTO;
	if ((size_t)n + 2 >= EPMD_INBUF_SIZE)
		return CAIRN_ERR_TOO_BIG;
	if (bytes_get_view(&r, n, payload) != 0)
		return CAIRN_ERR_NEED_MORE;
	*consumed = (size_t)n + 2;
	return 0;
}

/*
 * ALIVE2_REQ:
 *
 *	1    2     1         1         2        2        2      n     2      m
 *	'x' port nodetype protocol highvsn lowvsn namelen name extralen extra
 */
static int
epmd_decode_alive2(struct bytes_r *r, struct epmd_node_info *a,
    const char **why)
{
	size_t i;

	/* OTP: "bsize <= 13": at least one byte of name or extra. */
	if (bytes_r_left(r) + 1 <= 13) {
		*why = "packet too small for request ALIVE2_REQ";
		return CAIRN_ERR_PROTO;
	}
	bytes_get_u16be(r, &a->port);
	bytes_get_u8(r, &a->nodetype);
	bytes_get_u8(r, &a->protocol);
	bytes_get_u16be(r, &a->highvsn);
	bytes_get_u16be(r, &a->lowvsn);
	if (bytes_get_view16(r, &a->name) != 0 || bytes_r_left(r) < 2) {
		*why = "node name size error in ALIVE2_REQ";
		return CAIRN_ERR_PROTO;
	}
	if (bytes_get_view16(r, &a->extra) != 0) {
		*why = "extra info size error in ALIVE2_REQ";
		return CAIRN_ERR_PROTO;
	}
	for (i = 0; i < a->name.len; i++) {
		if (a->name.p[i] == '\0') {
			*why = "node name contains ascii 0 in ALIVE2_REQ";
			return CAIRN_ERR_PROTO;
		}
	}
	/* Bytes after extra are ignored, as OTP does. */
	return 0;
}

static int
epmd_decode_port2(struct bytes_r *r, struct bytes_view *name,
    const char **why)
{
	struct bytes_view v = bytes_r_rest(r);
	long chars;

	if (v.len > 0 && v.p[v.len - 1] == '\0')
		v.len--;
	if (v.len == 0) {
		*why = "packet too small for request PORT2_REQ";
		return CAIRN_ERR_PROTO;
	}
	if (memchr(v.p, '\0', v.len) != NULL) {
		*why = "node name contains ascii 0 in PORT2_REQ";
		return CAIRN_ERR_PROTO;
	}
	/*
	 * OTP calls verify_utf8(name, bsize, 0), which reads one byte past
	 * the name: the NUL there counts as a character, so a lookup takes
	 * at most 254 characters and a 255-character name (which ALIVE2
	 * accepts) cannot be looked up.  Wire-visible: do not change.
	 */
	chars = utf8_count(v.p, v.len);
	if (chars < 1 || chars + 1 > EPMD_MAX_NAME_CHARS) {
		*why = "invalid node name in PORT2_REQ";
		return CAIRN_ERR_PROTO;
	}
	*name = v;
	return 0;
}

static int
epmd_decode_stop(struct bytes_r *r, struct bytes_view *name, const char **why)
{
	struct bytes_view v = bytes_r_rest(r);
	const uint8_t *nul;

	if (v.len == 0) {
		*why = "packet too small for request STOP_REQ";
		return CAIRN_ERR_PROTO;
	}
	/* OTP compares C strings: the name ends at the first NUL. */
	if ((nul = memchr(v.p, '\0', v.len)) != NULL)
		v.len = (size_t)(nul - v.p);
	*name = v;
	return 0;
}

int
epmd_decode_req(struct bytes_view payload, struct epmd_req *out,
    const char **why)
{
	struct bytes_r r;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	memset(out, 0, sizeof(*out));
	bytes_r_init(&r, payload.p, payload.len);
	if (bytes_get_u8(&r, &out->tag) != 0) {
		*why = "empty request";
		return CAIRN_ERR_PROTO;
	}
	switch (out->tag) {
	case EPMD_ALIVE2_REQ:
		return epmd_decode_alive2(&r, &out->alive, why);
	case EPMD_PORT2_REQ:
		return epmd_decode_port2(&r, &out->name, why);
	case EPMD_STOP_REQ:
		return epmd_decode_stop(&r, &out->name, why);
	case EPMD_NAMES_REQ:
	case EPMD_DUMP_REQ:
	case EPMD_KILL_REQ:
		return 0;
	case EPMD_WATCH_REQ:
		if (bytes_get_u8(&r, &out->version) != 0 ||
		    out->version != EPMD_WATCH_VERSION) {
			*why = "WATCH_REQ: unknown version";
			return CAIRN_ERR_PROTO;
		}
		return 0;
	default:
		*why = "got garbage";
		return CAIRN_ERR_PROTO;
	}
}

int
epmd_check_alive2(const struct epmd_node_info *a, const char **why)
{
	long chars;
	static const char *unused;

	if (why == NULL)
		why = &unused;
	if (a->name.len == 0) {
		*why = "empty node name";
		return CAIRN_ERR_INVAL;
	}
	if (a->name.len > EPMD_MAXSYMLEN) {
		*why = "node name is too long";
		return CAIRN_ERR_INVAL;
	}
	chars = utf8_count(a->name.p, a->name.len);
	if (chars < 0) {
		*why = "invalid node name encoding";
		return CAIRN_ERR_INVAL;
	}
	if (chars > EPMD_MAX_NAME_CHARS) {
		*why = "node name is too long";
		return CAIRN_ERR_INVAL;
	}
	if (a->extra.len > EPMD_MAXSYMLEN) {
		*why = "extra data is too long";
		return CAIRN_ERR_INVAL;
	}
	return 0;
}

int
epmd_encode_alive2_resp(struct bytes_w *w, uint8_t result, uint32_t creation,
    uint16_t highvsn)
{
	if (highvsn >= 6) {
		bytes_put_u8(w, EPMD_ALIVE2_X_RESP);
		bytes_put_u8(w, result);
		bytes_put_u32be(w, creation);
	} else {
		bytes_put_u8(w, EPMD_ALIVE2_RESP);
		bytes_put_u8(w, result);
		bytes_put_u16be(w, (uint16_t)creation);
	}
	return w->err;
}

/*
 * PORT2_RESP, success:
 *
 *	1   1      2     1        1        2       2       2      n    2      m
 *	'w' 0    port nodetype protocol highvsn lowvsn namelen name elen extra
 */
int
epmd_encode_port2_resp(struct bytes_w *w, const struct epmd_node_info *a)
{
	bytes_put_u8(w, EPMD_PORT2_RESP);
	bytes_put_u8(w, 0);
	bytes_put_u16be(w, a->port);
	bytes_put_u8(w, a->nodetype);
	bytes_put_u8(w, a->protocol);
	bytes_put_u16be(w, a->highvsn);
	bytes_put_u16be(w, a->lowvsn);
	bytes_put_u16be(w, (uint16_t)a->name.len);
	bytes_put_view(w, a->name);
	bytes_put_u16be(w, (uint16_t)a->extra.len);
	bytes_put_view(w, a->extra);
	return w->err;
}

int
epmd_encode_port2_err(struct bytes_w *w)
{
	bytes_put_u8(w, EPMD_PORT2_RESP);
	bytes_put_u8(w, 1);
	return w->err;
}

int
epmd_encode_names_head(struct bytes_w *w, uint32_t epmd_port)
{
	return bytes_put_u32be(w, epmd_port);
}

int
epmd_encode_names_line(struct bytes_w *w, struct bytes_view name,
    unsigned port)
{
	bytes_put_str(w, "name ");
	bytes_put_view(w, name);
	return bytes_printf(w, " at port %u\n", port);
}

int
epmd_encode_dump_active(struct bytes_w *w, struct bytes_view name,
    unsigned port, int fd)
{
	bytes_put_str(w, "active name     <");
	bytes_put_view(w, name);
	bytes_printf(w, "> at port %u, fd = %d\n", port, fd);
	return bytes_put_u8(w, 0);
}

int
epmd_encode_dump_unused(struct bytes_w *w, struct bytes_view name,
    unsigned port, int fd)
{
	bytes_put_str(w, "old/unused name <");
	bytes_put_view(w, name);
	bytes_printf(w, ">, port = %u, fd = %d \n", port, fd);
	return bytes_put_u8(w, 0);
}

int
epmd_encode_alive2_req(struct bytes_w *w, const struct epmd_node_info *a)
{
	size_t len = 13 + a->name.len + a->extra.len;

	if (a->name.len > 0xffff || a->extra.len > 0xffff || len > 0xffff)
		return CAIRN_ERR_TOO_BIG;
	bytes_put_u16be(w, (uint16_t)len);
	bytes_put_u8(w, EPMD_ALIVE2_REQ);
	bytes_put_u16be(w, a->port);
	bytes_put_u8(w, a->nodetype);
	bytes_put_u8(w, a->protocol);
	bytes_put_u16be(w, a->highvsn);
	bytes_put_u16be(w, a->lowvsn);
	bytes_put_u16be(w, (uint16_t)a->name.len);
	bytes_put_view(w, a->name);
	bytes_put_u16be(w, (uint16_t)a->extra.len);
	bytes_put_view(w, a->extra);
	return w->err;
}

int
epmd_encode_port2_req(struct bytes_w *w, struct bytes_view name)
{
	if (name.len + 1 > 0xffff)
		return CAIRN_ERR_TOO_BIG;
	bytes_put_u16be(w, (uint16_t)(name.len + 1));
	bytes_put_u8(w, EPMD_PORT2_REQ);
	return bytes_put_view(w, name);
}

int
epmd_encode_simple_req(struct bytes_w *w, uint8_t tag)
{
	bytes_put_u16be(w, 1);
	return bytes_put_u8(w, tag);
}

int
epmd_encode_stop_req(struct bytes_w *w, struct bytes_view name)
{
	if (name.len + 1 > 0xffff)
		return CAIRN_ERR_TOO_BIG;
	bytes_put_u16be(w, (uint16_t)(name.len + 1));
	bytes_put_u8(w, EPMD_STOP_REQ);
	return bytes_put_view(w, name);
}

int
epmd_encode_watch_req(struct bytes_w *w)
{
	bytes_put_u16be(w, 2);
	bytes_put_u8(w, EPMD_WATCH_REQ);
	return bytes_put_u8(w, EPMD_WATCH_VERSION);
}

int
epmd_encode_watch_ack(struct bytes_w *w)
{
	bytes_put_u8(w, EPMD_WATCH_REQ);
	return bytes_put_u8(w, EPMD_WATCH_VERSION);
}

/* A kind with its name rule: 1 named, 0 the bare '=', -1 unknown. */
static int
epmd_watch_kind(uint8_t kind)
{
	if (kind == EPMD_WATCH_ADDED || kind == EPMD_WATCH_REMOVED)
		return 1;
	return kind == EPMD_WATCH_SYNCED ? 0 : -1;
}

int
epmd_encode_watch_event(struct bytes_w *w, uint8_t kind, uint16_t port,
    struct bytes_view name)
{
	int named = epmd_watch_kind(kind);

	if (named < 0 || (named && (name.len == 0 ||
	    name.len > EPMD_MAXSYMLEN)) || (!named && (name.len != 0 ||
	    port != 0)))
		return CAIRN_ERR_INVAL;
	bytes_put_u8(w, kind);
	bytes_put_u16be(w, port);
	bytes_put_u16be(w, (uint16_t)name.len);
	return bytes_put_view(w, name);
}

int
epmd_decode_watch_ack(struct bytes_view in, size_t *consumed)
{
	struct bytes_r r;
	uint8_t tag, version;
	int rc;

	bytes_r_init(&r, in.p, in.len);
	if ((rc = bytes_get_u8(&r, &tag)) != 0)
		return rc;
	if (tag != EPMD_WATCH_REQ)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u8(&r, &version)) != 0)
		return rc;
	if (version != EPMD_WATCH_VERSION)
		return CAIRN_ERR_PROTO;
	*consumed = r.off;
	return 0;
}

int
epmd_decode_watch_event(struct bytes_view in, struct epmd_watch_event *ev,
    size_t *consumed)
{
	struct bytes_r r;
	uint16_t len;
	int named, rc;

	bytes_r_init(&r, in.p, in.len);
	memset(ev, 0, sizeof(*ev));
	if ((rc = bytes_get_u8(&r, &ev->kind)) != 0)
		return rc;
	if ((named = epmd_watch_kind(ev->kind)) < 0)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u16be(&r, &ev->port)) != 0 ||
	    (rc = bytes_get_u16be(&r, &len)) != 0)
		return rc;
	/* Checked before the name arrives: a bad length never waits. */
	if ((named && (len == 0 || len > EPMD_MAXSYMLEN)) ||
	    (!named && (len != 0 || ev->port != 0)))
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_view(&r, len, &ev->name)) != 0)
		return rc;
	if (memchr(ev->name.p, '\0', ev->name.len) != NULL)
		return CAIRN_ERR_PROTO;
	*consumed = r.off;
	return 0;
}

int
epmd_decode_alive2_resp(struct bytes_view in, uint8_t *result,
    uint32_t *creation, size_t *consumed)
{
	struct bytes_r r;
	uint8_t tag;
	uint16_t c16;
	int rc;

	bytes_r_init(&r, in.p, in.len);
	if ((rc = bytes_get_u8(&r, &tag)) != 0)
		return rc;
	if (tag != EPMD_ALIVE2_RESP && tag != EPMD_ALIVE2_X_RESP)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u8(&r, result)) != 0)
		return rc;
	if (tag == EPMD_ALIVE2_X_RESP) {
		if ((rc = bytes_get_u32be(&r, creation)) != 0)
			return rc;
	} else {
		if ((rc = bytes_get_u16be(&r, &c16)) != 0)
			return rc;
		*creation = c16;
	}
	*consumed = r.off;
	return 0;
}

int
epmd_decode_port2_resp(struct bytes_view in, uint8_t *result,
    struct epmd_node_info *a, size_t *consumed)
{
	struct bytes_r r;
	uint8_t tag;
	int rc;

	bytes_r_init(&r, in.p, in.len);
	if ((rc = bytes_get_u8(&r, &tag)) != 0)
		return rc;
	if (tag != EPMD_PORT2_RESP)
		return CAIRN_ERR_PROTO;
	if ((rc = bytes_get_u8(&r, result)) != 0)
		return rc;
	if (*result != 0) {
		*consumed = r.off;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	if ((rc = bytes_get_u16be(&r, &a->port)) != 0 ||
	    (rc = bytes_get_u8(&r, &a->nodetype)) != 0 ||
	    (rc = bytes_get_u8(&r, &a->protocol)) != 0 ||
	    (rc = bytes_get_u16be(&r, &a->highvsn)) != 0 ||
	    (rc = bytes_get_u16be(&r, &a->lowvsn)) != 0 ||
	    (rc = bytes_get_view16(&r, &a->name)) != 0 ||
	    (rc = bytes_get_view16(&r, &a->extra)) != 0)
		return rc;
	*consumed = r.off;
	return 0;
}

int
epmd_parse_names_line(struct bytes_view line, struct bytes_view *name,
    uint16_t *port)
{
	static const char pre[] = "name ", mid[] = " at port ";
	size_t i, end;
	unsigned long p = 0;

	if (line.len < sizeof(pre) - 1 + 1 + sizeof(mid) - 1 + 1 ||
	    memcmp(line.p, pre, sizeof(pre) - 1) != 0)
		return CAIRN_ERR_PROTO;
	/* The port is the digits after the last " at port ": a name may
	 * itself contain that text. */
	end = line.len;
	i = end;
	while (i > 0 && line.p[i - 1] >= '0' && line.p[i - 1] <= '9')
		i--;
	if (i == end || end - i > 5)
		return CAIRN_ERR_PROTO;
	if (i < sizeof(pre) - 1 + sizeof(mid) - 1 + 1 ||
	    memcmp(line.p + i - (sizeof(mid) - 1), mid, sizeof(mid) - 1) != 0)
		return CAIRN_ERR_PROTO;
	for (size_t k = i; k < end; k++)
		p = p * 10 + (unsigned long)(line.p[k] - '0');
	if (p > 65535)
		return CAIRN_ERR_PROTO;
	name->p = line.p + sizeof(pre) - 1;
	name->len = i - (sizeof(mid) - 1) - (sizeof(pre) - 1);
	*port = (uint16_t)p;
	return 0;
}
