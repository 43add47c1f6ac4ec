/*
 * One client connection: accept-time setup, reading and framing,
 * dispatch to the handle_*() functions (mosquitto's read_handle.c),
 * keepalive, the once-per-iteration flush, sending queued deliveries,
 * and the one close function.
 *
 * Watcher interest follows the buffers (sniproxy's
 * reactivate_watchers): read while the output buffer is under
 * max_output_buffer, write while output is pending.  A client that
 * lets twice max_output_buffer pile up is closed by send.c's rule.
 *
 * The first packet must be CONNECT, and CONNECT's first byte is exactly
 * 0x10 (type 1, reserved flags 0: MQTT 3.1.1 section 2.2.2), so any
 * other first byte (an HTTP request, a PUBLISH, a CONNECT with flags)
 * closes the connection as soon as it is read, not at connect_timeout.
 *
 * Every close reason is something a remote party can cause at will (a
 * malformed packet, a bad password, connections that never send
 * CONNECT), so each kind of close line is rate-limited (log_rate in
 * common/log.h): logged the first time, then counted, the count told by
 * the next line of that kind or by client_log_flush().  The kind is the
 * format string (or the reason client_close_kind() is given).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "broker/net/broker_int.h"
#include "broker/net/transport.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

static const char *const client_type_names[] = {
	"reserved 0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
	"UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
};

/* CONNECT's fixed header byte 1: type 1 << 4, flags 0 [MQTT-2.2.2-2]. */
#define CLIENT_CONNECT_BYTE0	0x10
/* Kinds of close line with a rate limit each; past it they share one. */
#define CLIENT_LOG_KINDS	64

struct client_log_kind {
	const void	*key;		/* a format or reason string */
	struct log_rate	 lr;
	char		 what[96];	/* the first line's reason, for flush */
};

static struct client_log_kind client_log_kinds[CLIENT_LOG_KINDS];
static size_t client_log_nkinds;
static ev_tstamp client_log_flushed;
static struct log_rate client_first_byte_lr = LOG_RATE_INIT(10);

/*
 * client_pump() writes at most this much per call: a session taken over
 * with a large queue (16 MiB by default) is sent in slices, one per
 * loop iteration (the write watcher stays on while the queue has
 * something to send), so that no client holds the loop for long.
 */
#define CLIENT_PUMP_SLICE	(256 * 1024)

/*
 * c's output left unwritten by its last flush (a backlog: the kernel
 * would not take it), as max_output_bytes_total counts it.  Output added
 * and written within one loop iteration never counts.
 */
static void
client_out_account(struct client *c)
{
	c->c_broker->b_out_bytes += c->c_out.len;
	c->c_broker->b_out_bytes -= c->c_out_counted;
	c->c_out_counted = c->c_out.len;
}

/*
 * 1 if c may not add output: the backlogs of every client together are
 * at max_output_bytes_total and c has one of its own.  A client that
 * keeps up still gets its deliveries: the slow readers pay.
 */
int
client_out_over(const struct client *c)
{
	const struct broker *b = c->c_broker;

	return c->c_out_counted > 0 &&
	    b->b_out_bytes >= b->b_conf->bc_max_output_bytes_total;
}

static void	client_on_read(struct ev_loop *, ev_io *, int);
static void	client_on_write(struct ev_loop *, ev_io *, int);
static void	client_on_timeout(struct ev_loop *, ev_timer *, int);
static void	client_read(struct client *);
static void	client_tls_done(struct client *);

/* 1 while c takes input: output under the soft cap, not paused. */
static int
client_reading(const struct client *c)
{
	return c->c_out.len < c->c_broker->b_conf->bc_max_output_buffer &&
	    !c->c_paused && !(c->c_pub_held && c->c_broker->b_pub_hold);
}

/*
 * Read while output is under the soft cap; write while any is pending;
 * either also while the transport needs it (a TLS write waiting for a
 * record, a TLS read that must write first).  Input the transport holds
 * already decoded makes no fd readable: its read event is fed.
 */
