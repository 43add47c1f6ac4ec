/*
 * gossip: UDP heartbeats on a multicast group (or broadcast), as
 * libcluster's Cluster.Strategy.Gossip, with its key names.  One agent
 * per host speaks for every node registered in that host's epmd, so
 * the nodes themselves need no clustering code.
 *
 *	strategy: gossip
 *	config:
 *	  port: 45892
 *	  if_addr: 0.0.0.0               # bind address (:: for a v6 group)
 *	  multicast_addr: 233.252.1.32   # or ff02::..., or a broadcast address
 *	  multicast_if: 192.168.1.1      # v4 address or interface; v6: name
 *	  multicast_ttl: 1
 *	  broadcast_only: false
 *	  heartbeat_interval: 500ms
 *	  missed_heartbeats: 4
 *	  secret: "..."                  # or secrets: [new, old] to rotate
 *	  cluster: cairn                 # label bound into every packet
 *	  max_skew: 30s
 *	  libcluster_compat: false
 *	  host: localhost                # default: this host's short name
 *	  epmd_port: 4369                # default: $ERL_EPMD_PORT or 4369
 *	  polling_interval: 1s           # how often the local epmd is asked
 *	  timeout: 2s                    # one epmd query
 *	  max_senders: 256               # senders tracked; past it, dropped
 *	  replay_cache: 65536            # (sender, nonce) slots
 *	  drop_log_every: 100            # accepted, ignored (see Drops)
 *
 * Sending.  Every heartbeat_interval (less a random 0-10 %, so hosts do
 * not beat in step, and never more) the agent sends one packet listing
 * the nodes its local epmd last reported ("name@host", host being this
 * host's short name or `host`).  A failed epmd query keeps the last
 * list; the heartbeat goes out anyway (an empty list still says "this
 * sender is alive").  With libcluster_compat the agent writes
 * libcluster's packets instead, one per local node.
 *
 * Receiving.  Each sender (a Cairn agent by its sender id, a libcluster
 * node by its node name) has an entry holding the node list of its last
 * heartbeat.  A sender not heard for missed_heartbeats *
 * heartbeat_interval is gone (libcluster nodes beat at a random 0-5 s,
 * so theirs is missed_heartbeats * 5 s).
 *
 * Reporting, and why a killed node leaves in time.  The engine counts
 * an empty answer as "unknown" and drops nobody for it, and it prunes a
 * node only when a source that listed it answers without it.  A source
 * per sender would therefore never let a dead sender's nodes go: the
 * dead sender never answers again.  So the strategy reports one source,
 * "<topology>/gossip", whose answer on every heartbeat tick is the union
 * of every live sender's nodes and this host's own.  When a sender goes,
 * its nodes drop out of the union, each later tick is a miss for them,
 * and the engine's prune rule (prune_misses answers over prune_after)
 * takes them out.  Worst case from the kill:
 *
 *	missed_heartbeats * interval          the sender is declared gone
 *	+ interval                            the tick that sees it
 *	+ max(prune_misses * interval, prune_after)
 *
 * With the defaults (500 ms, 4) the strategy notices within 2.5 s; the
 * engine's prune_after (15 s by default) then dominates, and a
 * deployment that wants a fast exit sets it low.  Four heartbeats at
 * 500 ms rather than libcluster's 5 s: three lost packets in a row are
 * tolerated, the 3 s detection target holds, and the cost is two small
 * packets a second per host.  A libcluster node (libcluster_compat) is
 * a source of its own, "<topology>/gossip:NODE", since it announces
 * only itself: when its heartbeats stop, the strategy tells the engine
 * that source is gone (env->forget) and the node leaves at once, even
 * when the union is empty (an agent with an empty local epmd), which
 * no answer could say.  When the union is empty (no sender and
 * no local node) nothing is reported: that would be "unknown" anyway,
 * so an agent whose own epmd is empty keeps the last remote nodes it
 * knew until some sender is heard again (the engine's rule for unknown
 * answers).
 *
 * Authentication.  With `secret` (or `secrets`, a ring: seal with the
 * first, accept any) packets are AES-256-GCM sealed, carry a timestamp
 * and a random nonce, and are checked for the key id, the tag, the
 * cluster label, a timestamp within max_skew of this host's clock, and
 * a (sender, nonce) cache over that window, so a replay is dropped.
 * Without a secret the agent warns once at start.  Every dropped packet
 * is counted by reason (gossip_codec.h) and logged the first time for
 * that reason, naming the sender's address, then counted: at most one
 * line per reason every GOSSIP_DROP_LOG_S seconds, with the number held
 * back (log_rate), since anyone on the network can send packets at
 * will.  drop_log_every, which paced the lines by count (a flood at
 * line rate still wrote thousands of lines), is still accepted and no
 * longer used.  libcluster's encrypted form (AES-256-CBC, no MAC, no time)
 * is accepted as libcluster does: it has no replay protection.
 *
 * Linux delivers multicast only to sockets bound to the wildcard or the
 * group address, so if_addr other than 0.0.0.0 or :: hears only
 * unicast and broadcast.  The socket itself is gossip_sock.c's.
 */
