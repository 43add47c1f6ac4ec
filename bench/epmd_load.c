/*
 * epmd_load: a load generator for EPMD daemons, used by bench/epmd.sh to
 * drive OTP's epmd and Cairn's with the same client.  It talks to one
 * daemon on 127.0.0.1 and nowhere else.
 *
 * It speaks the wire protocol with its own small encoder and decoder, not
 * with epmd/epmd_codec.c, so that a bug in Cairn's codec cannot hide
 * itself by being on both ends.
 *
 * Modes:
 *
 *	lookup		PORT_PLEASE2 lookups of one registered name, each on a
 *			fresh TCP connection as real nodes do, -c in flight,
 *			for -d seconds.
 *	register	-n distinct ALIVE2 registrations, each holding its
 *			connection open as a node does, -w in flight; then
 *			holds them (-h, -i) while the driver measures, then
 *			closes them.
 *	names		-r NAMES requests one after another; latency.
 *	freeport	prints a TCP port that is free on 127.0.0.1.
 *
 * Each result is one line of key=value pairs on stdout, for scripts.
 * Every loop is bounded in count and in time: each operation has a
 * timeout (-t), each mode a deadline, and register stops after a run of
 * consecutive failures, which is how a daemon that is out of connections
 * behaves (OTP's epmd stops near 1020 because of select(2)).
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
#include <ev.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Request tags and reply tags of the EPMD protocol (OTP's epmd.h). */
#define LOAD_ALIVE2_REQ		'x'
#define LOAD_ALIVE2_RESP	'y'	/* 16-bit creation */
#define LOAD_ALIVE2_X_RESP	'v'	/* 32-bit creation, highvsn >= 6 */
#define LOAD_PORT2_REQ		'z'
#define LOAD_PORT2_RESP		'w'
#define LOAD_NAMES_REQ		'n'

/* What the registrations claim to be: a normal OTP 23+ node. */
#define LOAD_NODETYPE		77
#define LOAD_PROTOCOL		0
#define LOAD_HIGHVSN		6
#define LOAD_LOWVSN		5

/* Names are ASCII here, so a byte is a character; OTP allows 255. */
#define LOAD_NAME_MAX		255
/* The largest request: an ALIVE2_REQ with a full name, frame included. */
#define LOAD_OUT_MAX		(2 + 13 + LOAD_NAME_MAX + 2)
/*
 * The largest PORT2_RESP we accept: 12 bytes of header, a name of up to
 * 255 * 4 UTF-8 bytes, the extra length and a generous extra.
 */
#define LOAD_LOOKUP_IN_MAX	(12 + 255 * 4 + 2 + 1024)
/* ALIVE2_X_RESP is 6 bytes; NAMES keeps only its 4-byte port. */
#define LOAD_SMALL_IN_MAX	8
/* NAMES replies are counted in chunks of this size, never stored. */
#define LOAD_CHUNK		65536

/* Bounds on the options, so that no loop is unbounded. */
#define LOAD_CONC_MAX		10000
#define LOAD_SECONDS_MAX	3600
#define LOAD_NAMES_MAX		1000000
#define LOAD_REPEATS_MAX	100000
#define LOAD_TIMEOUT_MS_MAX	60000

/* How often in-flight operations are checked against their timeout. */
#define LOAD_SWEEP_S		0.02
/* Lookup latencies are kept in 1 us buckets up to this; slower ones in
 * one overflow bucket. */
#define LOAD_HIST_US		200000

enum load_mode {
	LOAD_M_LOOKUP,
	LOAD_M_REGISTER,
	LOAD_M_NAMES,
};

/* Where one connection is in its operation. */
enum load_state {
	LC_FREE,	/* no socket; may be started */
	LC_WRITING,	/* connecting, or request partly written */
	LC_READING,	/* reading the reply */
	LC_DRAINING,	/* reply complete, waiting for the daemon's close */
	LC_HELD,	/* registered; the open socket is the lease */
	LC_DONE,	/* finished (register mode slots are not reused) */
};

/* Why an operation failed.  One counter each, printed as err_<name>. */
enum load_err {
	LE_CONNECT,	/* connect(2) failed: refused, no ports, ... */
	LE_TIMEOUT,	/* no complete reply (or close) within -t */
	LE_RESET,	/* ECONNRESET or EPIPE while talking */
	LE_SHORT,	/* the daemon closed before the reply was complete */
	LE_BAD,		/* malformed reply, wrong port, or trailing bytes */
	LE_REFUSED,	/* a well-formed negative reply ('w',1 / 'v',1) */
	LE_SOCKET,	/* socket(2) failed: out of descriptors */
	LE_COUNT,
};

static const char *const load_err_names[LE_COUNT] = {
	"connect", "timeout", "reset", "short", "bad", "refused", "socket",
};

struct load;

/* One client connection.  The ev_io comes first: callbacks cast back. */
struct load_conn {
	ev_io		 lc_io;
	struct load	*lc_load;
	enum load_state	 lc_state;
	uint32_t	 lc_index;	/* which name, in register mode */
	int		 lc_fd;
	int		 lc_inflight;	/* counted in l_inflight */
	double		 lc_start;	/* monotonic, when the op began */
	uint8_t		 lc_out[LOAD_OUT_MAX];
	size_t		 lc_outlen;
	size_t		 lc_outoff;
	uint8_t		*lc_in;		/* lc_incap bytes */
	size_t		 lc_incap;
	size_t		 lc_inlen;
	size_t		 lc_want;	/* reply size, once known; else 0 */
	int		 lc_refused;	/* reply was negative */
	uint64_t	 lc_bytes;	/* NAMES: reply bytes after the port */
	uint64_t	 lc_lines;	/* NAMES: newlines in them */
};

