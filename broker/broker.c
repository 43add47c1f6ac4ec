/*
 * The broker context: listeners, the accept path, the table of
 * sessions, and the two functions every message goes through:
 * broker_publish() (retain, then route) and broker_deliver() (one
 * session's copy: ACL, limits, queue, send).  Connections are client.c;
 * the packets are handle_*.c.
 */
#include "broker/broker.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "broker/broker_int.h"
#include "broker/mqtt_topic.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"

#define BROKER_BACKLOG		511

static void
broker_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	/* Hash keys only: on failure fall back to addresses and time. */
	while (len > 0) {
		if ((n = getrandom(p, len, 0)) <= 0) {
			uint64_t x = (uint64_t)(uintptr_t)buf ^
			    (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
			while (len-- > 0) {
				x = x * 6364136223846793005ull + 1;
				*p++ = (uint8_t)(x >> 56);
			}
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

void
broker_set_auth(struct broker *b, const struct broker_auth *a)
{
	if (b->b_auth.ba_free != NULL)
		b->b_auth.ba_free(b->b_auth.ba_arg);
	b->b_auth = *a;
}

struct broker *
broker_new(struct ev_loop *loop, struct broker_conf *c, char *err,
    size_t errlen)
{
	struct broker *b;
	uint8_t key[16];
	uint64_t seed[2];

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		broker_conf_free(c);
		return NULL;
	}
	b->b_loop = loop;
	b->b_conf = c;
	TAILQ_INIT(&b->b_clients);
	TAILQ_INIT(&b->b_dead);
	TAILQ_INIT(&b->b_dirty);
	b->b_limits.sl_max_inflight = c->bc_max_inflight;
	b->b_limits.sl_max_queued_messages = c->bc_max_queued_messages;
	b->b_limits.sl_max_queued_bytes = c->bc_max_queued_bytes;
	b->b_limits.sl_queue_qos0_offline = c->bc_queue_qos0_offline;
	broker_random(key, sizeof(key));
	broker_random(seed, sizeof(seed));
	b->b_id_seed = seed[0] ^ seed[1];
	if ((b->b_sessions = session_table_new(seed[0])) == NULL ||
	    (b->b_router = router_new(key)) == NULL ||
	    (b->b_retain = retain_new(c->bc_max_retained_messages,
	    seed[1])) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (broker_auth_load(b, err, errlen) != 0)
		goto fail;
	if (c->bc_cluster &&
	    (b->b_cluster = cluster_new(b, loop, err, errlen)) == NULL)
		goto fail;
	ev_prepare_init(&b->b_prepare_w, NULL);
	return b;
fail:
	broker_free(b);
	return NULL;
}

/* Flushes every dirty client once and frees the closed ones. */
static void
broker_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct broker *b = container_of(w, struct broker, b_prepare_w);
	struct client *c;

	while ((c = TAILQ_FIRST(&b->b_dirty)) != NULL) {
		TAILQ_REMOVE(&b->b_dirty, c, c_dirty_entry);
		c->c_dirty = 0;
		(void)client_flush(c);
	}
	while ((c = TAILQ_FIRST(&b->b_dead)) != NULL) {
		TAILQ_REMOVE(&b->b_dead, c, c_entry);
		client_free(c);
	}
	/* The counts of close lines held back by a flood that stopped. */
	client_log_flush(b);
}

static void
broker_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct broker_listener *l = container_of(w, struct broker_listener,
	    bl_w);
	struct broker *b = l->bl_broker;
	struct sockaddr_storage ss;
	socklen_t sl;
	char addr[SOCK_NTOP_LEN];
	int fd, i;

	/* A bounded batch, so one busy listener cannot starve the loop. */
	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		fd = accept4(l->bl_fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s", l->bl_addr);
			return;
		}
		if (b->b_nclients >= b->b_conf->bc_max_connections) {
			log_warnx("%s: refused, max_connections %u reached",
			    sock_ntop((struct sockaddr *)&ss, addr,
			    sizeof(addr)), b->b_conf->bc_max_connections);
			close(fd);
			continue;
		}
		if (client_new(b, fd, (struct sockaddr *)&ss) == NULL) {
			log_warnx("accept on %s: out of memory", l->bl_addr);
			close(fd);
		}
	}
}