#include "common/container.h"
#include "strategies/strat.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/rand.h>
#include <yaml.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"
#include "epmd/epmd_aclient.h"
#include "strategies/gossip_codec.h"
#include "strategies/gossip_sock.h"
#include "strategies/strat_util.h"

#define GOSSIP_DEFAULT_PORT		45892
#define GOSSIP_DEFAULT_INTERVAL_MS	500
#define GOSSIP_DEFAULT_MISSED		4
#define GOSSIP_DEFAULT_SKEW_MS		30000
#define GOSSIP_DEFAULT_POLL_MS		1000
#define GOSSIP_DEFAULT_MAX_SENDERS	256
#define GOSSIP_DEFAULT_REPLAY		65536
#define GOSSIP_DEFAULT_LOG_EVERY	100
/* One drop line per reason per this many seconds, after the first. */
#define GOSSIP_DROP_LOG_S		10
#define GOSSIP_DEFAULT_CLUSTER		"cairn"
/* libcluster beats at :rand.uniform(5_000) ms. */
#define GOSSIP_LC_INTERVAL_MS		5000
/* Datagrams read per wakeup, so one busy socket cannot starve the loop. */
#define GOSSIP_READ_BURST		64

struct gossip_conf {
	unsigned		 port;
	char			*if_addr;
	char			*multicast_addr;
	char			*multicast_if;
	unsigned		 ttl;
	bool			 broadcast_only;
	uint64_t		 interval_ms;
	unsigned		 missed;
	char			*secret;
	struct conf_strlist	 secrets;
	char			*cluster;
	uint64_t		 skew_ms;
	bool			 compat;
	char			*host;
	unsigned		 epmd_port;
	uint64_t		 poll_ms;
	uint64_t		 timeout_ms;
	uint64_t		 max_senders;
	uint64_t		 replay_slots;
	uint64_t		 log_every;
};

static const struct conf_key gossip_keys[] = {
	{ .name = "port", .type = CONF_UINT,
	  .offset = offsetof(struct gossip_conf, port),
	  .min = 1, .max = 65535 },
	{ .name = "if_addr", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, if_addr),
	  .flags = CONF_NONEMPTY },
	{ .name = "multicast_addr", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, multicast_addr),
	  .flags = CONF_NONEMPTY },
	{ .name = "multicast_if", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, multicast_if),
	  .flags = CONF_NONEMPTY },
	{ .name = "multicast_ttl", .type = CONF_UINT,
	  .offset = offsetof(struct gossip_conf, ttl),
	  .min = 0, .max = 255 },
	{ .name = "broadcast_only", .type = CONF_BOOL,
	  .offset = offsetof(struct gossip_conf, broadcast_only) },
	{ .name = "heartbeat_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct gossip_conf, interval_ms),
	  .min = 10, .max = 3600000 },
	{ .name = "missed_heartbeats", .type = CONF_UINT,
	  .offset = offsetof(struct gossip_conf, missed),
	  .min = 1, .max = 1000 },
	{ .name = "secret", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, secret),
	  .flags = CONF_NONEMPTY },
	{ .name = "secrets", .type = CONF_STRLIST,
	  .offset = offsetof(struct gossip_conf, secrets),
	  .flags = CONF_NONEMPTY },
	{ .name = "cluster", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, cluster),
	  .flags = CONF_NONEMPTY },
	{ .name = "max_skew", .type = CONF_DURATION,
	  .offset = offsetof(struct gossip_conf, skew_ms),
	  .min = 100, .max = 86400000 },
	{ .name = "libcluster_compat", .type = CONF_BOOL,
	  .offset = offsetof(struct gossip_conf, compat) },
	{ .name = "host", .type = CONF_STRING,
	  .offset = offsetof(struct gossip_conf, host),
	  .flags = CONF_NONEMPTY },
	{ .name = "epmd_port", .type = CONF_UINT,
	  .offset = offsetof(struct gossip_conf, epmd_port),
	  .min = 1, .max = 65535 },
	{ .name = "polling_interval", .type = CONF_DURATION,
	  .offset = offsetof(struct gossip_conf, poll_ms),
	  .min = 10, .max = 86400000 },
	{ .name = "timeout", .type = CONF_DURATION,
	  .offset = offsetof(struct gossip_conf, timeout_ms),
	  .min = 10, .max = 600000 },
	{ .name = "max_senders", .type = CONF_SIZE,
	  .offset = offsetof(struct gossip_conf, max_senders),
	  .min = 1, .max = 100000 },
	{ .name = "replay_cache", .type = CONF_SIZE,
	  .offset = offsetof(struct gossip_conf, replay_slots),
	  .min = 64, .max = 1 << 24 },
	{ .name = "drop_log_every", .type = CONF_SIZE,
	  .offset = offsetof(struct gossip_conf, log_every),
	  .min = 1, .max = 1000000 },
	{ .name = NULL },
};