/* The whole run: options, connections, counters. */
struct load {
	struct ev_loop	*l_loop;
	enum load_mode	 l_mode;
	struct sockaddr_in l_addr;
	uint16_t	 l_port;

	/* Options. */
	int		 l_conc;	/* -c lookups in flight */
	double		 l_seconds;	/* -d lookup duration */
	uint32_t	 l_n;		/* -n registrations */
	int		 l_window;	/* -w registrations in flight */
	int		 l_repeats;	/* -r NAMES requests */
	double		 l_hold;	/* -h seconds to hold registrations */
	int		 l_hold_stdin;	/* -i: end the hold at stdin EOF */
	double		 l_timeout;	/* -t per-operation timeout, seconds */
	long		 l_pid;		/* -P daemon pid for CPU time */
	const char	*l_target;	/* -N name to look up */
	const char	*l_prefix;	/* -x prefix of registered names */
	int		 l_fail_limit;	/* -f consecutive failures to stop */

	struct load_conn *l_conns;
	size_t		 l_nconns;
	uint32_t	 l_next;	/* next registration index */
	int		 l_inflight;
	int		 l_stopping;	/* start nothing new */
	int		 l_consec_fail;
	const char	*l_stopped;	/* why registration stopped early */

	/* Counters. */
	uint64_t	 l_started;
	uint64_t	 l_ok;
	uint64_t	 l_err[LE_COUNT];
	uint64_t	 l_dropped;	/* held registrations the daemon closed */
	uint32_t	*l_hist;	/* LOAD_HIST_US + 1 buckets */
	double		 l_lat_max;
	double		 l_lat_sum;
	double		*l_samples;	/* NAMES latencies */
	uint64_t	 l_names_lines;
	uint64_t	 l_names_bytes;
	uint32_t	 l_names_port;

	/* The target registration of lookup mode. */
	struct load_conn l_target_conn;
	uint16_t	 l_target_port;

	double		 l_t0;
	double		 l_t1;
	double		 l_cpu0;

	ev_prepare	 l_prepare;
	ev_timer	 l_sweep;
	ev_timer	 l_deadline;
	ev_timer	 l_hardstop;
	ev_timer	 l_holdtimer;
	ev_io		 l_stdin;
	ev_signal	 l_sigint;
	ev_signal	 l_sigterm;
	int		 l_phase;	/* register: 0 registering, 1 holding */
	int		 l_exit;
};

static void	load_usage(void) __attribute__((noreturn));
static double	load_now(void);
static double	load_daemon_cpu(long);
static long	load_num(const char *, long, long, const char *);
static void	load_put16(uint8_t *, uint16_t);
static uint16_t	load_get16(const uint8_t *);
static uint32_t	load_get32(const uint8_t *);
static void	load_raise_nofile(void);
static size_t	load_build_alive(uint8_t *, const char *, uint16_t);
static size_t	load_build_port2(uint8_t *, const char *);
static size_t	load_build_names(uint8_t *);
static int	load_conn_start(struct load *, struct load_conn *);
static void	load_conn_close(struct load_conn *);
static void	load_conn_fail(struct load_conn *, enum load_err);
static void	load_conn_finish(struct load_conn *);
static void	load_conn_events(struct load_conn *, int);
static void	load_conn_write(struct load_conn *);
static void	load_conn_read(struct load_conn *);
static int	load_parse(struct load_conn *);
static void	load_io_cb(struct ev_loop *, ev_io *, int);
static void	load_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	load_sweep_cb(struct ev_loop *, ev_timer *, int);
static void	load_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	load_hardstop_cb(struct ev_loop *, ev_timer *, int);
static void	load_hold_end(struct load *);
static void	load_hold_cb(struct ev_loop *, ev_timer *, int);
static void	load_stdin_cb(struct ev_loop *, ev_io *, int);
static void	load_signal_cb(struct ev_loop *, ev_signal *, int);
static void	load_record(struct load *, double);
static double	load_hist_pct(const struct load *, double);
static int	load_cmp_double(const void *, const void *);
static void	load_print_errors(const struct load *);
static uint64_t	load_errors(const struct load *);
static int	load_register_target(struct load *);
static int	load_run_lookup(struct load *);
static void	load_register_done(struct load *);
static int	load_run_register(struct load *);
static int	load_run_names(struct load *);
static int	load_freeport(void);

static void
load_usage(void)
{
	fprintf(stderr,
	    "usage: epmd_load lookup   -p port [-c conc] [-d seconds] "
	    "[-N name] [-P pid] [-t ms]\n"
	    "       epmd_load register -p port -n count [-w window] "
	    "[-h hold] [-i] [-x prefix]\n"
	    "                          [-f fails] [-P pid] [-t ms]\n"
	    "       epmd_load names    -p port [-r repeats] [-t ms]\n"
	    "       epmd_load freeport\n");
	exit(2);
}

static double
load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * User plus system CPU seconds of process pid, from /proc/pid/stat, or
 * -1.  The command name may hold spaces and parentheses, so the fields
 * are counted from the last ')'.
 */
static double
load_daemon_cpu(long pid)
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
load_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "epmd_load: %s must be %ld to %ld: %s\n",
		    what, min, max, s);
		exit(2);
	}
	return v;
}

