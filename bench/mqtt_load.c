/*
 * mqtt_load: a load generator for MQTT 3.1.1 brokers, used by
 * bench/mqtt.sh to drive mosquitto and cairn-broker with the same client.
 * It talks to brokers on 127.0.0.1 and nowhere else.
 *
 * It speaks the wire protocol with its own small encoder and decoder
 * (CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ,
 * PINGRESP, DISCONNECT), not with broker/mqtt/mqtt_codec.c, so that a bug in
 * Cairn's codec cannot hide itself by being on both ends, and so that
 * the generator builds and runs against mosquitto while the broker is
 * still being written.  It is also the one thing a benchmark client must
 * do fast: a PUBLISH is a template copied and patched in place.
 *
 * Modes:
 *
 *	run		publishers and subscribers on streams (-s P:S):
 *			P:P, each publisher to its own subscriber; 1:S, one
 *			topic fanned out to S subscribers; P:1, P topics
 *			fanned in to one subscriber on a '+' filter.  For
 *			-d seconds, then a drain.  QoS 0 or 1 (-q), payload
 *			-b bytes.  Counts deliveries, their latency (the
 *			send time is in the payload), losses, duplicates,
 *			stalls, and the broker's CPU time (-P).
 *	idle		-n connected clients that do nothing (CONNECT, then
 *			idle); holds them (-h, -i) while the driver takes
 *			the broker's RSS, then disconnects them.
 *	ping		one CONNECT, PINGREQ, DISCONNECT: is the broker up?
 *	retained	-n retained messages of -b bytes on "cmlr/<pid>/<i>"
 *			from one publisher at QoS -q, then a fresh subscriber
 *			to "cmlr/<pid>/#" at QoS -q: the time from its SUBSCRIBE
 *			until all -n have arrived (QoS 1 ones acked), the
 *			broker's CPU time (-P), and the worst PINGREQ round
 *			trip of a third client pinging every 2 ms meanwhile
 *			(how long the broker held its loop).  The messages
 *			are cleared again at the end.  Blocking sockets and
 *			poll(2): one publisher, one subscriber, one pinger.
 *	pct		merges latency histograms written by run -H and
 *			prints their percentiles.
 *	freeport	prints a TCP port that is free on 127.0.0.1.
 *
 * -W (run, idle, ping): MQTT over WebSockets, as a browser or paho's
 * transport="websockets" would: an HTTP/1.1 upgrade to /mqtt with the
 * "mqtt" subprotocol, then each flush of a client's output is one
 * masked binary frame, and the broker's binary frames are read as one
 * MQTT byte stream.  The framing is libwslay's event API, over the
 * same non-blocking socket (no loop of its own), so the generator's
 * pacing and counting are the same as over TCP.
 *
 * -V 5 (run, idle, ping): MQTT 5.0 instead of 3.1.1, as a 5.0 client
 * with no use for properties would speak it: CONNECT at level 5 with a
 * property length of 0, SUBSCRIBE and PUBLISH with property length 0
 * (subscription options = the QoS), PUBACKs of two bytes (reason code
 * 0 left out, as 5.0 allows).  From the broker it takes the 5.0 forms:
 * CONNACK, SUBACK, PUBACK with reason codes and properties, and
 * deliveries with properties, which are skipped (their length is
 * checked).  A publisher keeps its QoS 1 window within the Receive
 * Maximum of the broker's CONNACK, as a 5.0 client must (-w is the
 * upper bound).  The retained mode stays 3.1.1.  --aliases n (-V 5):
 * CONNECT says Topic Alias Maximum n, so a broker may send its own
 * aliases (a delivery's topic is not checked: an empty one is fine).
 * --pub-aliases (-V 5): each publisher sets Topic Alias 1 on its first
 * PUBLISH (topic and alias) and sends every later one with an empty
 * topic name and the alias, as a 5.0 client saving bytes does; the
 * broker's CONNACK must allow one (Topic Alias Maximum >= 1).
 *
 * -c (run): the subscribers connect with clean session 0 (3.1.1 only),
 * so that each message is queued for a persistent session: what a
 * broker's persistence (data_dir, mosquitto's `persistence true`)
 * writes.  Their ids are unique per run; the sessions stay in the
 * broker after it.
 *
 * For a cluster, run mode can put the publishers on one node and the
 * subscribers on another (--pub-port, --sub-port), sum the CPU time of
 * several broker processes (-P PID,PID...), and wait before the timed
 * run until every subscriber has heard a probe from its publishers
 * (-R): a subscription on one node reaches the others as a route a
 * moment after its SUBACK, and a message published before that is
 * (rightly) delivered to no one.
 *
 * Pacing.  A stream is one publisher and the subscribers that hear it.
 * A publisher may have at most -o messages outstanding on its stream:
 * published, and not yet seen by its slowest live subscriber.  "Seen"
 * is the highest sequence number a subscriber received from that
 * publisher, so a lost QoS 0 message does not hold the stream back.
 * At QoS 1 it also keeps at most -w PUBLISHes waiting for their PUBACK.
 * The broker is so driven as fast as its subscribers keep up, never
 * flooded until it drops.  A stream that makes no progress for the
 * stall time (-S) is counted as a stall and released.
 *
 * Each result is one line of key=value pairs on stdout, for scripts.
 * Every loop is bounded in count and in time: setup and drain have a
 * timeout (-t), each mode a deadline and a hard stop, and idle stops
 * after a run of consecutive failures.
 *
 * Not a test: it reports errors and never judges them.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <ev.h>
#include <getopt.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wslay/wslay.h>

/* Packet types (high nibble of byte 0) and the first bytes we send. */
#define ML_CONNECT		1
#define ML_CONNACK		2
#define ML_PUBLISH		3
#define ML_PUBACK		4
#define ML_SUBSCRIBE		8
#define ML_SUBACK		9
#define ML_PINGREQ		12
#define ML_PINGRESP		13
#define ML_DISCONNECT		14
#define ML_LEVEL_311		4	/* protocol level of "MQTT" */
#define ML_LEVEL_5		5
#define ML_CLEAN_SESSION	0x02	/* CONNECT flags */

/*
 * The payload starts with a stamp; the rest is filler:
 *
 *	+-----------+----------+-------------------+--------....
 *	| publisher | sequence | send time, ns     | 'x' ...
 *	|    4      |    8     | 8 (CLOCK_MONOTONIC)|
 *	+-----------+----------+-------------------+--------....
 *
 * All big-endian.  Sequence numbers start at 1 on each publisher.
 */
#define ML_STAMP		20
#define ML_PAYLOAD_MAX		65536

/* Topics are "cmlb/<pid>/<publisher>"; client ids "cmlb-<pid>-<r><i>". */
/*
 * A route probe (-R) is a QoS 0 PUBLISH on the stream's topic with the
 * same payload size and sequence number 0: never counted as a delivery,
 * resent every ML_PROBE_S until each subscriber of the stream has one.
 */
#define ML_PROBE_S		0.05
#define ML_PIDS_MAX		8	/* -P pid,pid,... */
#define ML_TOPIC_MAX		48
#define ML_CLIENT_ID_MAX	48

/* The largest packet accepted from the broker (header included). */
#define ML_PACKET_MAX		(ML_PAYLOAD_MAX + 1024)

/*
 * Buffers by role.  A subscriber reads deliveries in 64 KiB gulps and
 * grows its buffer only for a packet larger than that; its output is
 * PUBACKs.  A publisher fills its output up to ML_OUT_HIGH and reads
 * only acks.  An idle client holds a CONNECT and a PINGREQ.
 */
#define ML_SUB_IN		65536
#define ML_SUB_OUT		16384
#define ML_PUB_IN		4096
#define ML_OUT_HIGH		65536
#define ML_PUB_OUT		(ML_OUT_HIGH + ML_PACKET_MAX)
#define ML_IDLE_IN		64
#define ML_IDLE_OUT		128

/* Bounds on the options, so that no loop is unbounded. */
#define ML_CLIENTS_MAX		256	/* publishers or subscribers */
#define ML_IDLE_MAX		1000000
#define ML_WINDOW_MAX		1024
#define ML_OUTSTANDING_MAX	100000
#define ML_SECONDS_MAX		3600
#define ML_TIMEOUT_MS_MAX	600000
#define ML_HOLD_MAX		3600

/* How often the sweep checks timeouts and stalls. */
#define ML_SWEEP_S		0.02

/*
 * Latency histogram, log-linear in microseconds: 1 us buckets below
 * 1024 us, then 64 buckets per power of two (within 1.6 %) up to 2^40
 * us.  Percentiles are bucket midpoints.
 */
#define ML_HIST_LIN		1024
#define ML_HIST_SUB		64
#define ML_HIST_EXP_MAX		40
#define ML_HIST_N		(ML_HIST_LIN + (ML_HIST_EXP_MAX - 10) * ML_HIST_SUB)

enum ml_mode {
	ML_M_RUN,
	ML_M_IDLE,
	ML_M_PING,
};

enum ml_role {
	MR_PUB,
	MR_SUB,
	MR_IDLE,
};

/* Where one connection is. */
enum ml_state {
	MS_FREE,	/* no socket (idle mode: not started yet) */
	MS_CONNECTING,	/* connect(2) and CONNECT sent, no CONNACK yet */
	MS_SUBSCRIBING,	/* subscriber: SUBSCRIBE sent, no SUBACK yet */
	MS_READY,	/* connected (and subscribed); idle: held */
	MS_PINGING,	/* ping mode: PINGREQ sent, no PINGRESP yet */
	MS_DEAD,	/* failed, dropped or closed; never reused */
};

/* Why a connection failed.  One counter each, printed as err_<name>. */
enum ml_err {
	ME_CONNECT,	/* connect(2) failed: refused, no ports, ... */
	ME_TIMEOUT,	/* no CONNACK or SUBACK within -t */
	ME_CLOSED,	/* the broker closed the connection */
	ME_RESET,	/* ECONNRESET or EPIPE */
	ME_BAD,		/* malformed or unexpected packet from the broker */
	ME_REFUSED,	/* CONNACK rc != 0, or SUBACK not granting our QoS */
	ME_SOCKET,	/* socket(2) failed: out of descriptors */
	ME_ACK,		/* PUBACK for an id not in flight (not fatal) */
	ME_COUNT,
};

static const char *const ml_err_names[ME_COUNT] = {
	"connect", "timeout", "closed", "reset", "bad", "refused", "socket",
	"ack",
};

/* Phases of run mode. */
enum ml_phase {
	MP_SETUP,	/* connecting and subscribing */
	MP_RUN,		/* publishing */
	MP_DRAIN,	/* no new publishes; waiting for the last deliveries */
	MP_DONE,
};

struct ml;

/* One client connection.  The ev_io comes first: callbacks cast back. */
struct ml_conn {
	ev_io		 mc_io;
	struct ml	*mc_ml;
	enum ml_role	 mc_role;
	enum ml_state	 mc_state;
	uint32_t	 mc_index;	/* among publishers, subscribers, idles */
	int		 mc_fd;
	SSL		*mc_ssl;	/* --tls: NULL until connected */
	int		 mc_tls_rd_wants_wr;	/* SSL_read said WANT_WRITE */
	int		 mc_tls_wr_wants_rd;	/* SSL_write said WANT_READ */
	int		 mc_inflight;	/* idle: counted in m_inflight */
	int		 mc_want_write;	/* the last send hit EAGAIN */
	int		 mc_blocked;	/* input waits for room in mc_out */
	int		 mc_talked;	/* a byte came from the broker */
	double		 mc_start;	/* monotonic, when the wait began */
	uint8_t		*mc_in;
	size_t		 mc_incap;
	size_t		 mc_inlen;
	uint8_t		*mc_out;
	size_t		 mc_outcap;
	size_t		 mc_outlen;
	size_t		 mc_outoff;

	/* Publisher. */
	uint8_t		*mc_tmpl;	/* one whole PUBLISH, to copy */
	int		 mc_aliased;	/* --pub-aliases: alias 1 is set, the
					   template's topic is empty */
	size_t		 mc_tmpllen;
	size_t		 mc_idoff;	/* packet id in the template (QoS 1) */
	size_t		 mc_stampoff;	/* payload stamp in the template */
	uint64_t	 mc_seq;	/* messages published */
	uint64_t	 mc_acked;	/* min over live subscribers of seen */
	uint64_t	 mc_forgiven;	/* released by a stall */
	int		 mc_window;	/* QoS 1 PUBLISHes awaiting PUBACK */
	uint16_t	 mc_next_id;
	int		 mc_rmax;	/* -w, or the 5.0 Receive Maximum */
	uint8_t		*mc_ids;	/* bitmap of ids in flight, 8 KiB */
	double		 mc_progress;	/* last time the stream moved */

	/* Subscriber: per publisher, the highest sequence seen. */
	uint64_t	*mc_seen;
	uint8_t		*mc_probed;	/* -R: a probe came from publisher i */

	/* Publisher, -R: when the last probe went out. */
	double		 mc_probe_at;

	/* -W: WebSockets; mc_ws is made when the 101 arrives. */
	wslay_event_context_ptr mc_ws;
	int		 mc_ws_up;	/* 101 received */
	size_t		 mc_ws_reqoff;	/* upgrade request bytes sent */
	uint8_t		*mc_ws_left;	/* bytes read after the 101 */
	size_t		 mc_ws_leftlen;
	size_t		 mc_ws_leftoff;
	int		 mc_ws_ctrl;	/* the frame being read: control */
	int		 mc_ws_eof;
	int		 mc_ws_nomem;
};

/* The whole run: options, connections, counters. */
struct ml {
	struct ev_loop	*m_loop;
	/*
	 * --tls CAFILE: every connection is TLS, the broker's certificate
	 * checked against CAFILE (host name not checked: 127.0.0.1).
	 * Every connect is a full handshake (no session offered).
	 */
	SSL_CTX		*m_tls;

	enum ml_mode	 m_mode;
	struct sockaddr_in m_addr;
	struct sockaddr_in m_pub_addr;	/* run: publishers connect here */
	struct sockaddr_in m_sub_addr;	/* run: subscribers connect here */
	uint16_t	 m_port;
	uint16_t	 m_pub_port;	/* --pub-port, else -p */
	uint16_t	 m_sub_port;	/* --sub-port, else -p */
	long		 m_self;	/* our pid, in topics and client ids */