int
broker_start(struct broker *b, char *err, size_t errlen)
{
	const struct broker_conf *c = b->b_conf;
	struct broker_listener *l;
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t i;

	if ((b->b_listeners = calloc(c->bc_nlisten,
	    sizeof(*b->b_listeners))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < c->bc_nlisten; i++) {
		l = &b->b_listeners[b->b_nlisteners];
		if (sock_addr_parse(c->bc_listen[i].host, c->bc_listen[i].port,
		    &ss, &sl) == -1) {
			snprintf(err, errlen, "listen %s:%u: not a numeric "
			    "address", c->bc_listen[i].host,
			    c->bc_listen[i].port);
			return -1;
		}
		sock_ntop((struct sockaddr *)&ss, l->bl_addr,
		    sizeof(l->bl_addr));
		/*
		 * listen_reuseport: several nodes on one host share the
		 * port; the kernel spreads connections over them and the
		 * cluster makes them one broker.
		 */
		if ((l->bl_fd = sock_listen((struct sockaddr *)&ss, sl,
		    BROKER_BACKLOG, SOCK_F_REUSEADDR |
		    (c->bc_listen_reuseport ? SOCK_F_REUSEPORT : 0) |
		    (ss.ss_family == AF_INET6 ? SOCK_F_V6ONLY : 0))) == -1) {
			snprintf(err, errlen, "listen %s: %s", l->bl_addr,
			    strerror(errno));
			return -1;
		}
		l->bl_broker = b;
		ev_io_init(&l->bl_w, broker_on_accept, l->bl_fd, EV_READ);
		ev_io_start(b->b_loop, &l->bl_w);
		b->b_nlisteners++;
		log_info("listening on %s%s", l->bl_addr,
		    c->bc_listen_reuseport ? " (SO_REUSEPORT)" : "");
	}
	if (b->b_cluster != NULL &&
	    cluster_start(b->b_cluster, err, errlen) != 0)
		return -1;
	ev_prepare_init(&b->b_prepare_w, broker_on_prepare);
	ev_prepare_start(b->b_loop, &b->b_prepare_w);
	b->b_started = ev_now(b->b_loop);
	sys_start(b);
	return 0;
}

void
broker_free(struct broker *b)
{
	struct client *c;
	struct session *s;
	size_t i;

	if (b == NULL)
		return;
	/* First: the cluster unhooks the router before sessions go. */
	cluster_free(b->b_cluster);
	b->b_cluster = NULL;
	sys_stop(b);
	if (ev_is_active(&b->b_prepare_w))
		ev_prepare_stop(b->b_loop, &b->b_prepare_w);
	for (i = 0; i < b->b_nlisteners; i++) {
		ev_io_stop(b->b_loop, &b->b_listeners[i].bl_w);
		close(b->b_listeners[i].bl_fd);
	}
	free(b->b_listeners);
	while ((c = TAILQ_FIRST(&b->b_clients)) != NULL)
		client_close(c, 0, NULL);
	while ((c = TAILQ_FIRST(&b->b_dead)) != NULL) {
		TAILQ_REMOVE(&b->b_dead, c, c_entry);
		client_free(c);
	}
	if (b->b_sessions != NULL) {
		while ((s = session_table_any(b->b_sessions)) != NULL)
			broker_session_drop(b, s);
	}
	session_table_free(b->b_sessions);
	router_free(b->b_router);
	retain_free(b->b_retain);
	if (b->b_auth.ba_free != NULL)
		b->b_auth.ba_free(b->b_auth.ba_arg);
	broker_conf_free(b->b_conf);
	free(b);
}

struct cluster *
broker_cluster(struct broker *b)
{
	return b->b_cluster;
}

void
broker_session_drop(struct broker *b, struct session *s)
{
	router_unsubscribe_all(b->b_router, s);
	session_table_remove(b->b_sessions, s);
	session_free(s);
}

int
broker_acl(struct broker *b, const char *client_id, const char *username,
    struct bytes_view topic, int access)
{
	if (b->b_auth.ba_check_acl == NULL)
		return 1;
	return b->b_auth.ba_check_acl(b->b_auth.ba_arg, client_id, username,
	    topic, access);
}

/* Queues one copy for s; the common part of live and retained copies. */
static void
broker_enqueue(struct broker *b, struct session *s, struct msg *m,
    uint8_t qos, uint8_t retain)
{
	struct client *c = s->s_client;
	int rc;

	if (!broker_acl(b, s->s_id, s->s_username, msg_topic(m),
	    BROKER_ACL_READ))
		return;
	/* A slow reader loses QoS 0 first; QoS 1/2 wait in its queue. */
	if (c != NULL && qos == 0 &&
	    c->c_out.len >= b->b_conf->bc_max_output_buffer)
		rc = CAIRN_ERR_LIMIT;
	else
		rc = session_enqueue(s, m, qos, retain);
	if (rc == 0)
		s->s_drop_logged = 0;
	else if (rc == CAIRN_ERR_LIMIT || rc == CAIRN_ERR_NOMEM) {
		b->b_stats.bs_pub_dropped++;
		if (!s->s_drop_logged) {
			log_warnx("client %s: dropping messages (%s): queue "
			    "%zu messages, %zu bytes, output %zu bytes",
			    s->s_id, rc == CAIRN_ERR_NOMEM ? "out of memory" :
			    "a limit is reached", s->s_queued,
			    s->s_queued_bytes, c != NULL ? c->c_out.len : 0);
			s->s_drop_logged = 1;
		}
		return;
	}
	if (c != NULL)
		client_pump(c);
}

void
broker_deliver(struct session *s, struct msg *m, uint8_t qos, void *arg)
{
	broker_enqueue(arg, s, m, qos, 0);
}

void
broker_deliver_retained(struct broker *b, struct session *s, struct msg *m,
    uint8_t qos)
{
	broker_enqueue(b, s, m, qos, 1);
}

int
broker_publish(struct broker *b, struct bytes_view topic,
    struct bytes_view payload, uint8_t qos, uint8_t retain)
{
	struct msg *m;
	int rc;

	if ((m = msg_new(topic, payload, qos, retain)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (retain && (rc = retain_set(b->b_retain, m)) != 0)
		log_warnx("retained message on %s not kept: %s",
		    m->m_topic, rc == CAIRN_ERR_LIMIT ?
		    "max_retained_messages reached" : cairn_strerror(rc));
	else if (retain)
		cluster_retained(b->b_cluster, m);
	/* Forwarded copies carry RETAIN 0 [MQTT-3.3.1-9]. */
	router_route(b->b_router, m, broker_deliver, b);
	msg_unref(m);
	return 0;
}