/* A node list in one malloc'd block (strat_node_list's shape). */
struct gossip_nodes {
	char	**v;
	size_t	  n;
};

/* Someone heard on the group. */
struct gossip_sender {
	char			 gs_id[GOSSIP_MAX_NAME + 1];
	int			 gs_lc;		/* a libcluster node */
	struct sockaddr_storage	 gs_addr;
	uint64_t		 gs_last_ms;	/* monotonic */
	struct gossip_nodes	 gs_nodes;
};

struct strat {
	ev_io			 rd_w;
	ev_timer		 beat_w;
	ev_timer		 poll_w;
	const struct strat_env	*env;
	int			 fd;
	struct sockaddr_storage	 dst;		/* group, or broadcast */
	socklen_t		 dstlen;
	double			 interval;
	uint64_t		 interval_ms;
	unsigned		 missed;
	uint64_t		 skew_ms;
	int			 compat;
	int			 sealed;
	struct gossip_keyring	 ring;
	uint8_t			 (*lc_keys)[GOSSIP_KEY_LEN];
	size_t			 nlc_keys;
	struct gossip_replay	*replay;
	char			 label[GOSSIP_MAX_LABEL + 1];
	char			 id[GOSSIP_MAX_SENDER + 1];
	/* The local epmd. */
	struct epmd_aq		*q;
	struct sockaddr_storage	 epmd;
	socklen_t		 epmdlen;
	double			 timeout;
	char			 host[256];
	struct gossip_nodes	 local;
	int			 epmd_failing;
	/* Senders. */
	struct gossip_sender	*senders;
	size_t			 nsenders;
	size_t			 max_senders;
	/* Drops by reason, and log pacing. */
	uint64_t		 drops[GOSSIP_DROP_NREASONS];
	struct log_rate		 drop_lr[GOSSIP_DROP_NREASONS];
	uint64_t		 log_every;	/* drop_log_every: unused */
	int			 warned_big;
	uint8_t			 buf[GOSSIP_MAX_PACKET + 1];
	uint8_t			 plain[GOSSIP_MAX_PACKET + 1];
	struct gossip_heartbeat	 hb;
};

static void
gossip_conf_init(void *p)
{
	struct gossip_conf *c = p;

	memset(c, 0, sizeof(*c));
	c->port = GOSSIP_DEFAULT_PORT;
	c->ttl = 1;
	c->interval_ms = GOSSIP_DEFAULT_INTERVAL_MS;
	c->missed = GOSSIP_DEFAULT_MISSED;
	c->skew_ms = GOSSIP_DEFAULT_SKEW_MS;
	c->poll_ms = GOSSIP_DEFAULT_POLL_MS;
	c->timeout_ms = STRAT_DEFAULT_TIMEOUT_MS;
	c->max_senders = GOSSIP_DEFAULT_MAX_SENDERS;
	c->replay_slots = GOSSIP_DEFAULT_REPLAY;
	c->log_every = GOSSIP_DEFAULT_LOG_EVERY;
}

static void
gossip_conf_free(void *p)
{
	conf_free_fields(gossip_keys, p);
}

static uint64_t
gossip_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t
gossip_random32(void)
{
	uint32_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)clock_ms() * 2654435761u;
	return v;
}