	/* Options. */
	uint32_t	 m_npubs;	/* -s P:S */
	uint32_t	 m_nsubs;
	size_t		 m_payload;	/* -b */
	int		 m_qos;		/* -q */
	double		 m_seconds;	/* -d */
	int		 m_window;	/* -w QoS 1 in flight per publisher,
					   or idle connects in flight */
	uint64_t	 m_cap;		/* -o outstanding per stream */
	double		 m_timeout;	/* -t setup, drain, connect */
	double		 m_stall;	/* -S */
	long		 m_pids[ML_PIDS_MAX];	/* -P broker pids */
	int		 m_npids;
	double		 m_cpus0[ML_PIDS_MAX];	/* each pid's CPU at the start */
	double		 m_self_cpu0;	/* our own CPU at the start */
	int		 m_probe;	/* -R: wait for the routes */
	const char	*m_histfile;	/* -H */
	uint32_t	 m_n;		/* -n idle clients */
	double		 m_hold;	/* -h */
	int		 m_hold_stdin;	/* -i */
	uint16_t	 m_keepalive;	/* -k */
	int		 m_ws;		/* -W: over WebSockets */
	int		 m_v5;		/* -V 5: MQTT 5.0 */
	uint16_t	 m_alias_max;	/* --aliases: 5.0 topic alias max */
	int		 m_pub_alias;	/* --pub-aliases: publishers alias */
	int		 m_persist;	/* -c: subscribers clean session 0 */
	int		 m_fail_limit;	/* -f */

	struct ml_conn	*m_pubs;
	struct ml_conn	*m_subs;
	struct ml_conn	*m_idles;
	uint32_t	 m_next;	/* idle: next client to start */
	int		 m_inflight;	/* idle: connects in flight */
	int		 m_consec_fail;
	const char	*m_stopped;	/* why idle connecting stopped early */
	int		 m_stopping;
	enum ml_phase	 m_phase;
	int		 m_setup_failed;
	int		 m_exit;

	/* Counters. */
	uint64_t	 m_ok;		/* idle: connected; run: ready clients */
	uint64_t	 m_err[ME_COUNT];
	uint64_t	 m_published;
	uint64_t	 m_delivered;
	uint64_t	 m_lost;
	uint64_t	 m_dup;
	uint64_t	 m_stalls;
	uint64_t	 m_dropped;	/* idle: held clients the broker closed */
	uint64_t	 m_hist[ML_HIST_N];
	double		 m_lat_sum;
	double		 m_lat_max;

	double		 m_t0;
	double		 m_t1;
	double		 m_tlast;	/* the last delivery */
	double		 m_cpu0;
	double		 m_phase_start;
	double		 m_ready_at;	/* -R: every client ready, probing */
	double		 m_probe_s;	/* -R: how long the probes took */
	uint64_t	 m_probe_need;	/* -R: (publisher, subscriber) pairs */
	uint64_t	 m_probe_got;
	double		 m_ping_sent;
	double		 m_connack_at;
	double		 m_pong_at;

	ev_prepare	 m_prepare;
	ev_timer	 m_sweep;
	ev_timer	 m_deadline;
	ev_timer	 m_hardstop;
	ev_timer	 m_holdtimer;
	ev_timer	 m_pingtimer;
	ev_io		 m_stdin;
	ev_signal	 m_sigint;
	ev_signal	 m_sigterm;
};

static void	ml_usage(void) __attribute__((noreturn));
static double	ml_now(void);
static double	ml_broker_cpu(long);
static double	ml_brokers_cpu(const struct ml *, double *);
static double	ml_self_cpu(void);
static int	ml_parse_pids(struct ml *, char *);
static void	ml_probe_send(struct ml_conn *, double);
static long	ml_num(const char *, long, long, const char *);
static void	ml_put16(uint8_t *, uint16_t);
static void	ml_put32(uint8_t *, uint32_t);
static void	ml_put64(uint8_t *, uint64_t);
static uint16_t	ml_get16(const uint8_t *);
static uint32_t	ml_get32(const uint8_t *);
static uint64_t	ml_get64(const uint8_t *);
static void	ml_raise_nofile(void);
static size_t	ml_put_varint(uint8_t *, size_t);
static size_t	ml_put_string(uint8_t *, const char *);
static int	ml_get_varint(const uint8_t *, size_t, size_t *, size_t *);
static int	ml_v5_props(const uint8_t *, size_t, size_t *, uint32_t *,
		    uint32_t *);
static int	ml_frame(const uint8_t *, size_t, size_t, uint8_t *,
		    const uint8_t **, size_t *, size_t *);
static size_t	ml_hist_bucket(double);
static double	ml_hist_value(size_t);
static double	ml_hist_pct(const uint64_t *, double);
static void	ml_record(struct ml *, double);
static int	ml_out_room(struct ml_conn *, size_t);
static int	ml_queue_connect(struct ml_conn *);
static int	ml_queue_subscribe(struct ml_conn *);
static int	ml_queue_small(struct ml_conn *, uint8_t, const uint8_t *,
		    size_t);
static int	ml_conn_init(struct ml *, struct ml_conn *, enum ml_role,
		    uint32_t);
static int	ml_conn_start(struct ml_conn *);
static void	ml_conn_close(struct ml_conn *);
static void	ml_conn_fail(struct ml_conn *, enum ml_err);
static void	ml_conn_events(struct ml_conn *);
static void	ml_conn_flush(struct ml_conn *);
static void	ml_ws_flush(struct ml_conn *);
static void	ml_goodbye(struct ml_conn *);
static void	ml_ws_read(struct ml_conn *);
static void	ml_conn_read(struct ml_conn *);
static void	ml_conn_process(struct ml_conn *);
static int	ml_handle(struct ml_conn *, uint8_t, const uint8_t *, size_t);
static int	ml_handle_publish(struct ml_conn *, uint8_t, const uint8_t *,
		    size_t);
static int	ml_handle_puback(struct ml_conn *, const uint8_t *, size_t);
static void	ml_ready(struct ml_conn *);
static void	ml_stream(const struct ml *, uint32_t, uint32_t *,
		    uint32_t *);
static uint64_t	ml_pub_acked(struct ml *, struct ml_conn *);
static void	ml_pub_fill(struct ml_conn *);
static int	ml_build_template(struct ml_conn *);
static int	ml_drained(struct ml *);
static void	ml_setup_failed(struct ml *);
static void	ml_run_finish(struct ml *);
static void	ml_io_cb(struct ev_loop *, ev_io *, int);
static void	ml_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	ml_sweep_cb(struct ev_loop *, ev_timer *, int);
static void	ml_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	ml_hardstop_cb(struct ev_loop *, ev_timer *, int);
static void	ml_hold_end(struct ml *);
static void	ml_hold_cb(struct ev_loop *, ev_timer *, int);
static void	ml_ping_cb(struct ev_loop *, ev_timer *, int);
static void	ml_stdin_cb(struct ev_loop *, ev_io *, int);
static void	ml_signal_cb(struct ev_loop *, ev_signal *, int);
static uint64_t	ml_errors(const struct ml *);
static void	ml_print_errors(const struct ml *);
static int	ml_write_hist(const struct ml *);
static int	ml_run(struct ml *);
static void	ml_idle_done(struct ml *);
static int	ml_idle(struct ml *);
static int	ml_ping(struct ml *);
static int	ml_pct(int, char **);
static int	ml_freeport(void);
static int	ml_retained(int, char **);

static void
ml_usage(void)
{
	fprintf(stderr,
	    "usage: mqtt_load run  -p port -s pubs:subs [-b bytes] [-q 0|1] "
	    "[-d seconds]\n"
	    "                      [-w window] [-o outstanding] [-S stall_ms] "
	    "[-P pid[,pid...]] [-H histfile]\n"
	    "                      [-k keepalive] [-t ms] [-R] [-W] "
	    "[--pub-port port] [--sub-port port]\n"
	    "                      [--tls cafile] [-V 5 [--aliases n] "
	    "[--pub-aliases]] [-c]\n"
	    "       mqtt_load idle -p port -n count [-w window] [-h hold] [-i] "
	    "[-k keepalive]\n"
	    "                      [-f fails] [-P pid] [-t ms] "
	    "[--tls cafile] [-V 5]\n"
	    "       mqtt_load ping -p port [-t ms] [-V 5]\n"
	    "       mqtt_load retained -p port -n count [-b bytes] [-q 0|1] "
	    "[-P pid] [-t ms]\n"
	    "       mqtt_load pct  histfile ...\n"
	    "       mqtt_load freeport\n");
	exit(2);
}

static double
ml_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The summed CPU seconds of the -P processes, or -1 when there are none
 * or one cannot be read.  each[i], when given, gets each one's.
 */
static double
ml_brokers_cpu(const struct ml *m, double *each)
{
	double sum = 0, c;
	int i;

	if (m->m_npids == 0)
		return -1;
	for (i = 0; i < m->m_npids; i++) {
		c = ml_broker_cpu(m->m_pids[i]);
		if (each != NULL)
			each[i] = c;
		if (c < 0)
			sum = -1;
		else if (sum >= 0)
			sum += c;
	}
	return sum;
}

/* Our own user plus system CPU seconds: is the generator the limit? */
static double
ml_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* -P 123 or -P 123,456: the broker processes whose CPU is counted. */
static int
ml_parse_pids(struct ml *m, char *arg)
{
	char *tok, *save = NULL;

	m->m_npids = 0;
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (m->m_npids == ML_PIDS_MAX)
			return -1;
		m->m_pids[m->m_npids++] = ml_num(tok, 1, LONG_MAX, "-P");
	}
	return m->m_npids > 0 ? 0 : -1;
}

/*
 * User plus system CPU seconds of process pid, from /proc/pid/stat, or
 * -1.  The command name may hold spaces and parentheses, so the fields
 * are counted from the last ')'.
 */
static double
ml_broker_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	FILE *f;
	size_t n;
	int i;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After ')' come field 3 (state) on; utime is field 14. */
	p++;
	for (i = 3; i < 14; i++) {
		if ((p = strchr(p + 1, ' ')) == NULL)
			return -1;
	}
	if (sscanf(p, " %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static long
ml_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "mqtt_load: %s must be %ld to %ld: %s\n",
		    what, min, max, s);
		exit(2);
	}
	return v;
}

static void
ml_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
ml_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static void
ml_put64(uint8_t *p, uint64_t v)
{
	ml_put32(p, (uint32_t)(v >> 32));
	ml_put32(p + 4, (uint32_t)v);
}

static uint16_t
ml_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
ml_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
ml_get64(const uint8_t *p)
{
	return (uint64_t)ml_get32(p) << 32 | ml_get32(p + 4);
}

/* Every client holds a socket: take all the descriptors we may. */
static void
ml_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			perror("mqtt_load: setrlimit");
	}
}