static void
client_watchers(struct client *c)
{
	struct ev_loop *loop = c->c_broker->b_loop;
	size_t cap = c->c_broker->b_conf->bc_max_output_buffer;
	int want, out, tw = transport_want(c->c_tr), rd = client_reading(c);

	if (c->c_state == CLIENT_CLOSED)
		return;
	/* A want bit counts only while its direction has work waiting. */
	/* Output held for data_dir's commit (persist.c) waits unwritten. */
	out = c->c_out.len > 0 && !c->c_store_wait && !c->c_repl_wait;
	want = rd || ((tw & TRANSPORT_WANT_READ) && out);
	if (want && !ev_is_active(&c->c_rd_w))
		ev_io_start(loop, &c->c_rd_w);
	else if (!want && ev_is_active(&c->c_rd_w))
		ev_io_stop(loop, &c->c_rd_w);
	/* Also while the session queue has a slice to send: client_pump(). */
	want = out || ((tw & TRANSPORT_WANT_WRITE) && rd) ||
	    (c->c_state == CLIENT_CONNECTED && !c->c_connack_wait &&
	    c->c_session != NULL && c->c_out.len < cap &&
	    c->c_broken == NULL && !client_out_over(c) &&
	    session_sendable(c->c_session));
	if (want && !ev_is_active(&c->c_wr_w))
		ev_io_start(loop, &c->c_wr_w);
	else if (!want && ev_is_active(&c->c_wr_w))
		ev_io_stop(loop, &c->c_wr_w);
	if (rd && transport_pending(c->c_tr) > 0)
		ev_feed_event(loop, &c->c_rd_w, EV_READ);
}

/* Frees a 5.0 client's topic aliases, its own and ours. */
static void
client_aliases_free(struct client *c)
{
	size_t i;

	mqtt_alias_out_free(c->c_alias_out);
	c->c_alias_out = NULL;
	if (c->c_aliases == NULL)
		return;
	for (i = 0; i <= c->c_alias_max; i++)
		free(c->c_aliases[i]);
	free(c->c_aliases);
	c->c_aliases = NULL;
}

struct client *
client_new(struct broker *b, struct broker_listener *l, int fd,
    const struct sockaddr *sa, struct transport *tr)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_broker = b;
	c->c_listener = l;
	c->c_fd = fd;
	c->c_tr = tr;
	c->c_state = CLIENT_NEW;
	c->c_level = MQTT_LEVEL_311;
	sock_ntop(sa, c->c_addr, sizeof(c->c_addr));
	bytes_w_init(&c->c_out, 2 * b->b_conf->bc_max_output_buffer);
	(void)sock_set_nodelay(fd);
	ev_io_init(&c->c_rd_w, client_on_read, fd, EV_READ);
	ev_io_init(&c->c_wr_w, client_on_write, fd, EV_WRITE);
	ev_init(&c->c_ka_w, client_on_timeout);
	c->c_ka_w.repeat = (ev_tstamp)b->b_conf->bc_connect_timeout_ms /
	    1000.0;
	ev_timer_again(b->b_loop, &c->c_ka_w);
	ev_io_start(b->b_loop, &c->c_rd_w);
	TAILQ_INSERT_TAIL(&b->b_clients, c, c_entry);
	b->b_nclients++;
	if (l != NULL)
		l->bl_nclients++;
	b->b_stats.bs_sockets++;
	log_debug("%s: accepted", c->c_addr);
	return c;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	repl_unhold(c);
	c->c_broker->b_out_bytes -= c->c_out_counted;
	bytes_w_fini(&c->c_out);
	msg_unref(c->c_will);
	handle_auth_free(c);
	client_aliases_free(c);
	c->c_broker->b_in_bytes -= c->c_in_cap;
	free(c->c_in);
	free(c->c_id);
	free(c->c_username);
	free(c);
}