/* Copies n names into one malloc'd block; 0 or CAIRN_ERR_NOMEM. */
static int
gossip_nodes_set(struct gossip_nodes *gn, const struct bytes_view *names,
    size_t n)
{
	size_t i, bytes = 0;
	char **v, *p;

	for (i = 0; i < n; i++)
		bytes += names[i].len + 1;
	if ((v = malloc((n + 1) * sizeof(*v) + bytes)) == NULL)
		return CAIRN_ERR_NOMEM;
	p = (char *)(v + n + 1);
	for (i = 0; i < n; i++) {
		v[i] = p;
		memcpy(p, names[i].p, names[i].len);
		p += names[i].len;
		*p++ = '\0';
	}
	v[n] = NULL;
	free(gn->v);
	gn->v = v;
	gn->n = n;
	return 0;
}

static void
gossip_nodes_clear(struct gossip_nodes *gn)
{
	free(gn->v);
	gn->v = NULL;
	gn->n = 0;
}

/*
 * Reporting
 */

static int
gossip_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The source of a libcluster sender: its own heartbeats vouch for it. */
static void
gossip_lc_source(const struct strat *s, const struct gossip_sender *g,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/gossip:%s", s->env->topology, g->gs_id);
}

/*
 * The union of live Cairn senders' nodes and ours, as source
 * <topo>/gossip; each libcluster sender as a source of its own.
 */
static void
gossip_report(struct strat *s)
{
	const struct gossip_sender *g;
	char source[512];
	const char **v;
	size_t i, j, n = s->local.n, k = 0;

	for (i = 0; i < s->nsenders; i++) {
		g = &s->senders[i];
		if (!g->gs_lc) {
			n += g->gs_nodes.n;
			continue;
		}
		if (g->gs_nodes.n == 0)
			continue;
		gossip_lc_source(s, g, source, sizeof(source));
		s->env->report(s->env->arg, source,
		    (const char *const *)g->gs_nodes.v, g->gs_nodes.n, NULL);
	}
	if (n == 0)
		return;		/* would be "unknown": say nothing */
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return;
	for (i = 0; i < s->local.n; i++)
		v[k++] = s->local.v[i];
	for (i = 0; i < s->nsenders; i++)
		if (!s->senders[i].gs_lc)
			for (j = 0; j < s->senders[i].gs_nodes.n; j++)
				v[k++] = s->senders[i].gs_nodes.v[j];
	qsort(v, k, sizeof(*v), gossip_strcmp);
	for (i = j = 0; i < k; i++)
		if (j == 0 || strcmp(v[j - 1], v[i]) != 0)
			v[j++] = v[i];
	snprintf(source, sizeof(source), "%s/gossip", s->env->topology);
	s->env->report(s->env->arg, source, (const char *const *)v, j,
	    "no live sender");
	free(v);
}

/* Forgets senders not heard for missed_heartbeats of their interval. */
static void
gossip_sweep(struct strat *s)
{
	struct gossip_sender *g;
	uint64_t now = clock_ms(), limit;
	char addr[SOCK_NTOP_LEN];
	size_t i;

	for (i = 0; i < s->nsenders;) {
		g = &s->senders[i];
		limit = (uint64_t)s->missed * (g->gs_lc &&
		    s->interval_ms < GOSSIP_LC_INTERVAL_MS ?
		    GOSSIP_LC_INTERVAL_MS : s->interval_ms);
		if (now - g->gs_last_ms <= limit) {
			i++;
			continue;
		}
		log_info("%s/gossip: sender %s (%s) gone: no heartbeat for "
		    "%llu ms; its %zu node(s) leave the answer",
		    s->env->topology, g->gs_id,
		    sock_ntop((struct sockaddr *)&g->gs_addr, addr,
		    sizeof(addr)), (unsigned long long)(now - g->gs_last_ms),
		    g->gs_nodes.n);
		/*
		 * A libcluster node announces itself alone: its heartbeats
		 * stopping is its own word that it is gone, whatever the
		 * rest of the union holds (an empty union says nothing).
		 */
		if (g->gs_lc && s->env->forget != NULL) {
			char source[512];

			gossip_lc_source(s, g, source, sizeof(source));
			s->env->forget(s->env->arg, source);
		}
		gossip_nodes_clear(&g->gs_nodes);
		s->senders[i] = s->senders[--s->nsenders];
	}
}

/*
 * Drops
 */