/* The remaining length: 7 bits a byte, low group first.  Returns 1..4. */
static size_t
ml_put_varint(uint8_t *p, size_t v)
{
	size_t n = 0;

	do {
		p[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			p[n] |= 0x80;
		n++;
	} while (v != 0 && n < 4);
	return n;
}

/* A 2-byte length and the bytes.  Callers keep s short. */
static size_t
ml_put_string(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	ml_put16(p, (uint16_t)n);
	memcpy(p + 2, s, n);
	return 2 + n;
}

/*
 * A variable byte integer at p[0..len): its value and its size (1 to
 * 4).  Returns 0, or -1 when it is cut short or longer than 4 bytes.
 */
static int
ml_get_varint(const uint8_t *p, size_t len, size_t *val, size_t *used)
{
	size_t n = 0, mult = 1, i;

	for (i = 0; i < 4 && i < len; i++) {
		n += (size_t)(p[i] & 0x7f) * mult;
		mult *= 128;
		if ((p[i] & 0x80) == 0) {
			*val = n;
			*used = i + 1;
			return 0;
		}
	}
	return -1;
}

/*
 * The MQTT 5.0 properties at p[0..len): property length, then each
 * property by its type (MQTT 5 2.2.2.2).  *used is the bytes they
 * take, length included; *rmax (if not NULL) gets a Receive Maximum
 * when there is one, *amax (if not NULL) a Topic Alias Maximum.
 * Returns 0, or -1 when they are malformed: cut short, past len, an
 * unknown identifier.
 */
static int
ml_v5_props(const uint8_t *p, size_t len, size_t *used, uint32_t *rmax,
    uint32_t *amax)
{
	size_t plen, n, i, id, k, slen;

	if (ml_get_varint(p, len, &plen, &n) == -1 || plen > len - n)
		return -1;
	*used = n + plen;
	p += n;
	for (i = 0; i < plen; i += k) {
		if (ml_get_varint(p + i, plen - i, &id, &k) == -1)
			return -1;
		i += k;
		switch (id) {
		case 0x01: case 0x17: case 0x19: case 0x24: case 0x25:
		case 0x28: case 0x29: case 0x2a:
			k = 1;
			break;
		case 0x13: case 0x21: case 0x22: case 0x23:
			k = 2;
			if (id == 0x21 && rmax != NULL && plen - i >= 2)
				*rmax = ml_get16(p + i);
			if (id == 0x22 && amax != NULL && plen - i >= 2)
				*amax = ml_get16(p + i);
			break;
		case 0x02: case 0x11: case 0x18: case 0x27:
			k = 4;
			break;
		case 0x0b:
			if (ml_get_varint(p + i, plen - i, &slen, &k) == -1)
				return -1;
			break;
		case 0x03: case 0x08: case 0x09: case 0x12: case 0x15:
		case 0x16: case 0x1a: case 0x1c: case 0x1f:
			if (plen - i < 2)
				return -1;
			k = 2 + ml_get16(p + i);
			break;
		case 0x26:
			if (plen - i < 2)
				return -1;
			slen = 2 + ml_get16(p + i);
			if (plen - i < slen + 2)
				return -1;
			k = slen + 2 + ml_get16(p + i + slen);
			break;
		default:
			return -1;
		}
		if (k > plen - i)
			return -1;
	}
	return 0;
}

/*
 * Finds the packet at the start of p[0..len).  Returns 1 with *first
 * (byte 0), *body, *blen and *total (header included), 0 when more
 * bytes are needed, -1 when the header is malformed (a fifth varint
 * byte, an overlong varint) or the packet is larger than max.
 */
static int
ml_frame(const uint8_t *p, size_t len, size_t max, uint8_t *first,
    const uint8_t **body, size_t *blen, size_t *total)
{
	size_t rem = 0, i;

	for (i = 1; i <= 4; i++) {
		if (i >= len)
			return 0;
		rem |= (size_t)(p[i] & 0x7f) << (7 * (i - 1));
		if ((p[i] & 0x80) == 0)
			break;
	}
	if (i > 4)
		return -1;
	/* A last byte of 0 after the first is an overlong encoding. */
	if (i > 1 && p[i] == 0)
		return -1;
	if (1 + i + rem > max)
		return -1;
	if (len < 1 + i + rem)
		return 0;
	*first = p[0];
	*body = p + 1 + i;
	*blen = rem;
	*total = 1 + i + rem;
	return 1;
}

static size_t
ml_hist_bucket(double us)
{
	uint64_t v;
	int e;

	if (us < 0)
		us = 0;
	if (us < ML_HIST_LIN)
		return (size_t)us;
	if (us >= ldexp(1.0, ML_HIST_EXP_MAX))
		return ML_HIST_N - 1;
	v = (uint64_t)us;
	for (e = 10; e < ML_HIST_EXP_MAX - 1 && (v >> (e + 1)) != 0; e++)
		;
	return ML_HIST_LIN + (size_t)(e - 10) * ML_HIST_SUB +
	    (size_t)((v >> (e - 6)) & (ML_HIST_SUB - 1));
}

/* The lowest value of bucket b, in microseconds. */
static double
ml_hist_value(size_t b)
{
	size_t e, sub;

	if (b < ML_HIST_LIN)
		return (double)b;
	e = 10 + (b - ML_HIST_LIN) / ML_HIST_SUB;
	sub = (b - ML_HIST_LIN) % ML_HIST_SUB;
	return ldexp((double)(ML_HIST_SUB + sub), (int)e - 6);
}

/* The pct-th percentile, the midpoint of its bucket, in microseconds. */
static double
ml_hist_pct(const uint64_t *h, double pct)
{
	uint64_t n = 0, want, seen = 0;
	size_t b;

	for (b = 0; b < ML_HIST_N; b++)
		n += h[b];
	if (n == 0)
		return 0;
	want = (uint64_t)ceil((double)n * pct / 100.0);
	if (want < 1)
		want = 1;
	for (b = 0; b < ML_HIST_N; b++) {
		seen += h[b];
		if (seen >= want)
			break;
	}
	if (b >= ML_HIST_N - 1)
		return ml_hist_value(ML_HIST_N - 1);
	return (ml_hist_value(b) + ml_hist_value(b + 1)) / 2;
}

static void
ml_record(struct ml *m, double secs)
{
	m->m_hist[ml_hist_bucket(secs * 1e6)]++;
	m->m_lat_sum += secs;
	if (secs > m->m_lat_max)
		m->m_lat_max = secs;
}

/*
 * Makes room for n more bytes in mc_out, moving the unsent bytes to
 * the front if that helps.  Returns 0, or -1 when there is not room.
 */
static int
ml_out_room(struct ml_conn *mc, size_t n)
{
	if (mc->mc_outoff == mc->mc_outlen)
		mc->mc_outoff = mc->mc_outlen = 0;
	if (mc->mc_outcap - mc->mc_outlen >= n)
		return 0;
	if (mc->mc_outoff > 0) {
		memmove(mc->mc_out, mc->mc_out + mc->mc_outoff,
		    mc->mc_outlen - mc->mc_outoff);
		mc->mc_outlen -= mc->mc_outoff;
		mc->mc_outoff = 0;
	}
	return mc->mc_outcap - mc->mc_outlen >= n ? 0 : -1;
}

/*
 * CONNECT, 3.1.1, clean session, no will, user or password:
 *
 *	0x10 | rem | 00 04 'MQTT' | 04 | flags 02 | keepalive(2) | id(2+n)
 *
 * -V 5: level 05 and a property length of 0 after the keepalive (clean
 * start, session expiry 0: the same session as 3.1.1's clean session).
 */
static int
ml_queue_connect(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	char id[ML_CLIENT_ID_MAX];
	uint8_t body[11 + 3 + 2 + ML_CLIENT_ID_MAX], *p;
	size_t blen;

	snprintf(id, sizeof(id), "cmlb-%ld-%c%u", m->m_self,
	    mc->mc_role == MR_PUB ? 'p' : mc->mc_role == MR_SUB ? 's' : 'i',
	    mc->mc_index);
	blen = ml_put_string(body, "MQTT");
	body[blen++] = m->m_v5 ? ML_LEVEL_5 : ML_LEVEL_311;
	body[blen++] = m->m_persist && !m->m_v5 && mc->mc_role == MR_SUB ?
	    0 : ML_CLEAN_SESSION;
	ml_put16(body + blen, m->m_keepalive);
	blen += 2;
	if (m->m_v5 && m->m_alias_max > 0) {
		/* --aliases: the broker may send its topic aliases. */
		body[blen++] = 3;
		body[blen++] = 0x22;
		ml_put16(body + blen, m->m_alias_max);
		blen += 2;
	} else if (m->m_v5)
		body[blen++] = 0;
	blen += ml_put_string(body + blen, id);
	if (ml_out_room(mc, 1 + 4 + blen) == -1)
		return -1;
	p = mc->mc_out + mc->mc_outlen;
	p[0] = ML_CONNECT << 4;
	mc->mc_outlen += 1 + ml_put_varint(p + 1, blen);
	memcpy(mc->mc_out + mc->mc_outlen, body, blen);
	mc->mc_outlen += blen;
	return 0;
}

/*
 * SUBSCRIBE, one filter:
 *
 *	0x82 | rem | id(2) = 1 | filter(2+n) | QoS
 *
 * -V 5: a property length of 0 after the id; the options byte is the
 * QoS (no local, retain as published, retain handling all 0).
 *
 * Pairs and fan-out subscribe to one publisher's topic, fan-in to all.
 */
static int
ml_queue_subscribe(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	char filter[ML_TOPIC_MAX];
	uint8_t body[2 + 1 + 2 + ML_TOPIC_MAX + 1], *p;
	size_t blen;

	if (m->m_nsubs == 1 && m->m_npubs > 1)
		snprintf(filter, sizeof(filter), "cmlb/%ld/+", m->m_self);
	else
		snprintf(filter, sizeof(filter), "cmlb/%ld/%u", m->m_self,
		    m->m_npubs == 1 ? 0 : mc->mc_index);
	ml_put16(body, 1);
	blen = 2;
	if (m->m_v5)
		body[blen++] = 0;
	blen += ml_put_string(body + blen, filter);
	body[blen++] = (uint8_t)m->m_qos;
	if (ml_out_room(mc, 1 + 4 + blen) == -1)
		return -1;
	p = mc->mc_out + mc->mc_outlen;
	p[0] = ML_SUBSCRIBE << 4 | 0x02;
	mc->mc_outlen += 1 + ml_put_varint(p + 1, blen);
	memcpy(mc->mc_out + mc->mc_outlen, body, blen);
	mc->mc_outlen += blen;
	return 0;
}

/* A packet with a short body: PUBACK, PINGREQ, DISCONNECT. */
static int
ml_queue_small(struct ml_conn *mc, uint8_t first, const uint8_t *body,
    size_t blen)
{
	uint8_t *p;

	if (ml_out_room(mc, 2 + blen) == -1)
		return -1;
	p = mc->mc_out + mc->mc_outlen;
	p[0] = first;
	p[1] = (uint8_t)blen;
	if (blen > 0)
		memcpy(p + 2, body, blen);
	mc->mc_outlen += 2 + blen;
	return 0;
}

/* Allocates a connection's buffers by role.  Returns 0 or -1. */
static int
ml_conn_init(struct ml *m, struct ml_conn *mc, enum ml_role role,
    uint32_t index)
{
	mc->mc_ml = m;
	mc->mc_role = role;
	mc->mc_index = index;
	mc->mc_fd = -1;
	mc->mc_state = MS_FREE;
	switch (role) {
	case MR_PUB:
		mc->mc_incap = ML_PUB_IN;
		mc->mc_outcap = ML_PUB_OUT;
		mc->mc_ids = calloc(65536 / 8, 1);
		mc->mc_next_id = 1;
		if (mc->mc_ids == NULL || ml_build_template(mc) == -1)
			return -1;
		break;
	case MR_SUB:
		mc->mc_incap = ML_SUB_IN;
		mc->mc_outcap = ML_SUB_OUT;
		mc->mc_seen = calloc(m->m_npubs, sizeof(*mc->mc_seen));
		if (mc->mc_seen == NULL)
			return -1;
		if (m->m_probe && (mc->mc_probed = calloc(m->m_npubs,
		    1)) == NULL)
			return -1;
		break;
	case MR_IDLE:
		mc->mc_incap = ML_IDLE_IN;
		mc->mc_outcap = ML_IDLE_OUT;
		break;
	}
	/* -W: room for the upgrade's answer (about 130 bytes). */
	if (m->m_ws && mc->mc_incap < 1024)
		mc->mc_incap = 1024;
	mc->mc_in = malloc(mc->mc_incap);
	mc->mc_out = malloc(mc->mc_outcap);
	return mc->mc_in == NULL || mc->mc_out == NULL ? -1 : 0;
}

/*
 * Opens a non-blocking socket to the broker and sends CONNECT.  Returns
 * 0 when under way (it ends in ml_ready or ml_conn_fail), -1 when it
 * failed at once (counted; the connection is dead).
 */
static int
ml_conn_start(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	int fd, one = 1;

	mc->mc_start = ml_now();
	if (mc->mc_role == MR_IDLE) {
		mc->mc_inflight = 1;
		m->m_inflight++;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		ml_conn_fail(mc, ME_SOCKET);
		return -1;
	}
	mc->mc_fd = fd;
	/* Packets go out when written, as from any MQTT client library. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_init(&mc->mc_io, ml_io_cb, fd, 0);
	mc->mc_state = MS_CONNECTING;
	if (connect(fd, (struct sockaddr *)(mc->mc_role == MR_PUB ?
	    &m->m_pub_addr : mc->mc_role == MR_SUB ? &m->m_sub_addr :
	    &m->m_addr), sizeof(m->m_addr)) == -1 && errno != EINPROGRESS) {
		ml_conn_fail(mc, ME_CONNECT);
		return -1;
	}
	if (ml_queue_connect(mc) == -1) {
		ml_conn_fail(mc, ME_SOCKET);
		return -1;
	}
	if (m->m_tls != NULL) {
		if ((mc->mc_ssl = SSL_new(m->m_tls)) == NULL ||
		    SSL_set_fd(mc->mc_ssl, fd) != 1) {
			ml_conn_fail(mc, ME_SOCKET);
			return -1;
		}
		SSL_set_connect_state(mc->mc_ssl);
		/* SSL_write on a socket still connecting fails: wait. */
		mc->mc_want_write = 1;
		ml_conn_events(mc);
		return 0;
	}
	/*
	 * On loopback the handshake is usually done by now; a send that
	 * finds the socket still connecting waits for writability, which
	 * is also when a failed connect shows.
	 */
	ml_conn_flush(mc);
	if (mc->mc_state == MS_DEAD)
		return -1;
	ml_conn_events(mc);
	return 0;
}

/* Stops the watcher and closes the socket; the connection is dead. */
static void
ml_conn_close(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;

	if (mc->mc_ssl != NULL) {
		SSL_free(mc->mc_ssl);
		mc->mc_ssl = NULL;
		ERR_clear_error();
	}
	if (mc->mc_fd != -1) {
		ev_io_stop(m->m_loop, &mc->mc_io);
		close(mc->mc_fd);
		mc->mc_fd = -1;
	}
	if (mc->mc_ws != NULL) {
		wslay_event_context_free(mc->mc_ws);
		mc->mc_ws = NULL;
	}
	free(mc->mc_ws_left);
	mc->mc_ws_left = NULL;
	mc->mc_ws_leftlen = mc->mc_ws_leftoff = 0;
	mc->mc_ws_up = 0;
	mc->mc_ws_reqoff = 0;
	if (mc->mc_inflight) {
		mc->mc_inflight = 0;
		m->m_inflight--;
	}
	mc->mc_state = MS_DEAD;
}

static void
ml_conn_fail(struct ml_conn *mc, enum ml_err why)
{
	struct ml *m = mc->mc_ml;

	if (mc->mc_state == MS_DEAD)
		return;
	if (mc->mc_role == MR_IDLE && mc->mc_state == MS_READY) {
		/* A held client: the broker dropped it. */
		m->m_dropped++;
	} else {
		m->m_err[why]++;
		m->m_consec_fail++;
	}
	ml_conn_close(mc);
	if (m->m_mode == ML_M_IDLE && !m->m_stopping &&
	    m->m_consec_fail >= m->m_fail_limit) {
		m->m_stopping = 1;
		m->m_stopped = "consecutive-failures";
	}
	if (m->m_mode == ML_M_PING)
		ev_break(m->m_loop, EVBREAK_ALL);
}

/*
 * Points the watcher at what the buffers call for: read while there is
 * room and input is not waiting on output, write while a send is
 * pending.  Touches libev only on change.
 */
static void
ml_conn_events(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	int ev = 0;

	if (mc->mc_fd == -1)
		return;
	if ((!mc->mc_blocked && mc->mc_inlen < mc->mc_incap) ||
	    mc->mc_tls_wr_wants_rd)
		ev |= EV_READ;
	if (mc->mc_want_write || mc->mc_tls_rd_wants_wr)
		ev |= EV_WRITE;
	if (mc->mc_io.events == ev && ev_is_active(&mc->mc_io))
		return;
	ev_io_stop(m->m_loop, &mc->mc_io);
	if (ev != 0) {
		ev_io_set(&mc->mc_io, mc->mc_fd, ev);
		ev_io_start(m->m_loop, &mc->mc_io);
	}
}

/*
 * --tls: SSL_write or SSL_read as send(2)/recv(2) would answer: > 0,
 * 0 (read: closed), or -1 with errno EAGAIN (and the direction TLS
 * waits for noted) or ECONNRESET.
 */