/* The rate limit of one kind of close line (found or added). */
static struct client_log_kind *
client_log_kind(const void *key, const char *why)
{
	struct client_log_kind *k;
	size_t i;

	for (i = 0; i < client_log_nkinds; i++)
		if (client_log_kinds[i].key == key)
			return &client_log_kinds[i];
	if (client_log_nkinds == CLIENT_LOG_KINDS)
		return &client_log_kinds[CLIENT_LOG_KINDS - 1];
	k = &client_log_kinds[client_log_nkinds++];
	k->key = key;
	k->lr.lr_interval = 10;
	snprintf(k->what, sizeof(k->what), "\"closed: %.80s\"", why);
	return k;
}

void
client_log_flush(struct broker *b)
{
	ev_tstamp now = ev_now(b->b_loop);
	size_t i;

	/* The loop's prepare hook calls this: look once a second. */
	if (now - client_log_flushed < 1.0)
		return;
	client_log_flushed = now;
	for (i = 0; i < client_log_nkinds; i++)
		(void)log_rate_flush(&client_log_kinds[i].lr,
		    client_log_kinds[i].what);
	(void)log_rate_flush(&client_first_byte_lr,
	    "\"first packet is not CONNECT\"");
	subscribe_log_flush();
}

static void	client_vclose(struct client *, int, const void *,
		    const char *, va_list) __attribute__((format(printf, 4, 0)));

void
client_disconnect(struct client *c, uint8_t rc, int will, const char *fmt,
    ...)
{
	va_list ap;

	/*
	 * Best effort: a client whose output is full is closed anyway.  A
	 * reason without conversions is a fixed string, fit to tell the
	 * client; one with them may name other parties (a takeover's
	 * address): the reason code's name instead.
	 */
	if (c->c_state == CLIENT_CONNECTED && c->c_broken == NULL)
		(void)send_disconnect(c, rc, fmt != NULL &&
		    strchr(fmt, '%') == NULL ? fmt : mqtt5_rc_name(rc));
	va_start(ap, fmt);
	client_vclose(c, will, fmt, fmt, ap);
	va_end(ap);
}

void
client_close(struct client *c, int will, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	client_vclose(c, will, fmt, fmt, ap);
	va_end(ap);
}

void
client_close_kind(struct client *c, int will, const void *kind,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	client_vclose(c, will, kind, fmt, ap);
	va_end(ap);
}

static void
client_vclose(struct client *c, int will, const void *kind,
    const char *fmt, va_list ap)
{
	struct broker *b = c->c_broker;
	struct session *s;
	struct msg *w;
	uint32_t delay;
	enum client_state was = c->c_state;
	char why[256];

	if (c->c_state == CLIENT_CLOSED)
		return;
	if (fmt != NULL) {
		vsnprintf(why, sizeof(why), fmt, ap);
		log_rate_info(&client_log_kind(kind, why)->lr,
		    "client %s (%s): closed: %s",
		    c->c_id != NULL ? c->c_id : "-", c->c_addr, why);
	}
	/* One last try for what is owed (a refusing CONNACK, say); not an
	 * ack whose batch is not yet on disk (persist.c). */
	if (persist_waiting(c) || repl_waiting(c))
		bytes_w_reset(&c->c_out);
	persist_unhold(c);
	repl_unhold(c);
	if (c->c_out.len > 0 && c->c_broken == NULL)
		(void)transport_write(c->c_tr, c->c_fd, c->c_out.buf,
		    c->c_out.len);
	ev_io_stop(b->b_loop, &c->c_rd_w);
	ev_io_stop(b->b_loop, &c->c_wr_w);
	ev_timer_stop(b->b_loop, &c->c_ka_w);
	subscribe_cancel(c);
	if (c->c_tls_flags & CLIENT_TLS_HANDSHAKE)
		client_tls_done(c);
	transport_close(c->c_tr);
	c->c_tr = NULL;
	close(c->c_fd);
	c->c_fd = -1;
	c->c_state = CLIENT_CLOSED;
	if (c->c_dirty) {
		TAILQ_REMOVE(&b->b_dirty, c, c_dirty_entry);
		c->c_dirty = 0;
	}
	TAILQ_REMOVE(&b->b_clients, c, c_entry);
	b->b_nclients--;
	if (c->c_listener != NULL) {
		c->c_listener->bl_nclients--;
		c->c_listener = NULL;
	}
	TAILQ_INSERT_TAIL(&b->b_dead, c, c_entry);
	if ((s = c->c_session) != NULL) {
		/* persistent_client_expiration counts from here. */
		session_set_client(s, NULL,
		    (uint64_t)(ev_now(b->b_loop) * 1000.0));
		c->c_session = NULL;
		if (s->s_clean)
			broker_session_drop(b, s);
	}
	/* The will goes out last, when the session no longer receives. */
	w = c->c_will;
	c->c_will = NULL;
	if (w != NULL && will && was == CLIENT_CONNECTED &&
	    broker_acl(b, c->c_id, c->c_username, msg_topic(w),
	    BROKER_ACL_WRITE)) {
		/*
		 * 5.0: after the will delay, or when the session ends if
		 * sooner (its expiry interval; 0: now) [MQTT-3.1.3-9]; its
		 * message expiry counts from then.
		 */
		delay = c->c_will_delay < c->c_expiry ? c->c_will_delay :
		    c->c_expiry;
		if (c->c_will_expiry > 0)
			w->m_expire_at = msg_expire_at(clock_ms() +
			    (uint64_t)delay * 1000,
			    (uint64_t)c->c_will_expiry * 1000);
		broker_will(b, c->c_id, w, delay);
	} else
		msg_unref(w);
}