static void
gossip_drop(struct strat *s, enum gossip_drop why,
    const struct sockaddr_storage *from)
{
	char addr[SOCK_NTOP_LEN];
	uint64_t n;

	if ((unsigned)why >= GOSSIP_DROP_NREASONS)
		why = GOSSIP_DROP_MALFORMED;
	n = ++s->drops[why];
	if (why == GOSSIP_DROP_SELF)
		return;		/* our own packets, looped back: expected */
	if (s->drop_lr[why].lr_interval == 0)
		s->drop_lr[why].lr_interval = GOSSIP_DROP_LOG_S;
	log_rate_warnx(&s->drop_lr[why], "%s/gossip: dropped a packet from "
	    "%s: %s (%llu dropped for this reason)", s->env->topology,
	    sock_ntop((const struct sockaddr *)from, addr, sizeof(addr)),
	    gossip_drop_name(why), (unsigned long long)n);
}

/*
 * Receiving
 */

static struct gossip_sender *
gossip_sender_find(struct strat *s, struct bytes_view id, int lc)
{
	size_t i;

	for (i = 0; i < s->nsenders; i++)
		if (s->senders[i].gs_lc == lc &&
		    strlen(s->senders[i].gs_id) == id.len &&
		    memcmp(s->senders[i].gs_id, id.p, id.len) == 0)
			return &s->senders[i];
	return NULL;
}

/* Records a heartbeat; returns the drop reason (GOSSIP_OK if kept). */
static enum gossip_drop
gossip_heard(struct strat *s, struct bytes_view id, int lc,
    const struct bytes_view *nodes, size_t n,
    const struct sockaddr_storage *from)
{
	struct gossip_sender *g;
	char addr[SOCK_NTOP_LEN];
	int fresh = 0;

	if ((g = gossip_sender_find(s, id, lc)) == NULL) {
		if (s->nsenders >= s->max_senders)
			return GOSSIP_DROP_TOO_MANY;
		g = &s->senders[s->nsenders];
		memset(g, 0, sizeof(*g));
		memcpy(g->gs_id, id.p, id.len);
		g->gs_id[id.len] = '\0';
		g->gs_lc = lc;
		fresh = 1;
	}
	if (gossip_nodes_set(&g->gs_nodes, nodes, n) != 0) {
		if (fresh)
			gossip_nodes_clear(&g->gs_nodes);
		return GOSSIP_DROP_TOO_MANY;
	}
	g->gs_addr = *from;
	g->gs_last_ms = clock_ms();
	if (fresh) {
		s->nsenders++;
		log_info("%s/gossip: sender %s%s (%s) joined with %zu node(s)",
		    s->env->topology, lc ? "libcluster node " : "", g->gs_id,
		    sock_ntop((const struct sockaddr *)from, addr,
		    sizeof(addr)), n);
		gossip_report(s);
	}
	return GOSSIP_OK;
}

static int
gossip_is_local_node(struct strat *s, struct bytes_view node)
{
	size_t i;

	for (i = 0; i < s->local.n; i++)
		if (bytes_view_eq_str(node, s->local.v[i]))
			return 1;
	return 0;
}

static enum gossip_drop
gossip_on_packet(struct strat *s, struct bytes_view pkt,
    const struct sockaddr_storage *from)
{
	struct gossip_heartbeat *hb = &s->hb;
	struct bytes_view node;
	enum gossip_drop why;

	if (s->compat) {
		if (gossip_decode_lc_heartbeat(pkt,
		    (const uint8_t (*)[GOSSIP_KEY_LEN])s->lc_keys, s->nlc_keys,
		    s->plain, sizeof(s->plain), &node, &why) != 0)
			return why;
		/* Our own nodes, as we sent them (loopback) or as another
		 * agent on this host speaks for the same epmd. */
		if (gossip_is_local_node(s, node))
			return GOSSIP_DROP_SELF;
		return gossip_heard(s, node, 1, &node, 1, from);
	}
	if (gossip_decode_heartbeat(pkt, bytes_view_of(s->label,
	    strlen(s->label)), &s->ring, s->plain, sizeof(s->plain), hb,
	    &why) != 0)
		return why;
	if (bytes_view_eq_str(hb->sender, s->id))
		return GOSSIP_DROP_SELF;
	if (hb->sealed && (why = gossip_replay_check(s->replay, hb,
	    gossip_wall_ms(), s->skew_ms)) != GOSSIP_OK)
		return why;
	return gossip_heard(s, hb->sender, 0, hb->nodes, hb->nnodes, from);
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct strat *s = container_of(w, struct strat, rd_w);
	struct sockaddr_storage from;
	socklen_t fromlen;
	enum gossip_drop why;
	ssize_t r;
	int i;

	for (i = 0; i < GOSSIP_READ_BURST; i++) {
		fromlen = sizeof(from);
		r = recvfrom(s->fd, s->buf, sizeof(s->buf), 0,
		    (struct sockaddr *)&from, &fromlen);
		if (r == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("%s/gossip: recvfrom",
				    s->env->topology);
			return;
		}
		if ((size_t)r > GOSSIP_MAX_PACKET)
			why = GOSSIP_DROP_MALFORMED;
		else
			why = gossip_on_packet(s,
			    bytes_view_of(s->buf, (size_t)r), &from);
		if (why != GOSSIP_OK)
			gossip_drop(s, why, &from);
	}
}