static ssize_t
ml_tls_io(struct ml_conn *mc, int wr, void *buf, size_t len)
{
	int n;

	ERR_clear_error();
	errno = 0;
	if (len > INT_MAX)
		len = INT_MAX;
	if (wr) {
		mc->mc_tls_wr_wants_rd = 0;
		n = SSL_write(mc->mc_ssl, buf, (int)len);
	} else {
		mc->mc_tls_rd_wants_wr = 0;
		n = SSL_read(mc->mc_ssl, buf, (int)len);
	}
	if (n > 0)
		return n;
	switch (SSL_get_error(mc->mc_ssl, n)) {
	case SSL_ERROR_WANT_READ:
		if (wr)
			mc->mc_tls_wr_wants_rd = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (!wr)
			mc->mc_tls_rd_wants_wr = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!wr && errno == 0 && ERR_peek_error() == 0)
			return 0;
		/* FALLTHROUGH */
	default:
		if (errno == 0)
			errno = ECONNRESET;
		return -1;
	}
}

/* The 2-byte DISCONNECT in mc_out, once, without waiting. */
static void
ml_bye(struct ml_conn *mc)
{
	if (mc->mc_ssl != NULL)
		(void)ml_tls_io(mc, 1, mc->mc_out, 2);
	else
		(void)send(mc->mc_fd, mc->mc_out, 2, MSG_NOSIGNAL);
}

/* Sends what mc_out holds, until done or EAGAIN. */
static void
ml_conn_flush(struct ml_conn *mc)
{
	ssize_t n;

	if (mc->mc_ml->m_ws) {
		ml_ws_flush(mc);
		return;
	}
	mc->mc_want_write = 0;
	while (mc->mc_outoff < mc->mc_outlen) {
		if (mc->mc_ssl != NULL)
			n = ml_tls_io(mc, 1, mc->mc_out + mc->mc_outoff,
			    mc->mc_outlen - mc->mc_outoff);
		else
			n = send(mc->mc_fd, mc->mc_out + mc->mc_outoff,
			    mc->mc_outlen - mc->mc_outoff, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    (errno == ENOTCONN && !mc->mc_talked)) {
				/* TLS waiting for a record: the read side. */
				mc->mc_want_write = !mc->mc_tls_wr_wants_rd;
				return;
			}
			ml_conn_fail(mc, mc->mc_talked ? ME_RESET :
			    ME_CONNECT);
			return;
		}
		mc->mc_outoff += (size_t)n;
	}
	mc->mc_outoff = mc->mc_outlen = 0;
}

/* One recv into the free end of mc_in, then the packets in it. */
static void
ml_conn_read(struct ml_conn *mc)
{
	ssize_t n;

	if (mc->mc_ml->m_ws && mc->mc_ws_up) {
		ml_ws_read(mc);
		return;
	}
	if (mc->mc_inlen == mc->mc_incap)
		return;
	if (mc->mc_ssl != NULL)
		n = ml_tls_io(mc, 0, mc->mc_in + mc->mc_inlen,
		    mc->mc_incap - mc->mc_inlen);
	else
		n = recv(mc->mc_fd, mc->mc_in + mc->mc_inlen,
		    mc->mc_incap - mc->mc_inlen, 0);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		ml_conn_fail(mc, !mc->mc_talked &&
		    errno == ECONNREFUSED ? ME_CONNECT : ME_RESET);
		return;
	}
	if (n == 0) {
		ml_conn_fail(mc, ME_CLOSED);
		return;
	}
	mc->mc_talked = 1;
	mc->mc_inlen += (size_t)n;
	if (mc->mc_ml->m_ws) {
		ml_ws_read(mc);		/* the upgrade's answer */
		return;
	}
	ml_conn_process(mc);
}

/*
 * DISCONNECT, as a well-behaved client says goodbye: one non-blocking
 * try, framed under -W.
 */
static void
ml_goodbye(struct ml_conn *mc)
{
	mc->mc_outoff = mc->mc_outlen = 0;
	if (ml_queue_small(mc, ML_DISCONNECT << 4, NULL, 0) != 0)
		return;
	if (mc->mc_ml->m_ws)
		ml_ws_flush(mc);
	else
		ml_bye(mc);
}

/* ---- -W: WebSockets through wslay ---------------------------------- */

static const char ml_ws_req[] =
    "GET /mqtt HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: mqtt\r\n\r\n";

static ssize_t
ml_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	struct ml_conn *mc = arg;
	size_t left = mc->mc_ws_leftlen - mc->mc_ws_leftoff;
	ssize_t n;

	if (left > 0) {
		n = (ssize_t)(len < left ? len : left);
		memcpy(buf, mc->mc_ws_left + mc->mc_ws_leftoff, (size_t)n);
		mc->mc_ws_leftoff += (size_t)n;
		return n;
	}
	n = recv(mc->mc_fd, buf, len, 0);
	if (n == -1) {
		wslay_event_set_error(ctx, errno == EAGAIN ||
		    errno == EWOULDBLOCK || errno == EINTR ?
		    WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if (n == 0) {
		mc->mc_ws_eof = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static ssize_t
ml_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ml_conn *mc = arg;
	ssize_t n;

	n = send(mc->mc_fd, data, len, MSG_NOSIGNAL);
	if (n == -1) {
		wslay_event_set_error(ctx, errno == EAGAIN ||
		    errno == EWOULDBLOCK || errno == EINTR ?
		    WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

/* Masks need not be secret on loopback: a cheap xorshift. */
static int
ml_ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	return 0;
}

static void
ml_ws_start_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *a, void *arg)
{
	((struct ml_conn *)arg)->mc_ws_ctrl = (a->opcode & 0x8) != 0;
}

/* A binary frame's bytes go on the end of mc_in, grown as needed. */
static void
ml_ws_chunk_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_chunk_arg *a, void *arg)
{
	struct ml_conn *mc = arg;
	size_t cap;
	uint8_t *p;

	if (mc->mc_ws_ctrl || mc->mc_ws_nomem || a->data_length == 0)
		return;
	if (a->data_length > mc->mc_incap - mc->mc_inlen) {
		cap = mc->mc_incap * 2;
		while (cap - mc->mc_inlen < a->data_length)
			cap *= 2;
		if ((p = realloc(mc->mc_in, cap)) == NULL) {
			mc->mc_ws_nomem = 1;
			return;
		}
		mc->mc_in = p;
		mc->mc_incap = cap;
	}
	memcpy(mc->mc_in + mc->mc_inlen, a->data, a->data_length);
	mc->mc_inlen += a->data_length;
}

static const struct wslay_event_callbacks ml_ws_callbacks = {
	.recv_callback = ml_ws_recv_cb,
	.send_callback = ml_ws_send_cb,
	.genmask_callback = ml_ws_genmask_cb,
	.on_frame_recv_start_callback = ml_ws_start_cb,
	.on_frame_recv_chunk_callback = ml_ws_chunk_cb,
};

/*
 * Before the 101: sends the upgrade request (MQTT waits in mc_out).
 * After: mc_out goes out as one binary frame, with what wslay holds.
 */
static void
ml_ws_flush(struct ml_conn *mc)
{
	struct wslay_event_msg msg;
	ssize_t n;

	mc->mc_want_write = 0;
	if (!mc->mc_ws_up) {
		while (mc->mc_ws_reqoff < sizeof(ml_ws_req) - 1) {
			n = send(mc->mc_fd, ml_ws_req + mc->mc_ws_reqoff,
			    sizeof(ml_ws_req) - 1 - mc->mc_ws_reqoff,
			    MSG_NOSIGNAL);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    (errno == ENOTCONN && !mc->mc_talked)) {
					mc->mc_want_write = 1;
					return;
				}
				ml_conn_fail(mc, mc->mc_talked ? ME_RESET :
				    ME_CONNECT);
				return;
			}
			mc->mc_ws_reqoff += (size_t)n;
		}
		return;
	}
	if (mc->mc_outlen > mc->mc_outoff) {
		msg.opcode = WSLAY_BINARY_FRAME;
		msg.msg = mc->mc_out + mc->mc_outoff;
		msg.msg_length = mc->mc_outlen - mc->mc_outoff;
		if (wslay_event_queue_msg(mc->mc_ws, &msg) != 0) {
			ml_conn_fail(mc, ME_RESET);
			return;
		}
		mc->mc_outoff = mc->mc_outlen = 0;
	}
	if (wslay_event_send(mc->mc_ws) != 0) {
		ml_conn_fail(mc, ME_RESET);
		return;
	}
	mc->mc_want_write = wslay_event_want_write(mc->mc_ws);
}

/*
 * Before the 101: mc_in holds what came; once the answer's head is
 * whole, checks for 101, keeps what follows for wslay and sends the
 * waiting CONNECT.  After: frames through wslay into mc_in.
 */
static void
ml_ws_read(struct ml_conn *mc)
{
	uint8_t *end;
	size_t head;

	if (!mc->mc_ws_up) {
		end = memmem(mc->mc_in, mc->mc_inlen, "\r\n\r\n", 4);
		if (end == NULL) {
			if (mc->mc_inlen == mc->mc_incap)
				ml_conn_fail(mc, ME_BAD);
			return;
		}
		head = (size_t)(end - mc->mc_in) + 4;
		if (mc->mc_inlen < 12 ||
		    memcmp(mc->mc_in, "HTTP/1.1 101", 12) != 0) {
			ml_conn_fail(mc, ME_BAD);
			return;
		}
		if (mc->mc_inlen > head) {
			mc->mc_ws_leftlen = mc->mc_inlen - head;
			if ((mc->mc_ws_left = malloc(mc->mc_ws_leftlen)) ==
			    NULL) {
				ml_conn_fail(mc, ME_SOCKET);
				return;
			}
			memcpy(mc->mc_ws_left, mc->mc_in + head,
			    mc->mc_ws_leftlen);
		}
		mc->mc_inlen = 0;
		if (wslay_event_context_client_init(&mc->mc_ws,
		    &ml_ws_callbacks, mc) != 0) {
			ml_conn_fail(mc, ME_SOCKET);
			return;
		}
		wslay_event_config_set_no_buffering(mc->mc_ws, 1);
		wslay_event_config_set_max_recv_msg_length(mc->mc_ws,
		    (uint64_t)ML_PACKET_MAX * 16);
		mc->mc_ws_up = 1;
		ml_ws_flush(mc);
		if (mc->mc_state == MS_DEAD || mc->mc_ws_leftlen == 0)
			return;
	}
	if (wslay_event_recv(mc->mc_ws) != 0 || mc->mc_ws_eof ||
	    mc->mc_ws_nomem || !wslay_event_get_read_enabled(mc->mc_ws)) {
		ml_conn_fail(mc, mc->mc_ws_eof ? ME_CLOSED : ME_BAD);
		return;
	}
	mc->mc_talked = 1;
	if (wslay_event_want_write(mc->mc_ws))
		ml_ws_flush(mc);
	if (mc->mc_state != MS_DEAD && mc->mc_inlen > 0)
		ml_conn_process(mc);
}

/*
 * Handles every whole packet in mc_in, keeping a partial one.  Stops
 * early when a reply does not fit in mc_out (mc_blocked), or when the
 * connection died.
 */
static void
ml_conn_process(struct ml_conn *mc)
{
	const uint8_t *body;
	size_t off = 0, blen, total, cap;
	uint8_t first, *bigger;
	int r;

	mc->mc_blocked = 0;
	while (mc->mc_state != MS_DEAD) {
		r = ml_frame(mc->mc_in + off, mc->mc_inlen - off,
		    ML_PACKET_MAX, &first, &body, &blen, &total);
		if (r == -1) {
			ml_conn_fail(mc, ME_BAD);
			return;
		}
		if (r == 0)
			break;
		r = ml_handle(mc, first, body, blen);
		if (r == -1)
			return;		/* failed and closed */
		if (r == 1) {
			mc->mc_blocked = 1;
			break;
		}
		off += total;
	}
	if (mc->mc_state == MS_DEAD)
		return;
	if (off > 0) {
		memmove(mc->mc_in, mc->mc_in + off, mc->mc_inlen - off);
		mc->mc_inlen -= off;
	}
	/* A packet larger than the buffer: grow it, up to the cap. */
	if (mc->mc_inlen == mc->mc_incap && mc->mc_incap < ML_PACKET_MAX &&
	    !mc->mc_blocked) {
		cap = mc->mc_incap * 2 > ML_PACKET_MAX ? ML_PACKET_MAX :
		    mc->mc_incap * 2;
		if ((bigger = realloc(mc->mc_in, cap)) == NULL) {
			ml_conn_fail(mc, ME_SOCKET);
			return;
		}
		mc->mc_in = bigger;
		mc->mc_incap = cap;
	}
}

/*
 * One packet from the broker.  Returns 0 when handled, 1 when it must
 * wait for room in mc_out (it is handled again later), -1 when the
 * connection failed.
 */