void
client_dirty(struct client *c)
{
	if (c->c_dirty || c->c_state == CLIENT_CLOSED)
		return;
	c->c_dirty = 1;
	TAILQ_INSERT_TAIL(&c->c_broker->b_dirty, c, c_dirty_entry);
}

int
client_flush(struct client *c)
{
	ssize_t n;

	if (c->c_state == CLIENT_CLOSED)
		return -1;
	if (c->c_broken != NULL) {
		client_close_kind(c, 1, c->c_broken, "%s", c->c_broken);
		return -1;
	}
	/* Acks of a data_dir batch wait until it is durable: persist.c
	 * makes c dirty again then. */
	if (c->c_store_wait) {
		if (persist_waiting(c)) {
			client_watchers(c);
			return 0;
		}
		persist_unhold(c);
	}
	/* Likewise acks that wait for the replicas' holders (broker.c). */
	if (c->c_repl_wait) {
		if (repl_waiting(c)) {
			client_watchers(c);
			return 0;
		}
		repl_unhold(c);
	}
	if (c->c_out.len > 0) {
		/* All of it in one call: TLS makes its records from it. */
		n = transport_write(c->c_tr, c->c_fd, c->c_out.buf,
		    c->c_out.len);
		if (n == -1 && errno == EPROTO && c->c_tr != NULL) {
			client_close_kind(c, 1, c->c_tr->t_err_kind,
			    "%s: %s", c->c_tr->t_ops->to_name,
			    transport_error(c->c_tr));
			return -1;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			client_close(c, 1, "write: %s", strerror(errno));
			return -1;
		}
		if (n > 0) {
			c->c_broker->b_stats.bs_bytes_sent += (uint64_t)n;
			bytes_w_consume(&c->c_out, (size_t)n);
		}
	}
	/* A small empty buffer (CONNACK, PINGRESP) is given back, so an idle
	 * connection holds none; busy ones keep theirs. */
	if (c->c_out.len == 0 && c->c_out.cap <= CLIENT_OUT_KEEP)
		bytes_w_fini(&c->c_out);
	client_out_account(c);
	/* The prepare hook's flush may empty the buffer, and then no write
	 * event comes to call client_pump(): retained sends wait on this. */
	if (c->c_sub != NULL)
		subscribe_resume(c);
	client_watchers(c);
	return 0;
}

void
client_drop_sent(struct client *c, struct session_out *o)
{
	struct session *s = c->c_session;
	uint16_t id = o->so_id;

	switch (o->so_qos) {
	case 0:
		session_out_free(o);
		break;
	case 1:
		(void)session_ack(s, MQTT_PUBACK, id);
		break;
	default:
		(void)session_ack(s, MQTT_PUBREC, id);
		(void)session_ack(s, MQTT_PUBCOMP, id);
		break;
	}
}