static void
load_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t
load_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
load_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Every registration holds a socket: take all the descriptors we may. */
static void
load_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			perror("epmd_load: setrlimit");
	}
}

/*
 * ALIVE2_REQ in a frame:
 *
 *	+-----+-----+------+------+-------+-------+-------+-----+------+-----+
 *	| len | 'x' | port | type | proto | high  | low   | nlen| name | elen|
 *	|  2  |  1  |  2   |  1   |  1    |  2    |  2    |  2  |  n   |  2  |
 *	+-----+-----+------+------+-------+-------+-------+-----+------+-----+
 *
 * The extra field is empty.  Returns the frame size.
 */
static size_t
load_build_alive(uint8_t *p, const char *name, uint16_t port)
{
	size_t nlen = strlen(name);

	p[2] = LOAD_ALIVE2_REQ;
	load_put16(p + 3, port);
	p[5] = LOAD_NODETYPE;
	p[6] = LOAD_PROTOCOL;
	load_put16(p + 7, LOAD_HIGHVSN);
	load_put16(p + 9, LOAD_LOWVSN);
	load_put16(p + 11, (uint16_t)nlen);
	memcpy(p + 13, name, nlen);
	load_put16(p + 13 + nlen, 0);
	load_put16(p, (uint16_t)(13 + nlen));
	return 15 + nlen;
}

/* PORT2_REQ in a frame: len(2) 'z' name. */
static size_t
load_build_port2(uint8_t *p, const char *name)
{
	size_t nlen = strlen(name);

	load_put16(p, (uint16_t)(1 + nlen));
	p[2] = LOAD_PORT2_REQ;
	memcpy(p + 3, name, nlen);
	return 3 + nlen;
}

/* NAMES_REQ in a frame: len(2) 'n'. */
static size_t
load_build_names(uint8_t *p)
{
	load_put16(p, 1);
	p[2] = LOAD_NAMES_REQ;
	return 3;
}

/*
 * Opens a non-blocking socket to the daemon and starts the request in
 * lc_out.  Returns 0 when the operation is under way (it will end in
 * load_conn_finish or load_conn_fail), -1 when it failed at once (the
 * failure is counted and the slot is free again).  Never recurses.
 */
static int
load_conn_start(struct load *l, struct load_conn *lc)
{
	int fd, one = 1;

	lc->lc_inlen = 0;
	/* A NAMES reply starts with the daemon's port; the rest is text. */
	lc->lc_want = l->l_mode == LOAD_M_NAMES ? 4 : 0;
	lc->lc_refused = 0;
	lc->lc_bytes = 0;
	lc->lc_lines = 0;
	lc->lc_outoff = 0;
	lc->lc_start = load_now();
	lc->lc_inflight = 1;
	l->l_inflight++;
	l->l_started++;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		lc->lc_fd = -1;
		load_conn_fail(lc, LE_SOCKET);
		return -1;
	}
	lc->lc_fd = fd;
	/* The request is one small write, as it is from a real node. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&l->l_addr,
	    sizeof(l->l_addr)) == -1 && errno != EINPROGRESS) {
		load_conn_fail(lc, LE_CONNECT);
		return -1;
	}
	/*
	 * On loopback the handshake is usually done by now although
	 * connect(2) said EINPROGRESS, so try the request at once; a send
	 * that finds the socket still connecting gets EAGAIN and waits for
	 * writability, which is also when a failed connect shows.
	 */
	lc->lc_state = LC_WRITING;
	ev_io_init(&lc->lc_io, load_io_cb, fd, 0);
	load_conn_write(lc);
	return lc->lc_fd == -1 ? -1 : 0;
}

/* Stops the watcher and closes the socket; the slot becomes free. */
static void
load_conn_close(struct load_conn *lc)
{
	struct load *l = lc->lc_load;

	if (lc->lc_fd != -1) {
		ev_io_stop(l->l_loop, &lc->lc_io);
		close(lc->lc_fd);
		lc->lc_fd = -1;
	}
	if (lc->lc_inflight) {
		lc->lc_inflight = 0;
		l->l_inflight--;
	}
	lc->lc_state = l->l_mode == LOAD_M_REGISTER ? LC_DONE : LC_FREE;
	if (l->l_mode == LOAD_M_LOOKUP && l->l_stopping && l->l_inflight == 0)
		ev_break(l->l_loop, EVBREAK_ALL);
}

static void
load_conn_fail(struct load_conn *lc, enum load_err why)
{
	struct load *l = lc->lc_load;

	l->l_err[why]++;
	l->l_consec_fail++;
	load_conn_close(lc);
	if (l->l_mode == LOAD_M_REGISTER && !l->l_stopping &&
	    l->l_consec_fail >= l->l_fail_limit) {
		l->l_stopping = 1;
		l->l_stopped = "consecutive-failures";
	}
}

/* The operation succeeded: count it, and close unless it is a lease. */
static void
load_conn_finish(struct load_conn *lc)
{
	struct load *l = lc->lc_load;

	l->l_ok++;
	l->l_consec_fail = 0;
	load_record(l, load_now() - lc->lc_start);
	if (l->l_mode == LOAD_M_NAMES) {
		l->l_names_lines = lc->lc_lines;
		l->l_names_bytes = lc->lc_bytes;
		l->l_names_port = load_get32(lc->lc_in);
	}
	if (lc->lc_state == LC_HELD) {
		/* Keep reading: EOF now means the daemon dropped us. */
		lc->lc_inflight = 0;
		l->l_inflight--;
		return;
	}
	load_conn_close(lc);
}