static int
ml_handle(struct ml_conn *mc, uint8_t first, const uint8_t *body,
    size_t blen)
{
	struct ml *m = mc->mc_ml;
	uint8_t type = first >> 4, flags = first & 0x0f;
	uint32_t rmax, amax;
	size_t used;

	switch (type) {
	case ML_CONNACK:
		/*
		 * 0x20 02 | ack flags (0: clean session) | rc
		 * -V 5: 0x20 rem | flags | reason code | properties
		 */
		rmax = 65535;
		amax = 0;
		if (mc->mc_state != MS_CONNECTING || flags != 0 ||
		    blen < 2 || body[0] != 0 || (!m->m_v5 && blen != 2) ||
		    (m->m_v5 && (ml_v5_props(body + 2, blen - 2, &used,
		    &rmax, &amax) == -1 || used != blen - 2 || rmax == 0))) {
			ml_conn_fail(mc, ME_BAD);
			return -1;
		}
		/* --pub-aliases against a broker that takes none. */
		if (body[1] != 0 || (mc->mc_role == MR_PUB &&
		    m->m_pub_alias && amax == 0)) {
			ml_conn_fail(mc, ME_REFUSED);
			return -1;
		}
		mc->mc_rmax = m->m_window;
		if (rmax < (uint32_t)mc->mc_rmax)
			mc->mc_rmax = (int)rmax;
		if (mc->mc_role == MR_SUB) {
			if (ml_queue_subscribe(mc) == -1) {
				ml_conn_fail(mc, ME_SOCKET);
				return -1;
			}
			mc->mc_state = MS_SUBSCRIBING;
			mc->mc_start = ml_now();
			ml_conn_flush(mc);
			return mc->mc_state == MS_DEAD ? -1 : 0;
		}
		if (m->m_mode == ML_M_PING) {
			m->m_connack_at = ml_now();
			m->m_ping_sent = m->m_connack_at;
			if (ml_queue_small(mc, ML_PINGREQ << 4, NULL, 0) ==
			    -1) {
				ml_conn_fail(mc, ME_SOCKET);
				return -1;
			}
			mc->mc_state = MS_PINGING;
			ml_conn_flush(mc);
			return mc->mc_state == MS_DEAD ? -1 : 0;
		}
		ml_ready(mc);
		return 0;
	case ML_SUBACK:
		/*
		 * 0x90 03 | id 00 01 | granted QoS
		 * -V 5: 0x90 rem | id 00 01 | properties | reason code
		 */
		if (mc->mc_state != MS_SUBSCRIBING || flags != 0 ||
		    blen < 3 || ml_get16(body) != 1 ||
		    (!m->m_v5 && blen != 3) ||
		    (m->m_v5 && (ml_v5_props(body + 2, blen - 2, &used,
		    NULL, NULL) == -1 || used != blen - 3))) {
			ml_conn_fail(mc, ME_BAD);
			return -1;
		}
		if (body[blen - 1] != m->m_qos) {
			ml_conn_fail(mc, ME_REFUSED);
			return -1;
		}
		ml_ready(mc);
		return 0;
	case ML_PUBLISH:
		return ml_handle_publish(mc, flags, body, blen);
	case ML_PUBACK:
		if (flags != 0)
			break;
		return ml_handle_puback(mc, body, blen);
	case ML_PINGRESP:
		if (flags != 0 || blen != 0)
			break;
		if (mc->mc_state == MS_PINGING) {
			m->m_pong_at = ml_now();
			m->m_ok = 1;
			mc->mc_state = MS_READY;
			ev_break(m->m_loop, EVBREAK_ALL);
		}
		return 0;
	default:
		break;
	}
	ml_conn_fail(mc, ME_BAD);
	return -1;
}

/*
 * A delivery, on a subscriber:
 *
 *	0x30 | DUP<<3 | QoS<<1 | RETAIN, rem | topic(2+n) | [id(2)] | payload
 *
 * It must carry our QoS, an id when QoS 1, and a payload of -b bytes
 * stamped by one of this stream's publishers.  -V 5: properties after
 * the id, skipped.
 */
static int
ml_handle_publish(struct ml_conn *mc, uint8_t flags, const uint8_t *body,
    size_t blen)
{
	struct ml *m = mc->mc_ml;
	const uint8_t *pl;
	uint64_t seq, ns;
	uint32_t pub, first, count;
	size_t tlen, hlen, used;
	uint8_t ack[2];
	double now;
	int qos = (flags >> 1) & 3;

	/* A probe (-R) is QoS 0 whatever the run's QoS: checked below. */
	if (mc->mc_role != MR_SUB || mc->mc_state != MS_READY ||
	    (qos != m->m_qos && !(m->m_probe && qos == 0)) || blen < 2)
		goto bad;
	tlen = ml_get16(body);
	hlen = 2 + tlen + (qos > 0 ? 2 : 0);
	if (blen < hlen)
		goto bad;
	if (m->m_v5) {
		if (ml_v5_props(body + hlen, blen - hlen, &used, NULL,
		    NULL) == -1)
			goto bad;
		hlen += used;
	}
	if (blen - hlen != m->m_payload)
		goto bad;
	if (qos > 0) {
		memcpy(ack, body + 2 + tlen, 2);
		if (ml_get16(ack) == 0)
			goto bad;
		/* The PUBACK goes first: without room, wait. */
		if (ml_queue_small(mc, ML_PUBACK << 4, ack, 2) == -1)
			return 1;
	}
	pl = body + hlen;
	pub = ml_get32(pl);
	seq = ml_get64(pl + 4);
	ns = ml_get64(pl + 12);
	if (pub >= m->m_npubs)
		goto bad;
	ml_stream(m, pub, &first, &count);
	if (mc->mc_index < first || mc->mc_index >= first + count)
		goto bad;
	if (m->m_probe && seq == 0 && qos == 0) {
		/* A route probe, during setup or late: not a delivery. */
		if (!mc->mc_probed[pub]) {
			mc->mc_probed[pub] = 1;
			m->m_probe_got++;
		}
		return 0;
	}
	if (qos != m->m_qos)
		goto bad;
	now = ml_now();
	m->m_delivered++;
	m->m_tlast = now;
	ml_record(m, now - (double)ns / 1e9);
	if (seq <= mc->mc_seen[pub])
		m->m_dup++;
	else {
		m->m_lost += seq - mc->mc_seen[pub] - 1;
		mc->mc_seen[pub] = seq;
	}
	return 0;
bad:
	ml_conn_fail(mc, ME_BAD);
	return -1;
}

/*
 * PUBACK on a publisher: 0x40 02 | id.  -V 5: then a reason code and
 * properties, or nothing (success); 0x10 (no matching subscribers) is
 * a success too, anything from 0x80 up an error.
 */
static int
ml_handle_puback(struct ml_conn *mc, const uint8_t *body, size_t blen)
{
	struct ml *m = mc->mc_ml;
	uint16_t id;
	size_t used = 0;

	if (mc->mc_role != MR_PUB || mc->mc_state != MS_READY || blen < 2 ||
	    (!m->m_v5 && blen != 2) || (m->m_v5 && blen > 3 &&
	    (ml_v5_props(body + 3, blen - 3, &used, NULL, NULL) == -1 ||
	    used != blen - 3))) {
		ml_conn_fail(mc, ME_BAD);
		return -1;
	}
	if (blen > 2 && body[2] >= 0x80) {
		ml_conn_fail(mc, ME_REFUSED);
		return -1;
	}
	id = ml_get16(body);
	if ((mc->mc_ids[id >> 3] & (1u << (id & 7))) == 0) {
		/* Acked twice, or released by a stall: note it, go on. */
		m->m_err[ME_ACK]++;
		return 0;
	}
	mc->mc_ids[id >> 3] &= (uint8_t)~(1u << (id & 7));
	mc->mc_window--;
	mc->mc_progress = ml_now();
	return 0;
}

/* Connected (and subscribed). */
static void
ml_ready(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;

	mc->mc_state = MS_READY;
	m->m_ok++;
	m->m_consec_fail = 0;

	if (mc->mc_inflight) {
		mc->mc_inflight = 0;
		m->m_inflight--;
	}
}

/*
 * The subscribers that hear publisher pub: [*first, *first + *count).
 * Pairs: subscriber pub.  Fan-out: all.  Fan-in: the one.
 */
static void
ml_stream(const struct ml *m, uint32_t pub, uint32_t *first,
    uint32_t *count)
{
	if (m->m_npubs == m->m_nsubs) {
		*first = pub;
		*count = 1;
	} else if (m->m_npubs == 1) {
		*first = 0;
		*count = m->m_nsubs;
	} else {
		*first = 0;
		*count = 1;
	}
}

/*
 * How far the stream of pub got: the lowest sequence its live
 * subscribers have seen.  With none left alive, everything counts as
 * seen, so that a dead stream neither publishes nor holds the drain.
 */
static uint64_t
ml_pub_acked(struct ml *m, struct ml_conn *pub)
{
	uint32_t first, count, i;
	uint64_t low = UINT64_MAX, s;

	ml_stream(m, pub->mc_index, &first, &count);
	for (i = first; i < first + count; i++) {
		if (m->m_subs[i].mc_state != MS_READY)
			continue;
		s = m->m_subs[i].mc_seen[pub->mc_index];
		if (s < low)
			low = s;
	}
	return low == UINT64_MAX ? pub->mc_seq : low;
}

/*
 * The template PUBLISH of a publisher: header, topic, id (QoS 1), the
 * properties (-V 5: none, or --pub-aliases: Topic Alias 1, the topic
 * empty once mc_aliased), the stamp and the filler; it replaces the
 * one before.  Returns 0, or -1 with the one before kept.
 */
static int
ml_build_template(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	char topic[ML_TOPIC_MAX];
	size_t rem, n, plen;
	uint8_t *p;

	if (m->m_pub_alias && mc->mc_aliased)
		topic[0] = '\0';
	else
		snprintf(topic, sizeof(topic), "cmlb/%ld/%u", m->m_self,
		    mc->mc_index);
	plen = m->m_pub_alias ? 3 : 0;
	rem = 2 + strlen(topic) + (m->m_qos > 0 ? 2 : 0) +
	    (m->m_v5 ? 1 + plen : 0) + m->m_payload;
	if ((p = malloc(1 + 4 + rem)) == NULL)
		return -1;
	p[0] = (uint8_t)(ML_PUBLISH << 4 | m->m_qos << 1);
	n = 1 + ml_put_varint(p + 1, rem);
	n += ml_put_string(p + n, topic);
	mc->mc_idoff = n;
	if (m->m_qos > 0)
		n += 2;
	if (m->m_v5) {
		p[n++] = (uint8_t)plen;	/* property length */
		if (plen > 0) {
			p[n++] = 0x23;	/* Topic Alias 1 */
			ml_put16(p + n, 1);
			n += 2;
		}
	}
	mc->mc_stampoff = n;
	memset(p + n, 'x', m->m_payload);
	ml_put32(p + n, mc->mc_index);
	free(mc->mc_tmpl);
	mc->mc_tmpl = p;
	mc->mc_tmpllen = n + m->m_payload;
	return 0;
}

/*
 * Queues PUBLISHes while the stream, the QoS 1 window and the output
 * buffer allow.  The stamp is taken as each is queued: the prepare
 * watcher sends them before the loop sleeps.
 */
static void
ml_pub_fill(struct ml_conn *mc)
{
	struct ml *m = mc->mc_ml;
	struct timespec ts;
	uint64_t acked, base, ns;
	uint8_t *p;
	uint16_t id;

	acked = ml_pub_acked(m, mc);
	if (acked > mc->mc_acked) {
		mc->mc_acked = acked;
		mc->mc_progress = ml_now();
	}
	base = mc->mc_acked > mc->mc_forgiven ? mc->mc_acked :
	    mc->mc_forgiven;
	while (mc->mc_seq - base < m->m_cap &&
	    (m->m_qos == 0 || mc->mc_window < mc->mc_rmax) &&
	    mc->mc_outlen - mc->mc_outoff < ML_OUT_HIGH) {
		if (ml_out_room(mc, mc->mc_tmpllen) == -1)
			break;
		p = mc->mc_out + mc->mc_outlen;
		memcpy(p, mc->mc_tmpl, mc->mc_tmpllen);
		if (m->m_qos > 0) {
			/* The next free id; the window keeps some free. */
			id = mc->mc_next_id;
			while (id == 0 ||
			    (mc->mc_ids[id >> 3] & (1u << (id & 7))) != 0)
				id++;
			mc->mc_ids[id >> 3] |= (uint8_t)(1u << (id & 7));
			mc->mc_next_id = (uint16_t)(id + 1);
			ml_put16(p + mc->mc_idoff, id);
			mc->mc_window++;
		}
		mc->mc_seq++;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		ml_put64(p + mc->mc_stampoff + 4, mc->mc_seq);
		ml_put64(p + mc->mc_stampoff + 12, ns);
		mc->mc_outlen += mc->mc_tmpllen;
		m->m_published++;
		if (m->m_pub_alias && !mc->mc_aliased) {
			/* Alias 1 is set: the rest with an empty topic
			 * (without memory, the topic again each time). */
			mc->mc_aliased = 1;
			if (ml_build_template(mc) == -1)
				mc->mc_aliased = 0;
		}
	}
}

/*
 * -R: one QoS 0 PUBLISH on the publisher's topic, payload stamped with
 * sequence 0, unless its output is full (the next sweep tries again).
 */
static void
ml_probe_send(struct ml_conn *mc, double now)
{
	struct ml *m = mc->mc_ml;
	char topic[ML_TOPIC_MAX];
	size_t rem, n;
	uint8_t *p;

	mc->mc_probe_at = now;
	if (mc->mc_state != MS_READY)
		return;
	snprintf(topic, sizeof(topic), "cmlb/%ld/%u", m->m_self,
	    mc->mc_index);
	rem = 2 + strlen(topic) + (m->m_v5 ? 1 : 0) + m->m_payload;
	if (ml_out_room(mc, 1 + 4 + rem) == -1)
		return;
	p = mc->mc_out + mc->mc_outlen;
	p[0] = ML_PUBLISH << 4;
	n = 1 + ml_put_varint(p + 1, rem);
	n += ml_put_string(p + n, topic);
	if (m->m_v5)
		p[n++] = 0;	/* property length */
	memset(p + n, 'x', m->m_payload);
	ml_put32(p + n, mc->mc_index);
	ml_put64(p + n + 4, 0);
	ml_put64(p + n + 12, (uint64_t)(now * 1e9));
	mc->mc_outlen += n + m->m_payload;
}

/* Has every live stream delivered all it published (and been acked)? */
static int
ml_drained(struct ml *m)
{
	struct ml_conn *pub;
	uint32_t i;

	for (i = 0; i < m->m_npubs; i++) {
		pub = &m->m_pubs[i];
		if (pub->mc_state != MS_READY)
			continue;
		if (ml_pub_acked(m, pub) < pub->mc_seq || pub->mc_window > 0)
			return 0;
	}
	return 1;
}

/*
 * A client could not connect or subscribe: the run cannot mean
 * anything, so it ends at once with setup=failed in its line.
 */
static void
ml_setup_failed(struct ml *m)
{
	fprintf(stderr, "mqtt_load: setup failed: %llu of %u clients ready\n",
	    (unsigned long long)m->m_ok, m->m_npubs + m->m_nsubs);
	m->m_setup_failed = 1;
	m->m_exit = 1;
	ml_run_finish(m);
}

/* The run is over: take the broker's CPU time and stop the loop. */
static void
ml_run_finish(struct ml *m)
{
	if (m->m_phase == MP_DONE)
		return;
	m->m_phase = MP_DONE;
	m->m_t1 = m->m_delivered > 0 && m->m_tlast > m->m_t0 ? m->m_tlast :
	    ml_now();
	ev_break(m->m_loop, EVBREAK_ALL);
}