void
client_pump(struct client *c)
{
	struct session *s = c->c_session;
	struct session_out *o;
	size_t cap = c->c_broker->b_conf->bc_max_output_buffer;
	size_t start = c->c_out.len;
	int rc;

	/* Nothing before the CONNACK, which may wait for the cluster. */
	if (c->c_state != CLIENT_CONNECTED || s == NULL || c->c_connack_wait)
		return;
	while (c->c_broken == NULL && c->c_out.len < cap &&
	    c->c_out.len - start < CLIENT_PUMP_SLICE && !client_out_over(c) &&
	    (o = session_next_at(s, clock_ms())) != NULL) {
		rc = send_publish(c, o, 0);
		if (rc == 1) {
			/* Never sendable here: done, on disk too. */
			if (o->so_store_seq != 0 && s->s_store_id != 0 &&
			    c->c_broker->b_store != NULL)
				persist_out_done(c->c_broker, s,
				    o->so_store_seq);
			client_drop_sent(c, o);
		} else if (o->so_qos == 2 && s->s_store_id != 0 &&
		    c->c_broker->b_store != NULL) {
			/* QoS 2 is resent with the same id after a restart. */
			persist_out(c->c_broker, s, o);
			persist_hold(c);
		} else if (o->so_qos == 0)
			session_out_free(o);
		if (rc < 0)
			return;
	}
	/* Room again: retained messages owed to a SUBSCRIBE may go on. */
	if (c->c_sub != NULL)
		subscribe_resume(c);
}

void
client_keepalive(struct client *c)
{
	struct ev_loop *loop = c->c_broker->b_loop;

	if (c->c_keepalive == 0) {
		ev_timer_stop(loop, &c->c_ka_w);
		return;
	}
	/* [MQTT-3.1.2-24]: one and a half times the keepalive. */
	c->c_ka_w.repeat = 1.5 * (ev_tstamp)c->c_keepalive;
	ev_timer_again(loop, &c->c_ka_w);
}

static void
client_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, c_ka_w);

	if (!transport_ready(c->c_tr))
		client_close(c, 0, "%s handshake not done within "
		    "connect_timeout", c->c_tr->t_ops->to_name);
	else if (c->c_state == CLIENT_NEW && handle_auth_pending(c))
		client_close(c, 0, "authentication not done within "
		    "connect_timeout");
	else if (c->c_state == CLIENT_NEW)
		client_close(c, 0, "no CONNECT within connect_timeout");
	else
		client_disconnect(c, MQTT5_RC_KEEP_ALIVE_TIMEOUT, 1,
		    "keepalive %us expired", c->c_keepalive);
}

/*
 * A CONNECT that does not decode.  A 5.0 one is answered with a CONNACK
 * carrying the reason (3.1.4: the server MAY), then closed; others are
 * closed at once [MQTT-3.1.4-1].
 */
static void
client_bad_connect(struct client *c, struct bytes_view body,
    const struct mqtt_err *e)
{
	/* The level byte follows the 2-byte length and "MQTT". */
	if (body.len >= 7 && body.p[0] == 0 && body.p[1] == 4 &&
	    memcmp(body.p + 2, "MQTT", 4) == 0 && body.p[6] == MQTT_LEVEL_5) {
		c->c_level = MQTT_LEVEL_5;
		(void)send_connack5(c, 0, e->reason, NULL);
	}
	client_close_kind(c, 0, e->why, "malformed CONNECT: %s", e->why);
}

/* Decodes one framed packet and hands it to its handler. */
static void
client_dispatch(struct client *c, const struct mqtt_hdr *hdr,
    struct bytes_view body)
{
	struct mqtt_packet p;
	struct mqtt_err e = { "malformed", MQTT5_RC_MALFORMED };