/* Points the watcher at these events, touching libev only on change. */
static void
load_conn_events(struct load_conn *lc, int events)
{
	struct load *l = lc->lc_load;

	if (lc->lc_io.events == events && ev_is_active(&lc->lc_io))
		return;
	ev_io_stop(l->l_loop, &lc->lc_io);
	ev_io_set(&lc->lc_io, lc->lc_fd, events);
	ev_io_start(l->l_loop, &lc->lc_io);
}

static void
load_conn_write(struct load_conn *lc)
{
	ssize_t n;

	while (lc->lc_outoff < lc->lc_outlen) {
		n = send(lc->lc_fd, lc->lc_out + lc->lc_outoff,
		    lc->lc_outlen - lc->lc_outoff, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				lc->lc_state = LC_WRITING;
				load_conn_events(lc, EV_WRITE);
				return;
			}
			load_conn_fail(lc, errno == ECONNREFUSED ?
			    LE_CONNECT : LE_RESET);
			return;
		}
		lc->lc_outoff += (size_t)n;
	}
	lc->lc_state = LC_READING;
	load_conn_events(lc, EV_READ);
}

/*
 * Decides how long the reply is, once enough of it is in.  Returns 0
 * (need more or complete; lc_want set when known) or -1 (malformed).
 *
 * PORT2_RESP:	'w' 0 port(2) type proto high(2) low(2) nlen(2) name
 *		elen(2) extra, or 'w' result(!=0).
 * ALIVE2_X_RESP: 'v' result creation(4); ALIVE2_RESP: 'y' result
 *		creation(2).
 */
static int
load_parse(struct load_conn *lc)
{
	struct load *l = lc->lc_load;
	const uint8_t *p = lc->lc_in;
	size_t n = lc->lc_inlen, nlen;

	if (lc->lc_want != 0 || n == 0)
		return 0;
	switch (l->l_mode) {
	case LOAD_M_LOOKUP:
		if (p[0] != LOAD_PORT2_RESP)
			return -1;
		if (n < 2)
			return 0;
		if (p[1] != 0) {
			lc->lc_refused = 1;
			lc->lc_want = 2;
			return 0;
		}
		if (n < 12)
			return 0;
		nlen = load_get16(p + 10);
		if (n < 12 + nlen + 2)
			return 0;
		lc->lc_want = 12 + nlen + 2 + load_get16(p + 12 + nlen);
		if (lc->lc_want > lc->lc_incap)
			return -1;
		return 0;
	case LOAD_M_REGISTER:
		if (p[0] == LOAD_ALIVE2_X_RESP)
			lc->lc_want = 6;
		else if (p[0] == LOAD_ALIVE2_RESP)
			lc->lc_want = 4;
		else
			return -1;
		if (n >= 2 && p[1] != 0)
			lc->lc_refused = 1;
		return 0;
	case LOAD_M_NAMES:
		/* lc_want is 4 from the start: see load_conn_start. */
		return 0;
	}
	return -1;
}

static void
load_conn_read(struct load_conn *lc)
{
	struct load *l = lc->lc_load;
	static uint8_t chunk[LOAD_CHUNK];
	uint8_t *dst;
	size_t room, i;
	ssize_t n;

	for (;;) {
		/*
		 * Until the reply is complete, bytes go to lc_in; after it
		 * (NAMES text, or anything trailing) to a scratch chunk.
		 */
		if (lc->lc_state == LC_READING && lc->lc_inlen < lc->lc_incap &&
		    (lc->lc_want == 0 || lc->lc_inlen < lc->lc_want)) {
			dst = lc->lc_in + lc->lc_inlen;
			room = lc->lc_want != 0 ? lc->lc_want - lc->lc_inlen :
			    lc->lc_incap - lc->lc_inlen;
		} else {
			dst = chunk;
			room = sizeof(chunk);
		}
		n = recv(lc->lc_fd, dst, room, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (lc->lc_state == LC_HELD) {
				l->l_dropped++;
				load_conn_close(lc);
			} else
				load_conn_fail(lc, LE_RESET);
			return;
		}
		if (n == 0) {
			/* The daemon closed. */
			switch (lc->lc_state) {
			case LC_HELD:
				l->l_dropped++;
				load_conn_close(lc);
				return;
			case LC_DRAINING:
				if (lc->lc_refused)
					load_conn_fail(lc, LE_REFUSED);
				else
					load_conn_finish(lc);
				return;
			default:
				load_conn_fail(lc, LE_SHORT);
				return;
			}
		}
		if (dst == chunk) {
			if (lc->lc_state == LC_HELD) {
				/* Nothing may follow an ALIVE2 reply. */
				l->l_dropped++;
				load_conn_close(lc);
				return;
			}
			if (l->l_mode != LOAD_M_NAMES) {
				load_conn_fail(lc, LE_BAD);
				return;
			}
			lc->lc_bytes += (uint64_t)n;
			for (i = 0; i < (size_t)n; i++)
				lc->lc_lines += chunk[i] == '\n';
			continue;
		}
		lc->lc_inlen += (size_t)n;
		if (load_parse(lc) == -1) {
			load_conn_fail(lc, LE_BAD);
			return;
		}
		if (lc->lc_want != 0 && lc->lc_inlen > lc->lc_want) {
			/* Bytes after a complete reply. */
			load_conn_fail(lc, LE_BAD);
			return;
		}
		if (lc->lc_want == 0 || lc->lc_inlen < lc->lc_want) {
			if (lc->lc_inlen >= lc->lc_incap) {
				load_conn_fail(lc, LE_BAD);
				return;
			}
			continue;
		}
		/* The reply is complete. */
		switch (l->l_mode) {
		case LOAD_M_LOOKUP:
			if (!lc->lc_refused &&
			    load_get16(lc->lc_in + 2) != l->l_target_port &&
			    l->l_target_port != 0) {
				load_conn_fail(lc, LE_BAD);
				return;
			}
			lc->lc_state = LC_DRAINING;
			break;
		case LOAD_M_REGISTER:
			if (lc->lc_refused) {
				load_conn_fail(lc, LE_REFUSED);
				return;
			}
			lc->lc_state = LC_HELD;
			load_conn_finish(lc);
			/* A held socket stays readable-watched for EOF. */
			return;
		case LOAD_M_NAMES:
			lc->lc_state = LC_DRAINING;
			break;
		}
	}
}