static void
ml_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ml_conn *mc = (struct ml_conn *)w;

	if ((revents & EV_WRITE) && mc->mc_tls_rd_wants_wr &&
	    mc->mc_state != MS_DEAD)
		ml_conn_read(mc);
	if ((revents & EV_READ) && mc->mc_tls_wr_wants_rd &&
	    mc->mc_state != MS_DEAD)
		ml_conn_flush(mc);
	if ((revents & EV_WRITE) && mc->mc_state != MS_DEAD)
		ml_conn_flush(mc);
	if ((revents & EV_READ) && mc->mc_state != MS_DEAD)
		ml_conn_read(mc);
	/* TLS holds decrypted bytes the socket will not announce. */
	while (mc->mc_ssl != NULL && mc->mc_state != MS_DEAD &&
	    SSL_pending(mc->mc_ssl) > 0 && mc->mc_inlen < mc->mc_incap &&
	    !mc->mc_blocked)
		ml_conn_read(mc);
	if (mc->mc_state == MS_DEAD)
		return;
	/* Idle and ping clients answer at once; run mode in prepare. */
	if (mc->mc_role == MR_IDLE && mc->mc_outlen > mc->mc_outoff &&
	    !mc->mc_want_write)
		ml_conn_flush(mc);
	ml_conn_events(mc);
}

/*
 * Before the loop sleeps.  Run mode: fill publishers, retry blocked
 * input, flush every output, check the drain.  Idle mode: start
 * connects while the window allows.
 */
static void
ml_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ml *m = w->data;
	struct ml_conn *mc;
	uint32_t i;

	if (m->m_mode == ML_M_IDLE) {
		while (!m->m_stopping && m->m_next < m->m_n &&
		    m->m_inflight < m->m_window) {
			mc = &m->m_idles[m->m_next++];
			(void)ml_conn_start(mc);
		}
		if (m->m_phase == MP_SETUP && m->m_inflight == 0 &&
		    (m->m_next >= m->m_n || m->m_stopping))
			ml_idle_done(m);
		return;
	}
	if (m->m_mode != ML_M_RUN)
		return;
	if (m->m_phase == MP_SETUP) {
		for (i = 0; i < m->m_npubs + m->m_nsubs; i++) {
			mc = i < m->m_npubs ? &m->m_pubs[i] :
			    &m->m_subs[i - m->m_npubs];
			if (mc->mc_state == MS_DEAD) {
				ml_setup_failed(m);
				return;
			}
		}
	}
	if (m->m_phase == MP_SETUP && m->m_ok == m->m_npubs + m->m_nsubs &&
	    m->m_probe && m->m_probe_got < m->m_probe_need) {
		/* Everyone is in; the routes may not be: probe (sweep). */
		if (m->m_ready_at == 0) {
			m->m_ready_at = ml_now();
			for (i = 0; i < m->m_npubs; i++)
				ml_probe_send(&m->m_pubs[i], m->m_ready_at);
		}
	} else if (m->m_phase == MP_SETUP &&
	    m->m_ok == m->m_npubs + m->m_nsubs) {
		/* Everyone is in: the timed run starts now. */
		if (m->m_probe)
			m->m_probe_s = ml_now() - m->m_ready_at;
		m->m_phase = MP_RUN;
		ev_now_update(loop);
		ev_timer_start(loop, &m->m_deadline);
		m->m_cpu0 = ml_brokers_cpu(m, m->m_cpus0);
		m->m_self_cpu0 = ml_self_cpu();
		m->m_t0 = ml_now();
		for (i = 0; i < m->m_npubs; i++)
			m->m_pubs[i].mc_progress = m->m_t0;
	}
	for (i = 0; i < m->m_nsubs; i++) {
		mc = &m->m_subs[i];
		if (mc->mc_state == MS_DEAD)
			continue;
		if (mc->mc_blocked) {
			(void)ml_out_room(mc, 0);
			ml_conn_process(mc);
		}
		if (mc->mc_state != MS_DEAD && !mc->mc_want_write &&
		    mc->mc_outlen > mc->mc_outoff)
			ml_conn_flush(mc);
		ml_conn_events(mc);
	}
	for (i = 0; i < m->m_npubs; i++) {
		mc = &m->m_pubs[i];
		if (mc->mc_state == MS_DEAD)
			continue;
		if (m->m_phase == MP_RUN && mc->mc_state == MS_READY)
			ml_pub_fill(mc);
		if (!mc->mc_want_write && mc->mc_outlen > mc->mc_outoff)
			ml_conn_flush(mc);
		ml_conn_events(mc);
	}
	if (m->m_phase == MP_DRAIN && ml_drained(m))
		ml_run_finish(m);
}

/*
 * Timeouts and stalls.  Setup and idle connects: each client has -t.
 * Run: a stream blocked with no progress for -S is a stall, and is
 * released (outstanding and in-flight forgotten).  Drain: -t at most.
 */
static void
ml_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ml *m = w->data;
	struct ml_conn *mc;
	double now = ml_now();
	uint64_t base;
	uint32_t i;

	switch (m->m_mode) {
	case ML_M_IDLE:
		if (m->m_phase != MP_SETUP)
			return;
		for (i = 0; i < m->m_next; i++) {
			mc = &m->m_idles[i];
			if (mc->mc_inflight && now - mc->mc_start > m->m_timeout)
				ml_conn_fail(mc, ME_TIMEOUT);
		}
		return;
	case ML_M_PING:
		if (now - m->m_phase_start > m->m_timeout) {
			m->m_err[ME_TIMEOUT]++;
			ev_break(loop, EVBREAK_ALL);
		}
		return;
	case ML_M_RUN:
		break;
	}
	switch (m->m_phase) {
	case MP_SETUP:
		if (m->m_ready_at > 0) {
			/* -R: probing.  Resend, or give up after -t. */
			if (now - m->m_ready_at > m->m_timeout) {
				fprintf(stderr, "mqtt_load: route probes: %llu "
				    "of %llu heard in %.0f ms\n",
				    (unsigned long long)m->m_probe_got,
				    (unsigned long long)m->m_probe_need,
				    m->m_timeout * 1000);
				m->m_err[ME_TIMEOUT]++;
				ml_setup_failed(m);
				return;
			}
			for (i = 0; i < m->m_npubs; i++)
				if (now - m->m_pubs[i].mc_probe_at >=
				    ML_PROBE_S)
					ml_probe_send(&m->m_pubs[i], now);
			return;
		}
		if (now - m->m_phase_start <= m->m_timeout)
			return;
		for (i = 0; i < m->m_npubs + m->m_nsubs; i++) {
			mc = i < m->m_npubs ? &m->m_pubs[i] :
			    &m->m_subs[i - m->m_npubs];
			if (mc->mc_state == MS_CONNECTING ||
			    mc->mc_state == MS_SUBSCRIBING)
				ml_conn_fail(mc, ME_TIMEOUT);
		}
		ml_setup_failed(m);
		return;
	case MP_RUN:
		for (i = 0; i < m->m_npubs; i++) {
			mc = &m->m_pubs[i];
			if (mc->mc_state != MS_READY)
				continue;
			base = mc->mc_acked > mc->mc_forgiven ? mc->mc_acked :
			    mc->mc_forgiven;
			if ((mc->mc_seq - base >= m->m_cap ||
			    (m->m_qos > 0 && mc->mc_window >= mc->mc_rmax)) &&
			    now - mc->mc_progress > m->m_stall) {
				m->m_stalls++;
				mc->mc_forgiven = mc->mc_seq;
				mc->mc_window = 0;
				memset(mc->mc_ids, 0, 65536 / 8);
				mc->mc_progress = now;
			}
		}
		return;
	case MP_DRAIN:
		if (now - m->m_phase_start > m->m_timeout)
			ml_run_finish(m);
		return;
	case MP_DONE:
		return;
	}
}

/* Run mode: the publishing time is over; drain. */
static void
ml_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ml *m = w->data;

	if (m->m_phase != MP_RUN)
		return;
	m->m_phase = MP_DRAIN;
	m->m_stopping = 1;
	m->m_phase_start = ml_now();
}

/* A last bound on the whole mode, whatever the broker does. */
static void
ml_hardstop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ml *m = w->data;

	fprintf(stderr, "mqtt_load: hard deadline reached, stopping\n");
	m->m_exit = 1;
	if (m->m_mode == ML_M_RUN)
		ml_run_finish(m);
	ev_break(loop, EVBREAK_ALL);
}

static void
ml_hold_end(struct ml *m)
{
	ev_timer_stop(m->m_loop, &m->m_holdtimer);
	ev_timer_stop(m->m_loop, &m->m_pingtimer);
	ev_io_stop(m->m_loop, &m->m_stdin);
	ev_break(m->m_loop, EVBREAK_ALL);
}

static void
ml_hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ml_hold_end(w->data);
}

/* Held idle clients with a keepalive ping at half of it. */
static void
ml_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ml *m = w->data;
	struct ml_conn *mc;
	uint32_t i;

	for (i = 0; i < m->m_n; i++) {
		mc = &m->m_idles[i];
		if (mc->mc_state != MS_READY)
			continue;
		if (ml_queue_small(mc, ML_PINGREQ << 4, NULL, 0) == 0 &&
		    !mc->mc_want_write)
			ml_conn_flush(mc);
		if (mc->mc_state != MS_DEAD)
			ml_conn_events(mc);
	}
}

/* Any input or EOF on stdin ends the hold: the driver is done. */
static void
ml_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[256];

	(void)read(w->fd, buf, sizeof(buf));
	ml_hold_end(w->data);
}

static void
ml_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ml *m = w->data;

	m->m_stopping = 1;
	m->m_exit = 1;
	if (m->m_mode == ML_M_RUN)
		ml_run_finish(m);
	ev_break(loop, EVBREAK_ALL);
}

/* Connection errors; ME_ACK is reported apart. */
static uint64_t
ml_errors(const struct ml *m)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < ME_COUNT; i++)
		if (i != ME_ACK)
			sum += m->m_err[i];
	return sum;
}

static void
ml_print_errors(const struct ml *m)
{
	int i;

	for (i = 0; i < ME_COUNT; i++)
		printf(" err_%s=%llu", ml_err_names[i],
		    (unsigned long long)m->m_err[i]);
}

/* The histogram as "lowest_us count" lines, non-empty buckets only. */
static int
ml_write_hist(const struct ml *m)
{
	FILE *f;
	size_t b;

	if ((f = fopen(m->m_histfile, "w")) == NULL) {
		perror(m->m_histfile);
		return -1;
	}
	for (b = 0; b < ML_HIST_N; b++)
		if (m->m_hist[b] != 0)
			fprintf(f, "%.0f %llu\n", ml_hist_value(b),
			    (unsigned long long)m->m_hist[b]);
	if (fclose(f) != 0) {
		perror(m->m_histfile);
		return -1;
	}
	return 0;
}

static int
ml_run(struct ml *m)
{
	struct ml_conn *mc;
	double elapsed, cpu1, cpu, cpus1[ML_PIDS_MAX], self1;
	uint64_t tail = 0;
	uint32_t i, j, first, count;

	m->m_pubs = calloc(m->m_npubs, sizeof(*m->m_pubs));
	m->m_subs = calloc(m->m_nsubs, sizeof(*m->m_subs));
	if (m->m_pubs == NULL || m->m_subs == NULL) {
		perror("mqtt_load: calloc");
		return 1;
	}
	for (i = 0; i < m->m_npubs; i++)
		if (ml_conn_init(m, &m->m_pubs[i], MR_PUB, i) == -1) {
			perror("mqtt_load: malloc");
			return 1;
		}
	for (i = 0; i < m->m_nsubs; i++)
		if (ml_conn_init(m, &m->m_subs[i], MR_SUB, i) == -1) {
			perror("mqtt_load: malloc");
			return 1;
		}
	for (i = 0; i < m->m_npubs; i++) {
		ml_stream(m, i, &first, &count);
		m->m_probe_need += count;
	}
	ev_now_update(m->m_loop);
	ev_timer_init(&m->m_deadline, ml_deadline_cb, m->m_seconds, 0);
	ev_timer_init(&m->m_hardstop, ml_hardstop_cb,
	    m->m_seconds + 3 * m->m_timeout + 5, 0);
	ev_timer_start(m->m_loop, &m->m_hardstop);
	m->m_phase = MP_SETUP;
	m->m_phase_start = ml_now();

	/* Subscribers first, so that they are in before anything flows. */
	for (i = 0; i < m->m_nsubs; i++)
		(void)ml_conn_start(&m->m_subs[i]);
	for (i = 0; i < m->m_npubs; i++)
		(void)ml_conn_start(&m->m_pubs[i]);
	ev_run(m->m_loop, 0);
	cpu1 = ml_brokers_cpu(m, cpus1);
	self1 = ml_self_cpu();

	/* What never arrived at a live subscriber is lost. */
	for (i = 0; i < m->m_npubs; i++) {
		ml_stream(m, i, &first, &count);
		for (j = first; j < first + count; j++) {
			mc = &m->m_subs[j];
			if (mc->mc_state == MS_READY &&
			    mc->mc_seen[i] < m->m_pubs[i].mc_seq)
				tail += m->m_pubs[i].mc_seq - mc->mc_seen[i];
		}
	}
	m->m_lost += tail;
	if (m->m_t0 == 0)
		m->m_t0 = m->m_t1;
	elapsed = m->m_t1 - m->m_t0;
	cpu = m->m_cpu0 >= 0 && cpu1 >= 0 && m->m_t0 > 0 ? cpu1 - m->m_cpu0 :
	    -1;
	printf("mode=run scenario=%u:%u qos=%d payload=%zu seconds=%.3f "
	    "published=%llu delivered=%llu rate=%.1f p50_us=%.0f "
	    "p99_us=%.0f max_us=%.0f mean_us=%.0f lost=%llu dup=%llu "
	    "stalls=%llu errors=%llu setup=%s",
	    m->m_npubs, m->m_nsubs, m->m_qos, m->m_payload, elapsed,
	    (unsigned long long)m->m_published,
	    (unsigned long long)m->m_delivered,
	    elapsed > 0 ? (double)m->m_delivered / elapsed : 0,
	    ml_hist_pct(m->m_hist, 50), ml_hist_pct(m->m_hist, 99),
	    m->m_lat_max * 1e6,
	    m->m_delivered > 0 ? m->m_lat_sum / (double)m->m_delivered * 1e6 :
	    0, (unsigned long long)m->m_lost, (unsigned long long)m->m_dup,
	    (unsigned long long)m->m_stalls,
	    (unsigned long long)ml_errors(m),
	    m->m_setup_failed ? "failed" : "ok");
	if (cpu >= 0)
		printf(" broker_cpu=%.2f per_cpu_s=%.0f", cpu,
		    cpu > 0 ? (double)m->m_delivered / cpu : 0);
	if (cpu >= 0 && m->m_npids > 1) {
		/* Each process's share, in -P order. */
		printf(" broker_cpus=");
		for (i = 0; i < (uint32_t)m->m_npids; i++)
			printf("%s%.2f", i > 0 ? "," : "",
			    cpus1[i] - m->m_cpus0[i]);
	}
	if (m->m_probe)
		printf(" probe_ms=%.1f", m->m_probe_s * 1000);
	if (m->m_t0 > 0 && self1 >= 0 && m->m_self_cpu0 >= 0)
		printf(" load_cpu=%.2f", self1 - m->m_self_cpu0);
	ml_print_errors(m);
	printf("\n");
	fflush(stdout);
	if (m->m_histfile != NULL && ml_write_hist(m) == -1)
		m->m_exit = 1;

	/* Goodbye, as a well-behaved client says it. */
	for (i = 0; i < m->m_npubs + m->m_nsubs; i++) {
		mc = i < m->m_npubs ? &m->m_pubs[i] :
		    &m->m_subs[i - m->m_npubs];
		if (mc->mc_state == MS_READY)
			ml_goodbye(mc);
		ml_conn_close(mc);
	}
	return m->m_exit;
}