	c->c_broker->b_stats.bs_msgs_received++;
	if (c->c_state == CLIENT_NEW && handle_auth_pending(c)) {
		/* Between CONNECT and CONNACK only AUTH (4.12). */
		if (hdr->type != MQTT_AUTH) {
			handle_auth_refuse(c, "%s during authentication",
			    client_type_names[hdr->type & 15]);
			return;
		}
		if (mqtt_decode_ex(hdr, body, MQTT_LEVEL_5, &p, &e) != 0) {
			handle_auth_refuse(c, "malformed AUTH: %s", e.why);
			return;
		}
		handle_auth(c, &p.u.disconnect);
		return;
	}
	if (c->c_state == CLIENT_NEW) {
		if (hdr->type != MQTT_CONNECT) {
			client_close(c, 0, "%s before CONNECT",
			    client_type_names[hdr->type & 15]);
			return;
		}
		if (mqtt_decode_connect_ex(hdr, body, &p.u.connect, &e) != 0) {
			client_bad_connect(c, body, &e);
			return;
		}
		/* A method in CONNECT: the exchange first (handle_auth.c). */
		if (handle_auth_connect(c, hdr, body, &p.u.connect) != 0)
			return;
		handle_connect(c, &p.u.connect);
		return;
	}
	if (c->c_keepalive > 0)
		ev_timer_again(c->c_broker->b_loop, &c->c_ka_w);
	switch (hdr->type) {
	case MQTT_CONNECT:
		client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
		    "second CONNECT");
		return;
	case MQTT_CONNACK:
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		client_disconnect(c, MQTT5_RC_PROTOCOL_ERROR, 1,
		    "%s from a client", client_type_names[hdr->type]);
		return;
	default:
		break;
	}
	if (mqtt_decode_ex(hdr, body, c->c_level, &p, &e) != 0) {
		client_disconnect(c, e.reason, 1, "malformed %s: %s",
		    client_type_names[hdr->type & 15], e.why);
		return;
	}
	switch (hdr->type) {
	case MQTT_PUBLISH:
		handle_publish(c, &p.u.publish);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		handle_ack(c, hdr->type, p.u.id);
		break;
	case MQTT_SUBSCRIBE:
		handle_subscribe(c, &p.u.subscribe);
		break;
	case MQTT_UNSUBSCRIBE:
		handle_unsubscribe(c, &p.u.subscribe);
		break;
	case MQTT_PINGREQ:
		(void)send_empty(c, MQTT_PINGRESP);
		break;
	case MQTT_DISCONNECT:
		if (c->c_level == MQTT_LEVEL_5) {
			handle_disconnect5(c, &p.u.disconnect);
			break;
		}
		/* A clean goodbye: no will [MQTT-3.14.4-3]. */
		log_debug("client %s (%s): DISCONNECT", c->c_id, c->c_addr);
		client_close(c, 0, NULL);
		break;
	case MQTT_AUTH:
		/* Re-authentication, or 0x82 without a method (4.12). */
		handle_auth(c, &p.u.disconnect);
		break;
	}
}

/*
 * The first byte of a connection is not CONNECT's: whatever follows, it
 * is not an MQTT client (an HTTP request, a scanner) or one that breaks
 * [MQTT-3.1.0-1] or [MQTT-2.2.2-2].  Closed now, one line per kind.
 */
static void
client_refuse_first(struct client *c, uint8_t b0)
{
	const char *what;

	if (b0 >> 4 == MQTT_CONNECT)
		what = "CONNECT with reserved flags set";
	else if (b0 >= 0x20 && b0 < 0x7f)
		what = "text, not MQTT";
	else
		what = client_type_names[b0 >> 4];
	log_rate_warnx(&client_first_byte_lr, "client - (%s): closed: first "
	    "packet is not CONNECT (first byte 0x%02x: %s)", c->c_addr, b0,
	    what);
	client_close(c, 0, NULL);
}

/*
 * Frames and dispatches every whole packet of buf[0..len).  Returns the
 * bytes used, or SIZE_MAX when c was closed (do not touch it then).
 * Handlers copy what they keep (messages, wills, ids), so buf may be
 * the broker's scratch buffer.
 */