/*
 * Sending
 */

static void
gossip_send(struct strat *s, const uint8_t *p, size_t len)
{
	if (sendto(s->fd, p, len, 0, (struct sockaddr *)&s->dst,
	    s->dstlen) == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		log_debug("%s/gossip: sendto: %s", s->env->topology,
		    strerror(errno));
}

static void
gossip_send_heartbeat(struct strat *s)
{
	struct gossip_heartbeat *hb = &s->hb;
	uint8_t iv[GOSSIP_LC_IV_LEN];
	struct bytes_w w;
	size_t i;
	int rc = 0;

	bytes_w_init_fixed(&w, s->buf, GOSSIP_MAX_PACKET);
	if (s->compat) {
		for (i = 0; i < s->local.n; i++) {
			bytes_w_reset(&w);
			if (s->nlc_keys > 0 && RAND_bytes(iv, sizeof(iv)) != 1)
				return;
			if (gossip_encode_lc_heartbeat(&w,
			    bytes_view_of(s->local.v[i],
			    strlen(s->local.v[i])), s->nlc_keys > 0 ?
			    s->lc_keys[0] : NULL, iv) == 0)
				gossip_send(s, w.buf, w.len);
		}
		return;
	}
	memset(hb, 0, sizeof(*hb));
	hb->label = bytes_view_of(s->label, strlen(s->label));
	hb->sender = bytes_view_of(s->id, strlen(s->id));
	hb->ts_ms = gossip_wall_ms();
	if (RAND_bytes(hb->nonce, sizeof(hb->nonce)) != 1) {
		log_warnx("%s/gossip: no random bytes for a nonce",
		    s->env->topology);
		return;
	}
	hb->nnodes = s->local.n < GOSSIP_MAX_NODES ? s->local.n :
	    GOSSIP_MAX_NODES;
	for (i = 0; i < hb->nnodes; i++)
		hb->nodes[i] = bytes_view_of(s->local.v[i],
		    strlen(s->local.v[i]));
	/* Too many or too long names: send what fits, warn once. */
	while ((rc = gossip_encode_heartbeat(&w, hb, s->sealed ?
	    &s->ring.keys[0] : NULL)) == CAIRN_ERR_TOO_BIG && hb->nnodes > 0) {
		hb->nnodes /= 2;
		bytes_w_reset(&w);
	}
	if (rc == 0 && hb->nnodes < s->local.n && !s->warned_big) {
		s->warned_big = 1;
		log_warnx("%s/gossip: %zu local nodes do not fit a heartbeat: "
		    "announcing %zu", s->env->topology, s->local.n,
		    hb->nnodes);
	}
	if (rc == 0)
		gossip_send(s, w.buf, w.len);
}

static void
on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, beat_w);

	gossip_send_heartbeat(s);
	gossip_sweep(s);
	gossip_report(s);
	/* 90-100 % of the interval: never later, so the miss count holds. */
	w->repeat = s->interval * (0.9 + 0.1 * (gossip_random32() %
	    1000) / 1000.);
	ev_timer_again(loop, w);
}

/*
 * The local epmd
 */