/* Idle connecting is over: print the result, then hold or finish. */
static void
ml_idle_done(struct ml *m)
{
	double elapsed, cpu1;

	if (m->m_phase != MP_SETUP)
		return;
	m->m_phase = MP_RUN;
	m->m_t1 = ml_now();
	cpu1 = ml_brokers_cpu(m, NULL);
	elapsed = m->m_t1 - m->m_t0;
	printf("mode=idle n=%u ok=%llu errors=%llu seconds=%.3f rate=%.1f "
	    "stopped=%s", m->m_n, (unsigned long long)m->m_ok,
	    (unsigned long long)ml_errors(m), elapsed,
	    elapsed > 0 ? (double)m->m_ok / elapsed : 0,
	    m->m_stopped != NULL ? m->m_stopped : "none");
	if (m->m_cpu0 >= 0 && cpu1 >= 0)
		printf(" broker_cpu=%.2f", cpu1 - m->m_cpu0);
	ml_print_errors(m);
	printf("\n");
	fflush(stdout);

	ev_timer_stop(m->m_loop, &m->m_hardstop);
	if (m->m_hold <= 0) {
		ev_break(m->m_loop, EVBREAK_ALL);
		return;
	}
	ev_timer_init(&m->m_holdtimer, ml_hold_cb, m->m_hold, 0);
	m->m_holdtimer.data = m;
	ev_timer_start(m->m_loop, &m->m_holdtimer);
	if (m->m_keepalive > 0) {
		ev_timer_init(&m->m_pingtimer, ml_ping_cb,
		    m->m_keepalive / 2.0, m->m_keepalive / 2.0);
		m->m_pingtimer.data = m;
		ev_timer_start(m->m_loop, &m->m_pingtimer);
	}
	if (m->m_hold_stdin) {
		ev_io_init(&m->m_stdin, ml_stdin_cb, STDIN_FILENO, EV_READ);
		m->m_stdin.data = m;
		ev_io_start(m->m_loop, &m->m_stdin);
	}
}

static int
ml_idle(struct ml *m)
{
	struct ml_conn *mc;
	uint64_t held = 0;
	uint32_t i;

	m->m_idles = calloc(m->m_n, sizeof(*m->m_idles));
	if (m->m_idles == NULL) {
		perror("mqtt_load: calloc");
		return 1;
	}
	for (i = 0; i < m->m_n; i++)
		if (ml_conn_init(m, &m->m_idles[i], MR_IDLE, i) == -1) {
			perror("mqtt_load: malloc");
			return 1;
		}
	/*
	 * Connecting as a whole gets a deadline too: a broker that
	 * accepts and never answers costs -t per window, not forever.
	 */
	ev_now_update(m->m_loop);
	ev_timer_init(&m->m_hardstop, ml_hardstop_cb,
	    60 + (double)m->m_n / 100.0 + m->m_timeout, 0);
	ev_timer_start(m->m_loop, &m->m_hardstop);
	m->m_phase = MP_SETUP;
	m->m_cpu0 = ml_brokers_cpu(m, NULL);
	m->m_t0 = ml_now();
	ev_run(m->m_loop, 0);
	if (m->m_phase == MP_SETUP)
		ml_idle_done(m);	/* stopped by a signal or hard stop */

	for (i = 0; i < m->m_n; i++) {
		mc = &m->m_idles[i];
		if (mc->mc_state == MS_READY) {
			held++;
			ml_goodbye(mc);
		}
		ml_conn_close(mc);
	}
	printf("mode=idle-close held=%llu dropped=%llu\n",
	    (unsigned long long)held, (unsigned long long)m->m_dropped);
	fflush(stdout);
	return m->m_exit;
}

/* One client: CONNECT, CONNACK, PINGREQ, PINGRESP, DISCONNECT. */
static int
ml_ping(struct ml *m)
{
	struct ml_conn mc;

	memset(&mc, 0, sizeof(mc));
	if (ml_conn_init(m, &mc, MR_IDLE, 0) == -1) {
		perror("mqtt_load: malloc");
		return 1;
	}
	m->m_phase_start = ml_now();
	m->m_t0 = m->m_phase_start;
	if (ml_conn_start(&mc) == 0)
		ev_run(m->m_loop, 0);
	printf("mode=ping ok=%llu", (unsigned long long)m->m_ok);
	if (m->m_ok)
		printf(" connack_us=%.0f ping_us=%.0f",
		    (m->m_connack_at - m->m_t0) * 1e6,
		    (m->m_pong_at - m->m_ping_sent) * 1e6);
	ml_print_errors(m);
	printf("\n");
	if (mc.mc_state == MS_READY)
		ml_goodbye(&mc);
	ml_conn_close(&mc);
	free(mc.mc_in);
	free(mc.mc_out);
	return m->m_ok ? 0 : 1;
}