static void
load_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct load_conn *lc = (struct load_conn *)w;

	switch (lc->lc_state) {
	case LC_WRITING:
		load_conn_write(lc);
		return;
	case LC_READING:
	case LC_DRAINING:
	case LC_HELD:
		load_conn_read(lc);
		return;
	default:
		return;
	}
}

/*
 * Before each poll: start operations in free slots.  Starting here,
 * rather than from the callback that freed the slot, keeps a daemon that
 * refuses at once from turning the loop into a recursion; a slot whose
 * start fails waits for the next iteration (at most one sweep tick).
 */
static void
load_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct load *l = w->data;
	struct load_conn *lc;
	char name[LOAD_NAME_MAX + 1];
	size_t i;
	int nlen;

	if (l->l_stopping)
		return;
	if (l->l_mode == LOAD_M_LOOKUP) {
		for (i = 0; i < l->l_nconns; i++) {
			lc = &l->l_conns[i];
			if (lc->lc_state == LC_FREE)
				(void)load_conn_start(l, lc);
		}
		return;
	}
	if (l->l_mode == LOAD_M_REGISTER && l->l_phase == 0) {
		while (!l->l_stopping && l->l_inflight < l->l_window &&
		    l->l_next < l->l_n) {
			lc = &l->l_conns[l->l_next];
			nlen = snprintf(name, sizeof(name), "%s%u",
			    l->l_prefix, l->l_next);
			if (nlen < 0 || nlen > LOAD_NAME_MAX)
				nlen = 0;
			lc->lc_outlen = load_build_alive(lc->lc_out, name,
			    (uint16_t)(20000 + l->l_next % 40000));
			l->l_next++;
			(void)load_conn_start(l, lc);
		}
		if (l->l_inflight == 0 &&
		    (l->l_next >= l->l_n || l->l_stopping))
			load_register_done(l);
	}
}

/* Fails operations that outlived their timeout. */
static void
load_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *l = w->data;
	struct load_conn *lc;
	double now = load_now();
	size_t i;

	for (i = 0; i < l->l_nconns; i++) {
		lc = &l->l_conns[i];
		if (lc->lc_inflight && now - lc->lc_start > l->l_timeout)
			load_conn_fail(lc, LE_TIMEOUT);
	}
	if (l->l_mode == LOAD_M_REGISTER && l->l_phase == 0 &&
	    l->l_inflight == 0 && (l->l_next >= l->l_n || l->l_stopping))
		load_register_done(l);
	if (l->l_stopping && l->l_inflight == 0 &&
	    l->l_mode != LOAD_M_REGISTER)
		ev_break(loop, EVBREAK_ALL);
}

/* Lookup mode: the duration is over; let in-flight lookups finish. */
static void
load_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *l = w->data;

	l->l_stopping = 1;
	if (l->l_mode == LOAD_M_REGISTER && l->l_phase == 0)
		l->l_stopped = "deadline";
	if (l->l_inflight == 0 && l->l_mode != LOAD_M_REGISTER)
		ev_break(loop, EVBREAK_ALL);
}

/* A last bound on the whole mode, whatever the daemon does. */
static void
load_hardstop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *l = w->data;

	fprintf(stderr, "epmd_load: hard deadline reached, stopping\n");
	l->l_exit = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
load_hold_end(struct load *l)
{
	ev_timer_stop(l->l_loop, &l->l_holdtimer);
	ev_io_stop(l->l_loop, &l->l_stdin);
	ev_break(l->l_loop, EVBREAK_ALL);
}

static void
load_hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	load_hold_end(w->data);
}

/* Any input or EOF on stdin ends the hold: the driver is done. */
static void
load_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[256];

	(void)read(w->fd, buf, sizeof(buf));
	load_hold_end(w->data);
}

static void
load_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct load *l = w->data;

	l->l_stopping = 1;
	l->l_exit = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
load_record(struct load *l, double secs)
{
	double us = secs * 1e6;
	size_t b;

	if (l->l_samples != NULL && l->l_ok <= (uint64_t)l->l_repeats)
		l->l_samples[l->l_ok - 1] = secs;
	if (l->l_hist != NULL) {
		b = us < 0 ? 0 : us >= LOAD_HIST_US ? LOAD_HIST_US : (size_t)us;
		l->l_hist[b]++;
	}
	l->l_lat_sum += secs;
	if (secs > l->l_lat_max)
		l->l_lat_max = secs;
}

