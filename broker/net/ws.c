/*
 * MQTT over WebSockets, the pure part (ws.h): the upgrade request and
 * its answer, then frames through wslay over memory.
 *
 * Why these libraries.  The request is parsed by libhttp-parser
 * (node's http_parser): a push parser with no allocation and no I/O,
 * fed whatever a read(2) gave, which is what a handshake under a byte
 * cap and a deadline needs; a hand-rolled HTTP parser is where request
 * smuggling and off-by-ones live.  Frames go through libwslay's event
 * API: it reads and writes through callbacks, so it runs over memory
 * here and over our libev connection (plain or TLS) in client.c.
 * libwebsockets, which mosquitto uses, wants to own the event loop and
 * the sockets (and its own TLS), which would give the broker a second
 * loop; wslay owns nothing.
 *
 * What is checked, and what a failure answers:
 *
 *	malformed HTTP, not GET, not HTTP/1.1+	400
 *	request over wc_max_request bytes	400
 *	no "Upgrade: websocket"			426 (with our version)
 *	Sec-WebSocket-Version not 13		426 (with our version)
 *	no "upgrade" in Connection, no Host,
 *	bad Sec-WebSocket-Key, a subprotocol
 *	list without mqtt or mqttv3.1		400
 *	Origin not in wc_origins		403
 *
 * Header values are kept only for the seven headers that matter, each
 * up to WS_MAX_VALUE bytes, and only until the request is answered;
 * everything else is counted and dropped.
 * The path is not looked at: clients use /mqtt, /ws or /, and
 * mosquitto accepts any.
 */
#include "broker/net/ws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include "common/err.h"

/* RFC 6455 section 1.3; do not change. */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A header name longer than this is none of ours. */
#define WS_MAX_NAME	32

enum ws_hdr {
	WS_H_HOST,
	WS_H_UPGRADE,
	WS_H_CONNECTION,
	WS_H_KEY,
	WS_H_VERSION,
	WS_H_PROTOCOL,
	WS_H_ORIGIN,
	WS_H_COUNT,
	WS_H_NONE = WS_H_COUNT,
};

static const char *const ws_hdr_names[WS_H_COUNT] = {
	"host", "upgrade", "connection", "sec-websocket-key",
	"sec-websocket-version", "sec-websocket-protocol", "origin",
};

/* Headers that may come more than once and are then joined by ", ". */
#define WS_H_LISTS	((1u << WS_H_CONNECTION) | (1u << WS_H_PROTOCOL) | \
	(1u << WS_H_UPGRADE))

struct ws {
	const struct ws_conf	*w_conf;
	enum ws_state		 w_state;
	const char		*w_reason;	/* static; NULL: none */
	int			 w_err;		/* sticky ws_input() result */
	int			 w_status;	/* HTTP status answered */
	const char		*w_proto;	/* "mqtt", "mqttv3.1" or "" */

	/* The upgrade request. */
	http_parser		 w_hp;
	size_t			 w_req_len;
	int			 w_req_done;
	int			 w_in_value;	/* last callback was a value */
	char			 w_name[WS_MAX_NAME + 1];
	size_t			 w_name_len;	/* > WS_MAX_NAME: not ours */
	enum ws_hdr		 w_cur;
	unsigned int		 w_seen;	/* bit per enum ws_hdr */
	const char		*w_bad;		/* a header broke a rule */
	/* The kept headers' values: WS_H_COUNT of them, freed once the
	 * request is answered (an open connection keeps no request). */
	char			(*w_val)[WS_MAX_VALUE + 1];
	size_t			 w_val_len[WS_H_COUNT];

	/* Frames: wslay's context and, during one call, the buffers. */
	wslay_event_context_ptr	 w_ev;
	const uint8_t		*w_in;
	size_t			 w_in_len;
	struct bytes_w		*w_app;
	struct bytes_w		*w_wire;
	int			 w_frame_ctrl;	/* frame being read: control */
	const char		*w_fail;	/* set by a frame callback */
	uint16_t		 w_fail_code;
};

/* ---- the upgrade request ------------------------------------------ */

/* The request is answered: its header values go. */
static void
ws_request_done(struct ws *w)
{
	free(w->w_val);
	w->w_val = NULL;
}

static void
ws_commit_header(struct ws *w)
{
	w->w_name_len = 0;
	w->w_cur = WS_H_NONE;
}

/* The request broke a rule: the first one broken is the reason; the
 * rest of this header is dropped. */
static void
ws_bad_header(struct ws *w, const char *why)
{
	if (w->w_bad == NULL)
		w->w_bad = why;
	w->w_cur = WS_H_NONE;
}