/* Merges "lowest_us count" files and prints their percentiles. */
static int
ml_pct(int argc, char **argv)
{
	static uint64_t h[ML_HIST_N];
	unsigned long long count, n = 0;
	double us, max = 0;
	FILE *f;
	int i, lines;

	if (argc < 1)
		ml_usage();
	for (i = 0; i < argc; i++) {
		if ((f = fopen(argv[i], "r")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		/* Bounded by the number of buckets a file can hold. */
		for (lines = 0; lines < ML_HIST_N &&
		    fscanf(f, "%lf %llu", &us, &count) == 2; lines++) {
			h[ml_hist_bucket(us)] += count;
			n += count;
			if (us > max)
				max = us;
		}
		fclose(f);
	}
	printf("mode=pct files=%d n=%llu p50_us=%.0f p90_us=%.0f "
	    "p99_us=%.0f p999_us=%.0f\n", argc, n, ml_hist_pct(h, 50),
	    ml_hist_pct(h, 90), ml_hist_pct(h, 99), ml_hist_pct(h, 99.9));
	return 0;
}

/* A port the kernel will let us bind on 127.0.0.1 right now. */
static int
ml_freeport(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("mqtt_load: socket");
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("mqtt_load: bind");
		close(fd);
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

/*
 * retained mode.  Blocking sockets with a send timeout, and poll(2) for
 * the reads, each bounded by the -t deadline.
 */
#define MLR_BATCH	(256 * 1024)	/* publishes sent per write */
#define MLR_PING_S	0.002		/* between a PINGRESP and a PINGREQ */
#define MLR_COUNT_MAX	10000000

struct mlr_conn {
	int		 fd;
	uint8_t		*in;
	size_t		 off;		/* start of the unread bytes */
	size_t		 inlen;		/* end of the bytes read */
	size_t		 incap;
	size_t		 used;		/* the packet returned last */
};

static int
mlr_send(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The next packet of c, waiting until deadline: 1 and its first byte
 * and body (valid until the next call), 0 on timeout, -1 on error.
 */
static int
mlr_packet(struct mlr_conn *c, double deadline, int wait, uint8_t *first,
    const uint8_t **body, size_t *blen)
{
	struct pollfd pfd;
	size_t total;
	uint8_t *nb;
	ssize_t n;
	int rc, ms;

	/* Past the packet returned last time. */
	c->off += c->used;
	c->used = 0;
	for (;;) {
		rc = ml_frame(c->in + c->off, c->inlen - c->off,
		    ML_PACKET_MAX, first, body, blen, &total);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			c->used = total;
			return 1;
		}
		/* Keep the partial packet only, at the start. */
		if (c->off > 0) {
			memmove(c->in, c->in + c->off, c->inlen - c->off);
			c->inlen -= c->off;
			c->off = 0;
		}
		if (c->incap - c->inlen < 65536) {
			if ((nb = realloc(c->in, c->incap + 131072)) == NULL)
				return -1;
			c->in = nb;
			c->incap += 131072;
		}
		ms = (int)((deadline - ml_now()) * 1000);
		if (!wait)
			ms = 0;
		else if (ms <= 0)
			return 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if ((rc = poll(&pfd, 1, ms)) == -1 && errno != EINTR)
			return -1;
		if (rc <= 0)
			return 0;
		if ((n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen,
		    0)) <= 0)
			return -1;
		c->inlen += (size_t)n;
	}
}

static int
mlr_connect(struct mlr_conn *c, uint16_t port, const char *id,
    double deadline)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	uint8_t pkt[128], first;
	const uint8_t *body;
	size_t blen, n = 0, rem;
	int one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	rem = 10 + 2 + strlen(id);
	pkt[n++] = ML_CONNECT << 4;
	n += ml_put_varint(pkt + n, rem);
	n += ml_put_string(pkt + n, "MQTT");
	pkt[n++] = ML_LEVEL_311;
	pkt[n++] = ML_CLEAN_SESSION;
	ml_put16(pkt + n, 60);
	n += 2;
	n += ml_put_string(pkt + n, id);
	if (mlr_send(c->fd, pkt, n) == -1 ||
	    mlr_packet(c, deadline, 1, &first, &body, &blen) != 1 ||
	    first >> 4 != ML_CONNACK || blen != 2 || body[1] != 0)
		return -1;
	return 0;
}

static void
mlr_close(struct mlr_conn *c)
{
	static const uint8_t disc[2] = { ML_DISCONNECT << 4, 0 };

	if (c->fd >= 0) {
		(void)send(c->fd, disc, 2, MSG_NOSIGNAL);
		close(c->fd);
	}
	free(c->in);
	c->fd = -1;
	c->in = NULL;
}

/* PINGREQ, then packets until PINGRESP (publishes to us are dropped). */
static int
mlr_sync(struct mlr_conn *c, double deadline)
{
	static const uint8_t req[2] = { ML_PINGREQ << 4, 0 };
	const uint8_t *body;
	uint8_t first;
	size_t blen;
	int rc;

	if (mlr_send(c->fd, req, 2) == -1)
		return -1;
	while ((rc = mlr_packet(c, deadline, 1, &first, &body, &blen)) == 1)
		if (first >> 4 == ML_PINGRESP)
			return 0;
	return -1;
}

/*
 * n retained messages (payload bytes each; 0: clear them) at qos; the
 * PUBACKs are read by the final sync.
 */
static int
mlr_publish(struct mlr_conn *c, uint32_t n, size_t bytes, int qos,
    double deadline)
{
	uint8_t *buf, *p;
	char topic[ML_TOPIC_MAX];
	size_t len = 0, tl, need;
	uint32_t i;
	int rc = 0;

	if ((buf = malloc(MLR_BATCH + ML_PACKET_MAX)) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(topic, sizeof(topic), "cmlr/%ld/%u", (long)getpid(),
		    i);
		tl = strlen(topic);
		need = 2 + tl + (qos > 0 ? 2 : 0) + bytes;
		p = buf + len;
		*p++ = (uint8_t)(ML_PUBLISH << 4 | qos << 1 | 1);  /* RETAIN */
		p += ml_put_varint(p, need);
		p += ml_put_string(p, topic);
		if (qos > 0) {
			ml_put16(p, (uint16_t)(i % 65535 + 1));
			p += 2;
		}
		memset(p, 'r', bytes);
		p += bytes;
		len = (size_t)(p - buf);
		if (len >= MLR_BATCH || i + 1 == n) {
			rc = mlr_send(c->fd, buf, len);
			len = 0;
		}
	}
	free(buf);
	if (rc == 0)
		rc = mlr_sync(c, deadline);
	return rc;
}

static int
ml_retained(int argc, char **argv)
{
	struct mlr_conn pub, sub, pinger;
	struct pollfd pfd[2];
	uint8_t pkt[64], acks[4096], first;
	const uint8_t *body;
	char id[ML_CLIENT_ID_MAX], filter[ML_TOPIC_MAX];
	size_t blen, n, nacks = 0, payload = 64;
	uint32_t count = 0, got = 0;
	double timeout = 60, deadline, t0, t_pub, t_suback = -1, t1 = 0;
	double cpu0, cpu1, ping_at = 0, next_ping, rtt, rtt_max = 0;
	long pid = 0;
	unsigned long pings = 0;
	uint16_t port = 0;
	int ch, qos = 0, pinging = 0, rc = 1, r;

	optind = 2;
	while ((ch = getopt(argc, argv, "b:n:P:p:q:t:")) != -1) {
		switch (ch) {
		case 'b':
			payload = (size_t)ml_num(optarg, 1, ML_PAYLOAD_MAX,
			    "-b");
			break;
		case 'n':
			count = (uint32_t)ml_num(optarg, 1, MLR_COUNT_MAX,
			    "-n");
			break;
		case 'P':
			pid = ml_num(optarg, 1, LONG_MAX, "-P");
			break;
		case 'p':
			port = (uint16_t)ml_num(optarg, 1, 65535, "-p");
			break;
		case 'q':
			qos = (int)ml_num(optarg, 0, 1, "-q");
			break;
		case 't':
			timeout = (double)ml_num(optarg, 1, ML_TIMEOUT_MS_MAX,
			    "-t") / 1000.0;
			break;
		default:
			ml_usage();
		}
	}
	if (optind != argc || count == 0 || port == 0)
		ml_usage();
	memset(&pub, 0, sizeof(pub));
	memset(&sub, 0, sizeof(sub));
	memset(&pinger, 0, sizeof(pinger));
	pub.fd = sub.fd = pinger.fd = -1;
	{
		signal(SIGPIPE, SIG_IGN);
		deadline = ml_now() + timeout;
		snprintf(id, sizeof(id), "cmlr-%ld-pub", (long)getpid());
		t0 = ml_now();
		if (mlr_connect(&pub, port, id, deadline) == -1 ||
		    mlr_publish(&pub, count, payload, qos, deadline) == -1) {
			fprintf(stderr, "mqtt_load: retained: publishing "
			    "failed\n");
			goto out;
		}
		t_pub = ml_now() - t0;
		snprintf(id, sizeof(id), "cmlr-%ld-ping", (long)getpid());
		if (mlr_connect(&pinger, port, id, deadline) == -1)
			goto out;
		snprintf(id, sizeof(id), "cmlr-%ld-sub", (long)getpid());
		if (mlr_connect(&sub, port, id, deadline) == -1)
			goto out;
		snprintf(filter, sizeof(filter), "cmlr/%ld/#", (long)getpid());
		n = 0;
		pkt[n++] = ML_SUBSCRIBE << 4 | 2;
		n += ml_put_varint(pkt + n, 2 + 2 + strlen(filter) + 1);
		ml_put16(pkt + n, 1);
		n += 2;
		n += ml_put_string(pkt + n, filter);
		pkt[n++] = (uint8_t)qos;
		cpu0 = ml_broker_cpu(pid);
		t0 = ml_now();
		next_ping = t0;
		if (mlr_send(sub.fd, pkt, n) == -1)
			goto out;
		while (got < count && ml_now() < deadline) {
			if (!pinging && ml_now() >= next_ping) {
				static const uint8_t req[2] = {
					ML_PINGREQ << 4, 0 };

				if (mlr_send(pinger.fd, req, 2) == -1)
					goto out;
				ping_at = ml_now();
				pinging = 1;
			}
			pfd[0].fd = sub.fd;
			pfd[1].fd = pinger.fd;
			pfd[0].events = pfd[1].events = POLLIN;
			pfd[0].revents = pfd[1].revents = 0;
			if (sub.off + sub.used == sub.inlen &&
			    poll(pfd, 2, pinging ? 100 : 1) == -1 &&
			    errno != EINTR)
				goto out;
			if (pinging && (pfd[1].revents & POLLIN)) {
				r = mlr_packet(&pinger, deadline, 0, &first,
				    &body, &blen);
				if (r == -1)
					goto out;
				if (r == 1 && first >> 4 == ML_PINGRESP) {
					rtt = ml_now() - ping_at;
					if (rtt > rtt_max)
						rtt_max = rtt;
					pings++;
					pinging = 0;
					next_ping = ml_now() + MLR_PING_S;
				}
			}
			/* Whatever the subscriber has, without waiting. */
			while ((r = mlr_packet(&sub, deadline, 0, &first,
			    &body, &blen)) == 1) {
				if (first >> 4 == ML_SUBACK) {
					t_suback = ml_now() - t0;
					if (blen != 3 || body[2] != qos)
						goto out;
					continue;
				}
				if (first >> 4 != ML_PUBLISH || !(first & 1))
					goto out;
				got++;
				if ((first >> 1 & 3) == 1 && blen >= 2) {
					size_t tl = (size_t)ml_get16(body);

					if (blen < 2 + tl + 2)
						goto out;
					acks[nacks++] = ML_PUBACK << 4;
					acks[nacks++] = 2;
					acks[nacks++] = body[2 + tl];
					acks[nacks++] = body[3 + tl];
					if (nacks == sizeof(acks)) {
						if (mlr_send(sub.fd, acks,
						    nacks) == -1)
							goto out;
						nacks = 0;
					}
				}
				if (got == count)
					break;
			}
			if (r == -1)
				goto out;
			if (nacks > 0) {
				if (mlr_send(sub.fd, acks, nacks) == -1)
					goto out;
				nacks = 0;
			}
		}
		t1 = ml_now() - t0;
		cpu1 = ml_broker_cpu(pid);
		/* The pinger's last round trip, if one is out. */
		if (pinging && mlr_packet(&pinger, deadline, 1, &first, &body,
		    &blen) == 1) {
			rtt = ml_now() - ping_at;
			if (rtt > rtt_max)
				rtt_max = rtt;
			pings++;
		}
		printf("mode=retained n=%u received=%u payload=%zu qos=%d "
		    "publish_s=%.3f seconds=%.3f suback_ms=%.1f "
		    "msgs_per_s=%.0f broker_cpu=%.3f ping_max_ms=%.1f "
		    "pings=%lu\n", count, got, payload, qos, t_pub, t1,
		    t_suback * 1000, t1 > 0 ? got / t1 : 0,
		    cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1,
		    rtt_max * 1000, pings);
		rc = got == count ? 0 : 1;
		/* Leave the store as we found it, for the next run. */
		if (mlr_publish(&pub, count, 0, 0, ml_now() + timeout) == -1)
			fprintf(stderr, "mqtt_load: retained: clearing "
			    "failed\n");
	}
out:
	if (rc != 0 && t1 == 0)
		printf("mode=retained n=%u received=%u error=1\n", count, got);
	mlr_close(&sub);
	mlr_close(&pinger);
	mlr_close(&pub);
	return rc;
}

int
main(int argc, char *argv[])
{
	static struct ml m;
	static const struct option longopts[] = {
		{ "pub-port", required_argument, NULL, 'A' },
		{ "sub-port", required_argument, NULL, 'B' },
		{ "route-probe", no_argument, NULL, 'R' },
		{ "tls", required_argument, NULL, 'T' },
		{ "aliases", required_argument, NULL, 'L' },
		{ "pub-aliases", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode;
	char *colon;
	int ch, rc;

	if (argc < 2)
		ml_usage();
	mode = argv[1];
	if (strcmp(mode, "freeport") == 0)
		return ml_freeport();
	if (strcmp(mode, "pct") == 0)
		return ml_pct(argc - 2, argv + 2);
	if (strcmp(mode, "retained") == 0)
		return ml_retained(argc, argv);

	m.m_payload = 64;
	m.m_seconds = 3;
	m.m_window = -1;
	m.m_cap = 64;
	m.m_timeout = 5;
	m.m_stall = 2;
	m.m_fail_limit = 128;
	m.m_self = (long)getpid();
	if (strcmp(mode, "run") == 0)
		m.m_mode = ML_M_RUN;
	else if (strcmp(mode, "idle") == 0)
		m.m_mode = ML_M_IDLE;
	else if (strcmp(mode, "ping") == 0)
		m.m_mode = ML_M_PING;
	else
		ml_usage();

	optind = 2;
	while ((ch = getopt_long(argc, argv,
	    "A:B:b:cd:f:H:h:ik:n:o:P:p:Rq:S:s:t:V:Ww:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			m.m_persist = 1;
			break;
		case 'A':
			m.m_pub_port = (uint16_t)ml_num(optarg, 1, 65535,
			    "--pub-port");
			break;
		case 'B':
			m.m_sub_port = (uint16_t)ml_num(optarg, 1, 65535,
			    "--sub-port");
			break;
		case 'R':
			m.m_probe = 1;
			break;
		case 'T':
			if ((m.m_tls = SSL_CTX_new(TLS_client_method())) ==
			    NULL || SSL_CTX_load_verify_locations(m.m_tls,
			    optarg, NULL) != 1) {
				fprintf(stderr, "mqtt_load: --tls %s: cannot "
				    "load\n", optarg);
				return 2;
			}
			SSL_CTX_set_verify(m.m_tls, SSL_VERIFY_PEER, NULL);
			SSL_CTX_set_mode(m.m_tls,
			    SSL_MODE_ENABLE_PARTIAL_WRITE |
			    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
			SSL_CTX_set_session_cache_mode(m.m_tls,
			    SSL_SESS_CACHE_OFF);
			break;

		case 'W':
			m.m_ws = 1;
			break;
		case 'L':
			m.m_alias_max = (uint16_t)ml_num(optarg, 0, 65535,
			    "--aliases");
			break;
		case 'U':
			m.m_pub_alias = 1;
			break;
		case 'V':
			if (strcmp(optarg, "5") == 0)
				m.m_v5 = 1;
			else if (strcmp(optarg, "4") != 0 &&
			    strcmp(optarg, "3.1.1") != 0)
				ml_usage();
			break;
		case 'b':
			m.m_payload = (size_t)ml_num(optarg, ML_STAMP,
			    ML_PAYLOAD_MAX, "-b");
			break;
		case 'd':
			m.m_seconds = (double)ml_num(optarg, 1,
			    ML_SECONDS_MAX, "-d");
			break;
		case 'f':
			m.m_fail_limit = (int)ml_num(optarg, 1, INT_MAX, "-f");
			break;
		case 'H':
			m.m_histfile = optarg;
			break;
		case 'h':
			m.m_hold = (double)ml_num(optarg, 0, ML_HOLD_MAX,
			    "-h");
			break;
		case 'i':
			m.m_hold_stdin = 1;
			break;
		case 'k':
			m.m_keepalive = (uint16_t)ml_num(optarg, 0, 65535,
			    "-k");
			break;
		case 'n':
			m.m_n = (uint32_t)ml_num(optarg, 1, ML_IDLE_MAX, "-n");
			break;
		case 'o':
			m.m_cap = (uint64_t)ml_num(optarg, 1,
			    ML_OUTSTANDING_MAX, "-o");
			break;
		case 'P':
			if (ml_parse_pids(&m, optarg) == -1)
				ml_usage();
			break;
		case 'p':
			m.m_port = (uint16_t)ml_num(optarg, 1, 65535, "-p");
			break;
		case 'q':
			m.m_qos = (int)ml_num(optarg, 0, 1, "-q");
			break;
		case 'S':
			m.m_stall = (double)ml_num(optarg, 1,
			    ML_TIMEOUT_MS_MAX, "-S") / 1000.0;
			break;
		case 's':
			colon = strchr(optarg, ':');
			if (colon == NULL)
				ml_usage();
			*colon = '\0';
			m.m_npubs = (uint32_t)ml_num(optarg, 1,
			    ML_CLIENTS_MAX, "publishers");
			m.m_nsubs = (uint32_t)ml_num(colon + 1, 1,
			    ML_CLIENTS_MAX, "subscribers");
			break;
		case 't':
			m.m_timeout = (double)ml_num(optarg, 1,
			    ML_TIMEOUT_MS_MAX, "-t") / 1000.0;
			break;
		case 'w':
			m.m_window = (int)ml_num(optarg, 1, ML_WINDOW_MAX,
			    "-w");
			break;
		default:
			ml_usage();
		}
	}
	if (m.m_mode == ML_M_RUN) {
		/* -p is the default for both sides. */
		if (m.m_pub_port == 0)
			m.m_pub_port = m.m_port;
		if (m.m_sub_port == 0)
			m.m_sub_port = m.m_port;
		if (m.m_port == 0)
			m.m_port = m.m_pub_port;
	} else if (m.m_pub_port != 0 || m.m_sub_port != 0 || m.m_probe)
		ml_usage();
	if (optind != argc || m.m_port == 0 ||
	    (m.m_mode == ML_M_RUN && (m.m_pub_port == 0 || m.m_sub_port == 0)))
		ml_usage();
	/* Publishers' aliases: 5.0 only, and only publishers have them. */
	if (m.m_pub_alias && (!m.m_v5 || m.m_mode != ML_M_RUN))
		ml_usage();
	if (m.m_mode == ML_M_RUN) {
		if (m.m_npubs == 0)
			ml_usage();
		/* Pairs, fan-out or fan-in: see ml_stream(). */
		if (m.m_npubs != m.m_nsubs && m.m_npubs != 1 &&
		    m.m_nsubs != 1) {
			fprintf(stderr, "mqtt_load: -s wants P:P, 1:S or "
			    "P:1\n");
			return 2;
		}
		if (m.m_window == -1)
			m.m_window = 32;
	}
	if (m.m_mode == ML_M_IDLE) {
		if (m.m_n == 0)
			ml_usage();
		if (m.m_window == -1)
			m.m_window = 64;
	}

	ml_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	m.m_addr.sin_family = AF_INET;
	m.m_addr.sin_port = htons(m.m_port);
	m.m_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m.m_pub_addr = m.m_sub_addr = m.m_addr;
	if (m.m_pub_port != 0)
		m.m_pub_addr.sin_port = htons(m.m_pub_port);
	if (m.m_sub_port != 0)
		m.m_sub_addr.sin_port = htons(m.m_sub_port);
	if ((m.m_loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		fprintf(stderr, "mqtt_load: ev_loop_new failed\n");
		return 1;
	}
	ev_prepare_init(&m.m_prepare, ml_prepare_cb);
	ev_timer_init(&m.m_sweep, ml_sweep_cb, ML_SWEEP_S, ML_SWEEP_S);
	ev_signal_init(&m.m_sigint, ml_signal_cb, SIGINT);
	ev_signal_init(&m.m_sigterm, ml_signal_cb, SIGTERM);
	m.m_prepare.data = m.m_sweep.data = m.m_deadline.data = &m;
	m.m_hardstop.data = m.m_sigint.data = m.m_sigterm.data = &m;
	ev_prepare_start(m.m_loop, &m.m_prepare);
	ev_timer_start(m.m_loop, &m.m_sweep);
	ev_signal_start(m.m_loop, &m.m_sigint);
	ev_signal_start(m.m_loop, &m.m_sigterm);

	switch (m.m_mode) {
	case ML_M_RUN:
		rc = ml_run(&m);
		break;
	case ML_M_IDLE:
		rc = ml_idle(&m);
		break;
	default:
		rc = ml_ping(&m);
		break;
	}
	ev_loop_destroy(m.m_loop);
	return rc;
}