/* The pct-th percentile of the histogram, in microseconds. */
static double
load_hist_pct(const struct load *l, double pct)
{
	uint64_t want, seen = 0;
	size_t b;

	if (l->l_ok == 0)
		return 0;
	want = (uint64_t)((double)l->l_ok * pct / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (b = 0; b <= LOAD_HIST_US; b++) {
		seen += l->l_hist[b];
		if (seen >= want)
			return (double)b + 0.5;
	}
	return LOAD_HIST_US;
}

static int
load_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
load_errors(const struct load *l)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < LE_COUNT; i++)
		sum += l->l_err[i];
	return sum;
}

static void
load_print_errors(const struct load *l)
{
	int i;

	for (i = 0; i < LE_COUNT; i++)
		printf(" err_%s=%llu", load_err_names[i],
		    (unsigned long long)l->l_err[i]);
}

/*
 * Registers the lookup target, blocking (before the timed run), with its
 * own socket held until exit.  Returns 0 or -1.
 */
static int
load_register_target(struct load *l)
{
	struct load_conn *lc = &l->l_target_conn;
	struct timeval tv;
	uint8_t out[LOAD_OUT_MAX], in[8];
	size_t len, got = 0;
	ssize_t n;
	int fd;

	l->l_target_port = 4370;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	tv.tv_sec = (time_t)l->l_timeout;
	tv.tv_usec = (suseconds_t)((l->l_timeout - (double)tv.tv_sec) * 1e6);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&l->l_addr,
	    sizeof(l->l_addr)) == -1) {
		perror("epmd_load: connect");
		close(fd);
		return -1;
	}
	len = load_build_alive(out, l->l_target, l->l_target_port);
	if (send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len) {
		perror("epmd_load: send");
		close(fd);
		return -1;
	}
	while (got < 4) {
		n = recv(fd, in + got, sizeof(in) - got, 0);
		if (n <= 0) {
			fprintf(stderr, "epmd_load: no ALIVE2 reply for %s\n",
			    l->l_target);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	if ((in[0] != LOAD_ALIVE2_X_RESP && in[0] != LOAD_ALIVE2_RESP) ||
	    in[1] != 0) {
		fprintf(stderr, "epmd_load: registering %s refused "
		    "(reply %d result %d)\n", l->l_target, in[0], in[1]);
		close(fd);
		return -1;
	}
	lc->lc_fd = fd;
	return 0;
}

static int
load_run_lookup(struct load *l)
{
	double cpu1, elapsed, cpu;
	size_t i;

	if (l->l_target == NULL) {
		l->l_target = "cairn_bench_target";
		if (load_register_target(l) == -1)
			return 1;
	}
	l->l_nconns = (size_t)l->l_conc;
	l->l_conns = calloc(l->l_nconns, sizeof(*l->l_conns));
	l->l_hist = calloc(LOAD_HIST_US + 1, sizeof(*l->l_hist));
	if (l->l_conns == NULL || l->l_hist == NULL) {
		perror("epmd_load: calloc");
		return 1;
	}
	for (i = 0; i < l->l_nconns; i++) {
		struct load_conn *lc = &l->l_conns[i];

		lc->lc_load = l;
		lc->lc_fd = -1;
		lc->lc_state = LC_FREE;
		lc->lc_incap = LOAD_LOOKUP_IN_MAX;
		if ((lc->lc_in = malloc(lc->lc_incap)) == NULL) {
			perror("epmd_load: malloc");
			return 1;
		}
		lc->lc_outlen = load_build_port2(lc->lc_out, l->l_target);
	}
	/* Timers count from ev_now(): bring it up to date first. */
	ev_now_update(l->l_loop);
	ev_timer_init(&l->l_deadline, load_deadline_cb, l->l_seconds, 0);
	ev_timer_init(&l->l_hardstop, load_hardstop_cb,
	    l->l_seconds + l->l_timeout + 2, 0);
	ev_timer_start(l->l_loop, &l->l_deadline);
	ev_timer_start(l->l_loop, &l->l_hardstop);

	l->l_cpu0 = load_daemon_cpu(l->l_pid);
	l->l_t0 = load_now();
	ev_run(l->l_loop, 0);
	l->l_t1 = load_now();
	cpu1 = load_daemon_cpu(l->l_pid);

	elapsed = l->l_t1 - l->l_t0;
	cpu = l->l_cpu0 >= 0 && cpu1 >= 0 ? cpu1 - l->l_cpu0 : -1;
	printf("mode=lookup conc=%d seconds=%.3f ok=%llu errors=%llu "
	    "rate=%.1f p50_us=%.0f p99_us=%.0f max_us=%.0f",
	    l->l_conc, elapsed, (unsigned long long)l->l_ok,
	    (unsigned long long)load_errors(l),
	    elapsed > 0 ? (double)l->l_ok / elapsed : 0,
	    load_hist_pct(l, 50), load_hist_pct(l, 99), l->l_lat_max * 1e6);
	if (cpu >= 0)
		printf(" daemon_cpu=%.2f per_cpu_s=%.0f", cpu,
		    cpu > 0 ? (double)l->l_ok / cpu : 0);
	load_print_errors(l);
	printf("\n");
	fflush(stdout);
	for (i = 0; i < l->l_nconns; i++)
		load_conn_close(&l->l_conns[i]);
	if (l->l_target_conn.lc_fd != -1)
		close(l->l_target_conn.lc_fd);
	return l->l_exit;
}

/* Registration is over: print the result, then hold or finish. */
static void
load_register_done(struct load *l)
{
	double elapsed, cpu1;

	if (l->l_phase != 0)
		return;
	l->l_phase = 1;
	l->l_t1 = load_now();
	cpu1 = load_daemon_cpu(l->l_pid);
	ev_timer_stop(l->l_loop, &l->l_deadline);
	elapsed = l->l_t1 - l->l_t0;
	printf("mode=register n=%u ok=%llu errors=%llu seconds=%.3f "
	    "rate=%.1f stopped=%s", l->l_n, (unsigned long long)l->l_ok,
	    (unsigned long long)load_errors(l), elapsed,
	    elapsed > 0 ? (double)l->l_ok / elapsed : 0,
	    l->l_stopped != NULL ? l->l_stopped : "none");
	if (l->l_cpu0 >= 0 && cpu1 >= 0)
		printf(" daemon_cpu=%.2f", cpu1 - l->l_cpu0);
	load_print_errors(l);
	printf("\n");
	fflush(stdout);

	/* The hold is bounded by -h; -i may end it sooner. */
	if (l->l_hold <= 0) {
		ev_break(l->l_loop, EVBREAK_ALL);
		return;
	}
	ev_timer_stop(l->l_loop, &l->l_hardstop);
	ev_timer_init(&l->l_holdtimer, load_hold_cb, l->l_hold, 0);
	l->l_holdtimer.data = l;
	ev_timer_start(l->l_loop, &l->l_holdtimer);
	if (l->l_hold_stdin) {
		ev_io_init(&l->l_stdin, load_stdin_cb, STDIN_FILENO, EV_READ);
		l->l_stdin.data = l;
		ev_io_start(l->l_loop, &l->l_stdin);
	}
}

static int
load_run_register(struct load *l)
{
	uint64_t held = 0;
	size_t i;

	l->l_nconns = l->l_n;
	l->l_conns = calloc(l->l_nconns, sizeof(*l->l_conns));
	if (l->l_conns == NULL) {
		perror("epmd_load: calloc");
		return 1;
	}
	for (i = 0; i < l->l_nconns; i++) {
		struct load_conn *lc = &l->l_conns[i];

		lc->lc_load = l;
		lc->lc_fd = -1;
		lc->lc_state = LC_FREE;
		lc->lc_index = (uint32_t)i;
		lc->lc_incap = LOAD_SMALL_IN_MAX;
		if ((lc->lc_in = malloc(lc->lc_incap)) == NULL) {
			perror("epmd_load: malloc");
			return 1;
		}
	}
	/*
	 * Registration as a whole gets a deadline too: a daemon that
	 * accepts and never answers costs -t per slot, not forever.
	 */
	ev_now_update(l->l_loop);
	ev_timer_init(&l->l_deadline, load_deadline_cb,
	    60 + (double)l->l_n / 100.0, 0);
	ev_timer_init(&l->l_hardstop, load_hardstop_cb,
	    60 + (double)l->l_n / 100.0 + l->l_timeout + 5, 0);
	ev_timer_start(l->l_loop, &l->l_deadline);
	ev_timer_start(l->l_loop, &l->l_hardstop);

	l->l_cpu0 = load_daemon_cpu(l->l_pid);
	l->l_t0 = load_now();
	ev_run(l->l_loop, 0);

	if (l->l_phase == 0) {
		/* Stopped by a signal or the hard deadline. */
		load_register_done(l);
	}
	for (i = 0; i < l->l_nconns; i++) {
		if (l->l_conns[i].lc_state == LC_HELD)
			held++;
		load_conn_close(&l->l_conns[i]);
	}
	printf("mode=register-close held=%llu dropped=%llu\n",
	    (unsigned long long)held, (unsigned long long)l->l_dropped);
	fflush(stdout);
	return l->l_exit;
}

static int
load_run_names(struct load *l)
{
	struct load_conn *lc;
	double p50, p99, deadline;
	int r, n;

	l->l_nconns = 1;
	l->l_conns = calloc(1, sizeof(*l->l_conns));
	l->l_samples = calloc((size_t)l->l_repeats, sizeof(double));
	if (l->l_conns == NULL || l->l_samples == NULL) {
		perror("epmd_load: calloc");
		return 1;
	}
	lc = &l->l_conns[0];
	lc->lc_load = l;
	lc->lc_fd = -1;
	lc->lc_incap = LOAD_SMALL_IN_MAX;
	if ((lc->lc_in = malloc(lc->lc_incap)) == NULL) {
		perror("epmd_load: malloc");
		return 1;
	}
	lc->lc_outlen = load_build_names(lc->lc_out);

	/* One request at a time: each run of the loop is one NAMES. */
	l->l_stopping = 1;
	deadline = load_now() + 120;
	l->l_t0 = load_now();
	for (r = 0; r < l->l_repeats && load_now() < deadline; r++) {
		if (load_conn_start(l, lc) == -1)
			continue;
		while (lc->lc_inflight && !l->l_exit)
			ev_run(l->l_loop, EVRUN_ONCE);
		if (l->l_exit)
			break;
	}
	l->l_t1 = load_now();
	n = (int)(l->l_ok < (uint64_t)l->l_repeats ? l->l_ok : (uint64_t)
	    l->l_repeats);
	qsort(l->l_samples, (size_t)n, sizeof(double), load_cmp_double);
	p50 = n > 0 ? l->l_samples[(n - 1) / 2] : 0;
	p99 = n > 0 ? l->l_samples[(int)((double)(n - 1) * 0.99 + 0.5)] : 0;
	printf("mode=names repeats=%d ok=%llu errors=%llu p50_ms=%.3f "
	    "p99_ms=%.3f max_ms=%.3f mean_ms=%.3f names=%llu bytes=%llu "
	    "port=%u", r, (unsigned long long)l->l_ok,
	    (unsigned long long)load_errors(l), p50 * 1e3, p99 * 1e3,
	    l->l_lat_max * 1e3, n > 0 ? l->l_lat_sum / n * 1e3 : 0,
	    (unsigned long long)l->l_names_lines,
	    (unsigned long long)l->l_names_bytes, l->l_names_port);
	load_print_errors(l);
	printf("\n");
	fflush(stdout);
	return l->l_exit;
}

/* A port the kernel will let us bind on 127.0.0.1 right now. */
static int
load_freeport(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("epmd_load: socket");
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("epmd_load: bind");
		close(fd);
		return 1;
	}
	printf("%u\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct load l;
	const char *mode;
	int ch, rc;

	if (argc < 2)
		load_usage();
	mode = argv[1];
	if (strcmp(mode, "freeport") == 0)
		return load_freeport();

	memset(&l, 0, sizeof(l));
	l.l_conc = 1;
	l.l_seconds = 5;
	l.l_window = 32;
	l.l_repeats = 100;
	l.l_timeout = 2;
	l.l_prefix = "cairn_bench_";
	l.l_fail_limit = 128;
	if (strcmp(mode, "lookup") == 0)
		l.l_mode = LOAD_M_LOOKUP;
	else if (strcmp(mode, "register") == 0)
		l.l_mode = LOAD_M_REGISTER;
	else if (strcmp(mode, "names") == 0)
		l.l_mode = LOAD_M_NAMES;
	else
		load_usage();

	optind = 2;
	while ((ch = getopt(argc, argv, "c:d:f:h:iN:n:P:p:r:t:w:x:")) != -1) {
		switch (ch) {
		case 'c':
			l.l_conc = (int)load_num(optarg, 1, LOAD_CONC_MAX,
			    "-c");
			break;
		case 'd':
			l.l_seconds = (double)load_num(optarg, 1,
			    LOAD_SECONDS_MAX, "-d");
			break;
		case 'f':
			l.l_fail_limit = (int)load_num(optarg, 1, INT_MAX,
			    "-f");
			break;
		case 'h':
			l.l_hold = (double)load_num(optarg, 0,
			    LOAD_SECONDS_MAX, "-h");
			break;
		case 'i':
			l.l_hold_stdin = 1;
			break;
		case 'N':
			if (strlen(optarg) == 0 ||
			    strlen(optarg) > LOAD_NAME_MAX)
				load_usage();
			l.l_target = optarg;
			break;
		case 'n':
			l.l_n = (uint32_t)load_num(optarg, 1, LOAD_NAMES_MAX,
			    "-n");
			break;
		case 'P':
			l.l_pid = load_num(optarg, 1, LONG_MAX, "-P");
			break;
		case 'p':
			l.l_port = (uint16_t)load_num(optarg, 1, 65535, "-p");
			break;
		case 'r':
			l.l_repeats = (int)load_num(optarg, 1,
			    LOAD_REPEATS_MAX, "-r");
			break;
		case 't':
			l.l_timeout = (double)load_num(optarg, 1,
			    LOAD_TIMEOUT_MS_MAX, "-t") / 1000.0;
			break;
		case 'w':
			l.l_window = (int)load_num(optarg, 1, LOAD_CONC_MAX,
			    "-w");
			break;
		case 'x':
			if (strlen(optarg) > LOAD_NAME_MAX - 10)
				load_usage();
			l.l_prefix = optarg;
			break;
		default:
			load_usage();
		}
	}
	if (optind != argc || l.l_port == 0)
		load_usage();
	if (l.l_mode == LOAD_M_REGISTER && l.l_n == 0)
		load_usage();

	load_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	l.l_addr.sin_family = AF_INET;
	l.l_addr.sin_port = htons(l.l_port);
	l.l_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l.l_target_conn.lc_fd = -1;
	if ((l.l_loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		fprintf(stderr, "epmd_load: ev_loop_new failed\n");
		return 1;
	}
	ev_prepare_init(&l.l_prepare, load_prepare_cb);
	ev_timer_init(&l.l_sweep, load_sweep_cb, LOAD_SWEEP_S, LOAD_SWEEP_S);
	ev_signal_init(&l.l_sigint, load_signal_cb, SIGINT);
	ev_signal_init(&l.l_sigterm, load_signal_cb, SIGTERM);
	l.l_prepare.data = l.l_sweep.data = l.l_deadline.data = &l;
	l.l_hardstop.data = l.l_sigint.data = l.l_sigterm.data = &l;
	ev_prepare_start(l.l_loop, &l.l_prepare);
	ev_timer_start(l.l_loop, &l.l_sweep);
	ev_signal_start(l.l_loop, &l.l_sigint);
	ev_signal_start(l.l_loop, &l.l_sigterm);

	switch (l.l_mode) {
	case LOAD_M_LOOKUP:
		rc = load_run_lookup(&l);
		break;
	case LOAD_M_REGISTER:
		rc = load_run_register(&l);
		break;
	default:
		rc = load_run_names(&l);
		break;
	}
	ev_loop_destroy(l.l_loop);
	return rc;
}