static int
ws_on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct ws *w = hp->data;

	if (w->w_in_value) {
		ws_commit_header(w);
		w->w_in_value = 0;
	}
	if (w->w_name_len <= WS_MAX_NAME) {
		if (len > WS_MAX_NAME - w->w_name_len)
			w->w_name_len = WS_MAX_NAME + 1;
		else {
			memcpy(w->w_name + w->w_name_len, at, len);
			w->w_name_len += len;
		}
	}
	return 0;
}

static int
ws_on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct ws *w = hp->data;
	size_t *vlen;
	char *val;
	int i;

	if (!w->w_in_value) {
		w->w_in_value = 1;
		w->w_cur = WS_H_NONE;
		if (w->w_name_len <= WS_MAX_NAME) {
			for (i = 0; i < WS_H_COUNT; i++)
				if (strlen(ws_hdr_names[i]) == w->w_name_len &&
				    strncasecmp(ws_hdr_names[i], w->w_name,
				    w->w_name_len) == 0)
					break;
			w->w_cur = (enum ws_hdr)i;
		}
		if (w->w_cur == WS_H_NONE)
			return 0;
		vlen = &w->w_val_len[w->w_cur];
		val = w->w_val[w->w_cur];
		if (w->w_seen & (1u << w->w_cur)) {
			if (!(WS_H_LISTS & (1u << w->w_cur))) {
				ws_bad_header(w, "a header repeated");
				return 0;
			}
			if (*vlen + 2 > WS_MAX_VALUE) {
				ws_bad_header(w, "a header value too long");
				return 0;
			}
			memcpy(val + *vlen, ", ", 2);
			*vlen += 2;
		}
		w->w_seen |= 1u << w->w_cur;
	}
	if (w->w_cur == WS_H_NONE)
		return 0;
	vlen = &w->w_val_len[w->w_cur];
	val = w->w_val[w->w_cur];
	if (len > WS_MAX_VALUE - *vlen) {
		ws_bad_header(w, "a header value too long");
		return 0;
	}
	memcpy(val + *vlen, at, len);
	*vlen += len;
	val[*vlen] = '\0';
	return 0;
}

static int
ws_on_message_complete(http_parser *hp)
{
	struct ws *w = hp->data;

	w->w_req_done = 1;
	/* Stop here: what follows is frames (or nothing we answer). */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings ws_hp_settings = {
	.on_header_field = ws_on_header_field,
	.on_header_value = ws_on_header_value,
	.on_message_complete = ws_on_message_complete,
};

/*
 * 1 if the comma-separated list in s has tok (spaces and tabs around
 * items ignored), compared without case when nocase.
 */
static int
ws_list_has(const char *s, const char *tok, int nocase)
{
	size_t n = strlen(tok), len;
	const char *e;

	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		e = s;
		while (*e != '\0' && *e != ',')
			e++;
		len = (size_t)(e - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == n && (nocase ? strncasecmp(s, tok, n) :
		    strncmp(s, tok, n)) == 0)
			return 1;
		s = e;
	}
	return 0;
}