static size_t
client_parse_buf(struct client *c, const uint8_t *buf, size_t len)
{
	const struct broker_conf *conf = c->c_broker->b_conf;
	struct mqtt_hdr hdr;
	struct bytes_view body;
	size_t off = 0, used;
	int rc;

	while (c->c_state != CLIENT_CLOSED && off < len && !c->c_paused) {
		if (c->c_state == CLIENT_NEW && !handle_auth_pending(c) &&
		    buf[off] != CLIENT_CONNECT_BYTE0) {
			client_refuse_first(c, buf[off]);
			return SIZE_MAX;
		}
		/* The cluster cannot take more now: the PUBLISH waits. */
		if (c->c_broker->b_pub_hold && c->c_state == CLIENT_CONNECTED &&
		    buf[off] >> 4 == MQTT_PUBLISH) {
			c->c_pub_held = 1;
			break;
		}
		rc = mqtt_frame(bytes_view_of(buf + off, len - off),
		    conf->bc_max_packet_size, &hdr, &body, &used);
		if (rc == CAIRN_ERR_NEED_MORE)
			break;
		if (rc == CAIRN_ERR_TOO_BIG) {
			client_disconnect(c, MQTT5_RC_PACKET_TOO_LARGE, 1,
			    "packet over max_packet_size %llu",
			    (unsigned long long)conf->bc_max_packet_size);
			return SIZE_MAX;
		}
		if (rc != 0) {
			client_disconnect(c, MQTT5_RC_MALFORMED, 1,
			    "malformed fixed header");
			return SIZE_MAX;
		}
		client_dispatch(c, &hdr, body);
		off += used;
		if (c->c_state != CLIENT_CLOSED && c->c_broken != NULL) {
			client_close_kind(c, 1, c->c_broken, "%s",
			    c->c_broken);
			return SIZE_MAX;
		}
	}
	return c->c_state == CLIENT_CLOSED ? SIZE_MAX : off;
}

static struct log_rate input_lr = LOG_RATE_INIT(10);

/* Makes room for want more input bytes; 0 or -1 (closed). */
static int
client_in_reserve(struct client *c, size_t want)
{
	struct broker *b = c->c_broker;
	size_t max, cap;
	uint8_t *nb;

	/* Never more than a packet and a chunk. */
	max = (size_t)c->c_broker->b_conf->bc_max_packet_size +
	    CLIENT_READ_CHUNK;
	if (c->c_in_cap - c->c_in_len >= want || c->c_in_cap >= max)
		return 0;
	cap = c->c_in_cap == 0 ? CLIENT_READ_CHUNK : c->c_in_cap * 2;
	while (cap - c->c_in_len < want && cap < max)
		cap *= 2;
	if (cap > max)
		cap = max;
	/* Every client's partial packets together: max_input_bytes_total. */
	if (b->b_in_bytes - c->c_in_cap + cap >
	    b->b_conf->bc_max_input_bytes_total) {
		log_rate_warnx(&input_lr, "client %s (%s): closed: input "
		    "buffers at max_input_bytes_total %llu",
		    c->c_id != NULL ? c->c_id : "-", c->c_addr,
		    (unsigned long long)b->b_conf->bc_max_input_bytes_total);
		client_close(c, 1, NULL);
		return -1;
	}
	if ((nb = realloc(c->c_in, cap)) == NULL) {
		client_close(c, 1, "out of memory for input");
		return -1;
	}
	b->b_in_bytes += cap - c->c_in_cap;
	c->c_in = nb;
	c->c_in_cap = cap;
	return 0;
}

/*
 * Reads what is there.  An idle client holds no input buffer (the
 * memory an idle connection costs is mostly this): a read goes to the
 * broker's scratch buffer, whole packets are served from there, and only
 * a partial packet is copied into a buffer of the client's own, given
 * back once it is empty.
 */
/* c's TLS handshake is over: it no longer counts at max_tls_handshakes. */
static void
client_tls_done(struct client *c)
{
	c->c_tls_flags &= ~CLIENT_TLS_HANDSHAKE;
	c->c_broker->b_tls_handshakes--;
}