static void
on_names(void *arg, int err, const struct epmd_aq_name *names, size_t n)
{
	struct strat *s = arg;
	const char **v = NULL;
	size_t *lens = NULL, i, nn = 0;
	char **nodes = NULL;

	s->q = NULL;
	if (err != 0) {
		if (!s->epmd_failing++)
			log_warnx("%s/gossip: local epmd on port %u: %s; "
			    "announcing the last %zu node(s)",
			    s->env->topology,
			    sock_port((struct sockaddr *)&s->epmd),
			    cairn_strerror(err), s->local.n);
		return;
	}
	if (s->epmd_failing) {
		log_info("%s/gossip: local epmd answering again",
		    s->env->topology);
		s->epmd_failing = 0;
	}
	if (n > 0 && ((v = calloc(n, sizeof(*v))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL))
		goto done;
	for (i = 0; i < n; i++) {
		v[i] = names[i].name;
		lens[i] = names[i].name_len;
	}
	if (strat_node_list(v, lens, n, s->host, s->env->agent->self_name,
	    &nodes, &nn) == 0) {
		free(s->local.v);
		s->local.v = nodes;
		s->local.n = nn;
	}
done:
	free(v);
	free(lens);
}

static void
on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct strat *s = container_of(w, struct strat, poll_w);

	if (s->q != NULL)
		return;		/* the last query is still running */
	s->q = epmd_aq_names(loop, (struct sockaddr *)&s->epmd, s->epmdlen,
	    s->timeout, on_names, s);
}

/*
 * Setup
 */