int
ws_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN])
{
	unsigned char raw[24], md[SHA_DIGEST_LENGTH];
	char cat[24 + sizeof(WS_GUID)];
	size_t i;

	/* 16 random bytes in base64: 22 characters and "==". */
	if (keylen != 24 || key[22] != '=' || key[23] != '=')
		return CAIRN_ERR_PROTO;
	for (i = 0; i < 22; i++) {
		char ch = key[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return CAIRN_ERR_PROTO;
	}
	if (EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18)
		return CAIRN_ERR_PROTO;
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((const unsigned char *)cat, 24 + sizeof(WS_GUID) - 1, md);
	if (EVP_EncodeBlock((unsigned char *)out, md, sizeof(md)) !=
	    WS_ACCEPT_LEN - 1)
		return CAIRN_ERR_PROTO;
	return 0;
}

/* Appends an error answer and fails the connection with reason. */
static int
ws_refuse(struct ws *w, int status, const char *reason,
    struct bytes_w *wire_out)
{
	const char *text = status == 403 ? "Forbidden" :
	    status == 426 ? "Upgrade Required" : "Bad Request";

	w->w_status = status;
	w->w_reason = reason;
	w->w_state = WS_CLOSING;
	w->w_err = CAIRN_ERR_PROTO;
	(void)bytes_printf(wire_out, "HTTP/1.1 %d %s\r\n"
	    "Connection: close\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n", status, text,
	    status == 426 ? "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n" : "");
	return w->w_err;
}

static int	ws_frames_start(struct ws *);

/* The request is complete and parsed: check it, then answer. */
static int
ws_answer(struct ws *w, struct bytes_w *wire_out)
{
	const struct ws_conf *conf = w->w_conf;
	char accept[WS_ACCEPT_LEN];
	size_t i;
	int rc;

	if (w->w_bad != NULL)
		return ws_refuse(w, 400, w->w_bad, wire_out);
	if (w->w_hp.method != HTTP_GET)
		return ws_refuse(w, 400, "not a GET", wire_out);
	if (w->w_hp.http_major != 1 || w->w_hp.http_minor < 1)
		return ws_refuse(w, 400, "not HTTP/1.1", wire_out);
	if (!(w->w_seen & (1u << WS_H_UPGRADE)) ||
	    !ws_list_has(w->w_val[WS_H_UPGRADE], "websocket", 1))
		return ws_refuse(w, 426, "not a WebSocket upgrade", wire_out);
	if (!(w->w_seen & (1u << WS_H_VERSION)) ||
	    strcmp(w->w_val[WS_H_VERSION], "13") != 0)
		return ws_refuse(w, 426, "Sec-WebSocket-Version is not 13",
		    wire_out);
	if (!(w->w_seen & (1u << WS_H_CONNECTION)) ||
	    !ws_list_has(w->w_val[WS_H_CONNECTION], "upgrade", 1))
		return ws_refuse(w, 400, "no 'upgrade' in Connection",
		    wire_out);
	if (!(w->w_seen & (1u << WS_H_HOST)))
		return ws_refuse(w, 400, "no Host", wire_out);
	if (ws_accept_key(w->w_val[WS_H_KEY], w->w_val_len[WS_H_KEY],
	    accept) != 0)
		return ws_refuse(w, 400, "bad Sec-WebSocket-Key", wire_out);
	if (conf->wc_norigins > 0) {
		for (i = 0; i < conf->wc_norigins; i++)
			if ((w->w_seen & (1u << WS_H_ORIGIN)) &&
			    strcmp(conf->wc_origins[i],
			    w->w_val[WS_H_ORIGIN]) == 0)
				break;
		if (i == conf->wc_norigins)
			return ws_refuse(w, 403, "Origin not allowed",
			    wire_out);
	}
	w->w_proto = "";
	if (w->w_seen & (1u << WS_H_PROTOCOL)) {
		/* MQTT 3.1.1 section 6 names "mqtt"; 3.1 clients (and
		 * MQTT.js with protocolVersion 3) ask for "mqttv3.1". */
		if (ws_list_has(w->w_val[WS_H_PROTOCOL], "mqtt", 0))
			w->w_proto = "mqtt";
		else if (ws_list_has(w->w_val[WS_H_PROTOCOL], "mqttv3.1", 0))
			w->w_proto = "mqttv3.1";
		else
			return ws_refuse(w, 400, "no mqtt subprotocol offered",
			    wire_out);
	}
	if ((rc = ws_frames_start(w)) != 0) {
		w->w_err = rc;
		w->w_reason = "out of memory";
		w->w_state = WS_CLOSING;
		return rc;
	}
	w->w_status = 101;
	rc = bytes_printf(wire_out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "%s%s%s\r\n", accept,
	    *w->w_proto != '\0' ? "Sec-WebSocket-Protocol: " : "",
	    w->w_proto, *w->w_proto != '\0' ? "\r\n" : "");
	if (rc != 0) {
		w->w_err = rc;
		w->w_reason = "no room for the answer";
		w->w_state = WS_CLOSING;
		return rc;
	}
	w->w_state = WS_OPEN;
	return 0;
}

/* ---- frames, through wslay ----------------------------------------- */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ev, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct ws *w = arg;
	size_t n = len < w->w_in_len ? len : w->w_in_len;

	if (n == 0) {
		wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, w->w_in, n);
	w->w_in += n;
	w->w_in_len -= n;
	return (ssize_t)n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ev, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws *w = arg;
	struct bytes_w *out = w->w_wire;
	size_t room;

	if (out == NULL || out->err != 0 || out->len >= out->max) {
		wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	room = out->max - out->len;
	if (len > room)
		len = room;
	if (bytes_put(out, data, len) != 0) {
		wslay_event_set_error(ev, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Fails the connection from a frame callback: wslay sends close code. */
static void
ws_frame_fail(struct ws *w, wslay_event_context_ptr ev, uint16_t code,
    const char *why)
{
	if (w->w_fail != NULL)
		return;
	w->w_fail = why;
	w->w_fail_code = code;
	wslay_event_shutdown_read(ev);
	(void)wslay_event_queue_close(ev, code, NULL, 0);
}

static void
ws_on_frame_start(wslay_event_context_ptr ev,
    const struct wslay_event_on_frame_recv_start_arg *a, void *arg)
{
	struct ws *w = arg;

	w->w_frame_ctrl = (a->opcode & 0x8) != 0;
	if (a->opcode == WSLAY_TEXT_FRAME)
		ws_frame_fail(w, ev, WSLAY_CODE_UNSUPPORTED_DATA,
		    "a text frame (MQTT goes in binary frames)");
}

static void
ws_on_frame_chunk(wslay_event_context_ptr ev,
    const struct wslay_event_on_frame_recv_chunk_arg *a, void *arg)
{
	struct ws *w = arg;
	int rc;

	if (w->w_frame_ctrl || w->w_fail != NULL || a->data_length == 0)
		return;
	if ((rc = bytes_put(w->w_app, a->data, a->data_length)) != 0) {
		w->w_err = rc;
		ws_frame_fail(w, ev, WSLAY_CODE_MESSAGE_TOO_BIG,
		    "input over its buffer");
	}
}

static void
ws_on_msg(wslay_event_context_ptr ev,
    const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	struct ws *w = arg;

	/* wslay has queued the close frame that answers this one. */
	if (a->opcode == WSLAY_CONNECTION_CLOSE && w->w_fail == NULL) {
		w->w_fail = "closed by the peer";
		w->w_fail_code = a->status_code;
		w->w_err = CAIRN_ERR_CLOSED;
	}
}

static const struct wslay_event_callbacks ws_ev_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_frame_recv_start_callback = ws_on_frame_start,
	.on_frame_recv_chunk_callback = ws_on_frame_chunk,
	.on_msg_recv_callback = ws_on_msg,
};

static int
ws_frames_start(struct ws *w)
{
	if (wslay_event_context_server_init(&w->w_ev, &ws_ev_callbacks,
	    w) != 0)
		return CAIRN_ERR_NOMEM;
	/* Payloads stream to app as they arrive; with no buffering,
	 * wslay's message limit bounds each frame (control frames are
	 * at most 125 bytes by RFC 6455, which wslay checks). */
	wslay_event_config_set_no_buffering(w->w_ev, 1);
	wslay_event_config_set_max_recv_msg_length(w->w_ev,
	    w->w_conf->wc_max_frame);
	return 0;
}

/* The reason for a close wslay sent on its own (code from RFC 6455). */
static const char *
ws_close_reason(uint16_t code)
{
	switch (code) {
	case WSLAY_CODE_PROTOCOL_ERROR:
		return "a protocol error (an unmasked frame, reserved bits, "
		    "a bad opcode or continuation)";
	case WSLAY_CODE_MESSAGE_TOO_BIG:
		return "a frame over max_packet_size";
	case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
		return "a close frame's reason not UTF-8";
	default:
		return "a malformed frame";
	}
}

/* Writes what wslay has queued into wire_out, as far as it fits. */
static int
ws_send(struct ws *w, struct bytes_w *wire_out)
{
	int rc;

	w->w_wire = wire_out;
	rc = wslay_event_send(w->w_ev);
	w->w_wire = NULL;
	if (rc == WSLAY_ERR_NOMEM)
		return CAIRN_ERR_NOMEM;
	if (rc != 0)
		return wire_out->err != 0 ? wire_out->err : CAIRN_ERR_TOO_BIG;
	return 0;
}

static int
ws_frames_input(struct ws *w, const uint8_t *p, size_t len,
    struct bytes_w *app, struct bytes_w *wire_out)
{
	int rc, src;

	w->w_in = p;
	w->w_in_len = len;
	w->w_app = app;
	rc = wslay_event_recv(w->w_ev);
	w->w_app = NULL;
	w->w_in = NULL;
	w->w_in_len = 0;
	src = ws_send(w, wire_out);
	if (w->w_fail != NULL) {
		w->w_reason = w->w_fail;
		if (w->w_err == 0)
			w->w_err = CAIRN_ERR_PROTO;
	} else if (!wslay_event_get_read_enabled(w->w_ev)) {
		/* wslay refused a frame and queued its close. */
		w->w_reason = ws_close_reason(
		    wslay_event_get_status_code_sent(w->w_ev));
		w->w_err = CAIRN_ERR_PROTO;
	} else if (rc == WSLAY_ERR_NOMEM) {
		w->w_reason = "out of memory";
		w->w_err = CAIRN_ERR_NOMEM;
	} else if (rc != 0) {
		w->w_reason = "a malformed frame";
		w->w_err = CAIRN_ERR_PROTO;
	} else if (wslay_event_get_queued_msg_count(w->w_ev) >
	    WS_MAX_QUEUED) {
		w->w_reason = "pings faster than it reads the pongs";
		w->w_err = CAIRN_ERR_LIMIT;
	} else if (src != 0) {
		w->w_reason = "output over its buffer";
		w->w_err = src;
	}
	if (w->w_err != 0)
		w->w_state = WS_CLOSING;
	return w->w_err;
}

/* ---- the interface ------------------------------------------------- */

struct ws *
ws_new(const struct ws_conf *conf)
{
	struct ws *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->w_conf = conf;
	w->w_state = WS_UPGRADE;
	w->w_cur = WS_H_NONE;
	w->w_proto = "";
	if ((w->w_val = calloc(WS_H_COUNT, sizeof(*w->w_val))) == NULL) {
		free(w);
		return NULL;
	}
	http_parser_init(&w->w_hp, HTTP_REQUEST);
	w->w_hp.data = w;
	return w;
}

void
ws_free(struct ws *w)
{
	if (w == NULL)
		return;
	if (w->w_ev != NULL)
		wslay_event_context_free(w->w_ev);
	free(w->w_val);
	free(w);
}

int
ws_input(struct ws *w, const uint8_t *p, size_t len, struct bytes_w *app,
    struct bytes_w *wire_out)
{
	size_t room, take, n;
	int rc;

	if (w->w_err != 0)
		return w->w_err;
	if (w->w_state == WS_CLOSING)
		return CAIRN_ERR_CLOSED;
	if (w->w_state == WS_OPEN)
		return ws_frames_input(w, p, len, app, wire_out);

	room = w->w_conf->wc_max_request - w->w_req_len;
	take = len < room ? len : room;
	n = http_parser_execute(&w->w_hp, &ws_hp_settings, (const char *)p,
	    take);
	w->w_req_len += n;
	if (!w->w_req_done) {
		if (HTTP_PARSER_ERRNO(&w->w_hp) != HPE_OK) {
			ws_request_done(w);
			return ws_refuse(w, 400, "a malformed HTTP request",
			    wire_out);
		}
		if (w->w_req_len >= w->w_conf->wc_max_request) {
			ws_request_done(w);
			return ws_refuse(w, 400, "an upgrade request over its "
			    "byte cap", wire_out);
		}
		return 0;
	}
	rc = ws_answer(w, wire_out);
	ws_request_done(w);
	if (rc != 0)
		return w->w_err;
	/* Bytes after the request (a client that did not wait for 101). */
	if (n < len)
		return ws_frames_input(w, p + n, len - n, app, wire_out);
	return 0;
}

int
ws_output(struct ws *w, const uint8_t *p, size_t len,
    struct bytes_w *wire_out)
{
	struct wslay_event_msg m = { WSLAY_BINARY_FRAME, p, len };
	int rc;

	if (w->w_state != WS_OPEN)
		return CAIRN_ERR_INVAL;
	if (len > 0) {
		rc = wslay_event_queue_msg(w->w_ev, &m);
		if (rc == WSLAY_ERR_NOMEM)
			return CAIRN_ERR_NOMEM;
		if (rc != 0)
			return CAIRN_ERR_INVAL;
	}
	return ws_send(w, wire_out);
}

int
ws_flush(struct ws *w, struct bytes_w *wire_out)
{
	if (w->w_ev == NULL)
		return 0;
	return ws_send(w, wire_out);
}

int
ws_want_write(const struct ws *w)
{
	return w->w_ev != NULL && wslay_event_want_write(w->w_ev);
}

int
ws_close(struct ws *w, uint16_t code, struct bytes_w *wire_out)
{
	if (w->w_state != WS_OPEN)
		return 0;
	w->w_state = WS_CLOSING;
	if (wslay_event_queue_close(w->w_ev, code, NULL, 0) != 0)
		return CAIRN_ERR_NOMEM;
	return ws_send(w, wire_out);
}

enum ws_state
ws_state(const struct ws *w)
{
	return w->w_state;
}

const char *
ws_reason(const struct ws *w)
{
	return w->w_reason;
}

int
ws_http_status(const struct ws *w)
{
	return w->w_status;
}

const char *
ws_protocol(const struct ws *w)
{
	return w->w_proto;
}