static void
client_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, c_rd_w);

	/* A TLS write waited for this: flush first (it may close c). */
	if ((transport_want(c->c_tr) & TRANSPORT_WANT_READ) &&
	    client_flush(c) != 0)
		return;
	if (client_reading(c))
		client_read(c);
	else
		client_watchers(c);
}

static void
client_read(struct client *c)
{
	struct broker *b = c->c_broker;
	uint8_t *dst;
	size_t room, off;
	ssize_t n;

	if (c->c_in_len == 0) {
		dst = b->b_scratch;
		room = sizeof(b->b_scratch);
	} else {
		if (client_in_reserve(c, CLIENT_READ_CHUNK) != 0)
			return;
		if (c->c_in_len == c->c_in_cap) {
			/* Cannot happen: a whole packet always fits. */
			client_close(c, 1, "input buffer full");
			return;
		}
		dst = c->c_in + c->c_in_len;
		room = c->c_in_cap - c->c_in_len;
	}
	n = transport_read(c->c_tr, c->c_fd, dst, room);
	if ((c->c_tls_flags & CLIENT_TLS_HANDSHAKE) && transport_ready(c->c_tr))
		client_tls_done(c);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			/* The transport may want the other direction now. */
			if (c->c_tr != NULL)
				client_watchers(c);
			return;
		}
		if (errno == EPROTO && c->c_tr != NULL)
			client_close_kind(c, 1, c->c_tr->t_err_kind,
			    "%s: %s", c->c_tr->t_ops->to_name,
			    transport_error(c->c_tr));
		else
			client_close(c, 1, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		log_debug("client %s (%s): connection closed by the peer",
		    c->c_id != NULL ? c->c_id : "-", c->c_addr);
		client_close(c, 1, NULL);
		return;
	}
	b->b_stats.bs_bytes_received += (uint64_t)n;
	if (dst == b->b_scratch) {
		if ((off = client_parse_buf(c, dst, (size_t)n)) == SIZE_MAX)
			return;
		if (off < (size_t)n) {
			if (client_in_reserve(c, (size_t)n - off) != 0)
				return;
			memcpy(c->c_in, dst + off, (size_t)n - off);
			c->c_in_len = (size_t)n - off;
		}
	} else {
		c->c_in_len += (size_t)n;
		if ((off = client_parse_buf(c, c->c_in, c->c_in_len)) ==
		    SIZE_MAX)
			return;
		if (off > 0) {
			memmove(c->c_in, c->c_in + off, c->c_in_len - off);
			c->c_in_len -= off;
		}
	}
	if (c->c_in_len == 0) {
		c->c_broker->b_in_bytes -= c->c_in_cap;
		free(c->c_in);
		c->c_in = NULL;
		c->c_in_cap = 0;
	}
	client_watchers(c);
}

void
client_input_resume(struct client *c)
{
	size_t off;

	if (c->c_state == CLIENT_CLOSED || c->c_paused ||
	    (c->c_pub_held && c->c_broker->b_pub_hold))
		return;
	if (c->c_in_len > 0) {
		if ((off = client_parse_buf(c, c->c_in, c->c_in_len)) ==
		    SIZE_MAX)
			return;
		if (off > 0) {
			memmove(c->c_in, c->c_in + off, c->c_in_len - off);
			c->c_in_len -= off;
		}
		if (c->c_in_len == 0) {
			c->c_broker->b_in_bytes -= c->c_in_cap;
			free(c->c_in);
			c->c_in = NULL;
			c->c_in_cap = 0;
		}
	}
	client_watchers(c);
}

static void
client_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, c_wr_w);

	/* A TLS read waited for this (handshake records, say). */
	if (transport_want(c->c_tr) & TRANSPORT_WANT_WRITE) {
		if (client_reading(c))
			client_read(c);
		if (c->c_state == CLIENT_CLOSED)
			return;
	}
	if (client_flush(c) != 0)
		return;
	/* Room again: queued deliveries may go now. */
	client_pump(c);
}