/* The key ring from secret or secrets. */
static int
gossip_keys_init(struct strat *s, const struct gossip_conf *c, char *err,
    size_t errlen)
{
	const char *one[1];
	const char *const *sec;
	size_t i, n;

	if (c->secret != NULL && c->secrets.n > 0) {
		snprintf(err, errlen, "set secret or secrets, not both");
		return -1;
	}
	one[0] = c->secret;
	sec = c->secret != NULL ? one : (const char *const *)c->secrets.v;
	n = c->secret != NULL ? 1 : c->secrets.n;
	if (n > GOSSIP_MAX_KEYS) {
		snprintf(err, errlen, "secrets: at most %d keys",
		    GOSSIP_MAX_KEYS);
		return -1;
	}
	if (n > 0 && (s->lc_keys = calloc(n, sizeof(*s->lc_keys))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (sec[i][0] == '\0') {
			snprintf(err, errlen, "secrets: an empty secret");
			return -1;
		}
		if (gossip_key_derive(sec[i], strlen(sec[i]),
		    &s->ring.keys[i]) != 0 ||
		    gossip_lc_key_derive(sec[i], strlen(sec[i]),
		    s->lc_keys[i]) != 0)
			goto nomem;
	}
	s->ring.n = n;
	s->nlc_keys = n;
	s->sealed = n > 0;
	if (s->sealed && !s->compat &&
	    (s->replay = gossip_replay_new(c->replay_slots)) == NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory deriving keys");
	return -1;
}

static void
gossip_free(struct strat *s)
{
	size_t i;

	if (s->fd != -1)
		close(s->fd);
	for (i = 0; i < s->nsenders; i++)
		gossip_nodes_clear(&s->senders[i].gs_nodes);
	free(s->senders);
	gossip_nodes_clear(&s->local);
	gossip_replay_free(s->replay);
	OPENSSL_cleanse(&s->ring, sizeof(s->ring));
	if (s->lc_keys != NULL)
		OPENSSL_cleanse(s->lc_keys, s->nlc_keys * sizeof(*s->lc_keys));
	free(s->lc_keys);
	free(s);
}

static struct strat *
gossip_start(const struct strat_env *env, const void *p, char *err,
    size_t errlen)
{
	const struct gossip_conf *c = p;
	const char *label = c->cluster != NULL ? c->cluster :
	    GOSSIP_DEFAULT_CLUSTER;
	uint16_t eport = c->epmd_port ? (uint16_t)c->epmd_port :
	    strat_epmd_port();
	struct gossip_sock_opts so;
	struct strat *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = -1;
	s->env = env;
	s->interval_ms = c->interval_ms;
	s->interval = (double)c->interval_ms / 1000.;
	s->missed = c->missed;
	s->skew_ms = c->skew_ms;
	s->compat = c->compat;
	s->timeout = (double)c->timeout_ms / 1000.;
	s->max_senders = (size_t)c->max_senders;
	s->log_every = c->log_every;
	if (strlen(label) > GOSSIP_MAX_LABEL) {
		snprintf(err, errlen, "cluster: longer than %d bytes",
		    GOSSIP_MAX_LABEL);
		goto fail;
	}
	snprintf(s->label, sizeof(s->label), "%s", label);
	if (c->host != NULL)
		snprintf(s->host, sizeof(s->host), "%s", c->host);
	else
		strat_short_hostname(s->host, sizeof(s->host));
	/* The sender id: this host and a random tag, so that several
	 * agents on one host stay apart. */
	snprintf(s->id, sizeof(s->id), "%.48s-%08x", s->host,
	    (unsigned)gossip_random32());
	if ((s->senders = calloc(s->max_senders, sizeof(*s->senders))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	so.group = c->multicast_addr;
	so.if_addr = c->if_addr;
	so.multicast_if = c->multicast_if;
	so.port = (uint16_t)c->port;
	so.ttl = c->ttl;
	so.broadcast_only = c->broadcast_only;
	if (gossip_keys_init(s, c, err, errlen) == -1 ||
	    (s->fd = gossip_sock_open(&so, &s->dst, &s->dstlen, err,
	    errlen)) == -1)
		goto fail;
	if (!s->sealed)
		log_warnx("%s/gossip: no secret: heartbeats are neither "
		    "authenticated nor encrypted, and anyone who can reach "
		    "port %u can announce nodes", env->topology, c->port);
	else if (s->compat)
		log_warnx("%s/gossip: libcluster_compat: libcluster's "
		    "AES-256-CBC form has no MAC and no timestamp, so "
		    "replayed heartbeats are accepted", env->topology);
	sock_addr_parse("127.0.0.1", eport, &s->epmd, &s->epmdlen);
	ev_io_init(&s->rd_w, on_readable, s->fd, EV_READ);
	ev_io_start(env->agent->loop, &s->rd_w);
	ev_timer_init(&s->poll_w, on_poll, 0., (double)c->poll_ms / 1000.);
	ev_timer_start(env->agent->loop, &s->poll_w);
	/* The first heartbeat once the first epmd answer is likely in. */
	ev_init(&s->beat_w, on_beat);
	s->beat_w.repeat = s->interval < 0.1 ? s->interval : 0.1;
	ev_timer_again(env->agent->loop, &s->beat_w);
	log_info("%s/gossip: sender %s on %s port %u%s%s", env->topology,
	    s->id, gossip_sock_group(&so), c->port,
	    s->sealed ? ", authenticated" : "",
	    s->compat ? ", libcluster format" : "");
	return s;
fail:
	gossip_free(s);
	return NULL;
}

/* What start would refuse, every problem at its key. */
static void
gossip_check(const void *p, strat_conf_err_fn *err, void *arg)
{
	const struct gossip_conf *c = p;
	struct gossip_sock_opts so;
	const char *key;
	char why[256];
	size_t i;

	if (c->secret != NULL && c->secrets.n > 0)
		err(arg, "secrets", -1, "set secret or secrets, not both");
	if (c->secrets.n > GOSSIP_MAX_KEYS) {
		snprintf(why, sizeof(why), "at most %d keys", GOSSIP_MAX_KEYS);
		err(arg, "secrets", -1, why);
	}
	for (i = 0; i < c->secrets.n && i < INT_MAX; i++)
		if (c->secrets.v[i][0] == '\0')
			err(arg, "secrets", (int)i, "an empty secret");
	if (c->cluster != NULL && strlen(c->cluster) > GOSSIP_MAX_LABEL) {
		snprintf(why, sizeof(why), "longer than %d bytes",
		    GOSSIP_MAX_LABEL);
		err(arg, "cluster", -1, why);
	}
	so.group = c->multicast_addr;
	so.if_addr = c->if_addr;
	so.multicast_if = c->multicast_if;
	so.port = (uint16_t)c->port;
	so.ttl = c->ttl;
	so.broadcast_only = c->broadcast_only;
	if (gossip_sock_check(&so, &key, why, sizeof(why)) == -1)
		err(arg, key, -1, why);
}

static void
gossip_stop(struct strat *s)
{
	struct ev_loop *loop = s->env->agent->loop;

	ev_io_stop(loop, &s->rd_w);
	ev_timer_stop(loop, &s->beat_w);
	ev_timer_stop(loop, &s->poll_w);
	epmd_aq_cancel(s->q);
	gossip_free(s);
}

const struct strat_ops strat_gossip = {
	.name = "gossip",
	.keys = gossip_keys,
	.conf_size = sizeof(struct gossip_conf),
	.conf_init = gossip_conf_init,
	.conf_free = gossip_conf_free,
	.check = gossip_check,
	.start = gossip_start,
	.stop = gossip_stop,
};
