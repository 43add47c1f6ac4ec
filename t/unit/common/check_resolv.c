/*
 * Unit tests for common/resolv against real peers: numeric names and
 * /etc/hosts need no server; a loopback UDP socket that is bound but
 * never read plays a dead name server; dnsmasq, started on a free
 * loopback port for each test that needs it, answers A, AAAA and SRV.
 * Every wait is bounded, and every process started here is killed by
 * pid (and, should a test die first, by PR_SET_PDEATHSIG).
 */
#include <check.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/resolv.h"
#include "common/sock.h"

/* Per-test state, made by the checked fixtures in the forked child. */
static struct ev_loop	*loop;
static struct resolv	*res;
static int		 dead_fd = -1;	/* the silent "name server" */
static uint16_t		 dead_port;
static pid_t		 dnsmasq_pid = -1;
static uint16_t		 dnsmasq_port;

struct answer {
	int			calls;
	int			err;
	size_t			n;
	struct sockaddr_storage	addrs[RESOLV_MAX_ADDRS];
	struct resolv_srv	srv[RESOLV_MAX_SRV];
	uint64_t		at_ms;		/* when the callback ran */
};

static void
on_addr(void *arg, int err, const struct sockaddr_storage *addrs, size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	a->at_ms = clock_ms();
	if (err == 0)
		memcpy(a->addrs, addrs, n * sizeof(*addrs));
	else
		ck_assert_ptr_null(addrs);
}

static void
on_srv(void *arg, int err, const struct resolv_srv *recs, size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	a->at_ms = clock_ms();
	if (err == 0)
		memcpy(a->srv, recs, n * sizeof(*recs));
}

static void
on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
}

/* Runs the loop until *calls >= want or max_ms pass; 1 if reached. */
static int
run_until(const int *calls, int want, int max_ms)
{
	uint64_t end = clock_ms() + (uint64_t)max_ms;
	ev_timer tick;

	ev_timer_init(&tick, on_tick, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while (*calls < want && clock_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return *calls >= want;
}

static void
run_for(int ms)
{
	static const int never = 0;

	run_until(&never, 1, ms);
}

static int
has_addr(const struct answer *a, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	ck_assert_int_eq(sock_addr_parse(text, 0, &ss, &len), 0);
	for (i = 0; i < a->n; i++)
		if (sock_same_addr((struct sockaddr *)&a->addrs[i],
		    (struct sockaddr *)&ss))
			return 1;
	return 0;
}

/* A bound, never-read loopback UDP socket; its port. */
static uint16_t
silent_udp(int *fdp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	ck_assert_int_eq(sock_addr_parse("127.0.0.1", 0, &ss, &len), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*fdp = fd;
	return sock_port((struct sockaddr *)&ss);
}

static struct resolv *
new_resolv(uint16_t port, int timeout_ms, int tries, int deadline_ms)
{
	struct resolv_opts o;
	char servers[64];
	struct resolv *r;

	snprintf(servers, sizeof(servers), "127.0.0.1:%u", port);
	memset(&o, 0, sizeof(o));
	o.servers = servers;
	o.timeout_ms = timeout_ms;
	o.tries = tries;
	o.deadline_ms = deadline_ms;
	o.no_search = 1;
	r = resolv_new(loop, &o);
	ck_assert_ptr_nonnull(r);
	return r;
}

/*
 * Every resolver here sends to loopback only: by default to the dead
 * server, so a name that is not numeric nor in /etc/hosts times out.
 */
static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	dead_port = silent_udp(&dead_fd);
	res = new_resolv(dead_port, 100, 2, 3000);
}

static void
teardown(void)
{
	resolv_free(res);
	res = NULL;
	if (dead_fd != -1)
		close(dead_fd);
	ev_loop_destroy(loop);
}

/*
 * Numeric names, /etc/hosts, cancellation, teardown, dead servers.
 */

START_TEST(resolv__numeric_v4)
{
	struct answer a = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a.addrs[0];

	ck_assert_ptr_nonnull(resolv_query_addr(res, "127.0.0.1", AF_UNSPEC,
	    on_addr, &a));
	/* Never from inside the call. */
	ck_assert_int_eq(a.calls, 0);
	ck_assert(run_until(&a.calls, 1, 1000));
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(s4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0x7f000001u);
	ck_assert_uint_eq(ntohs(s4->sin_port), 0);
	run_for(50);
	ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(resolv__numeric_v6)
{
	struct answer a = { 0 }, b = { 0 };

	ck_assert_ptr_nonnull(resolv_query_addr(res, "::1", AF_UNSPEC,
	    on_addr, &a));
	ck_assert_ptr_nonnull(resolv_query_addr(res, "[::1]", AF_INET6,
	    on_addr, &b));
	ck_assert_int_eq(a.calls + b.calls, 0);
	ck_assert(run_until(&b.calls, 1, 1000));
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(a.addrs[0].ss_family, AF_INET6);
	ck_assert(has_addr(&a, "::1"));
	ck_assert_int_eq(b.err, 0);
	ck_assert(has_addr(&b, "::1"));
}
END_TEST

START_TEST(resolv__numeric_wrong_family)
{
	struct answer a = { 0 }, b = { 0 };

	resolv_query_addr(res, "127.0.0.1", AF_INET6, on_addr, &a);
	resolv_query_addr(res, "::1", AF_INET, on_addr, &b);
	ck_assert(run_until(&b.calls, 1, 1000));
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, CAIRN_ERR_DNS);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_int_eq(b.err, CAIRN_ERR_DNS);
}
END_TEST

START_TEST(resolv__localhost)
{
	struct answer a = { 0 }, b = { 0 };
	uint64_t t0 = clock_ms();

	/* From /etc/hosts: the only server configured is the dead one. */
	ck_assert_ptr_nonnull(resolv_query_addr(res, "localhost", AF_INET,
	    on_addr, &a));
	ck_assert_ptr_nonnull(resolv_query_addr(res, "localhost", AF_UNSPEC,
	    on_addr, &b));
	ck_assert_int_eq(a.calls + b.calls, 0);
	ck_assert(run_until(&a.calls, 1, 2000));
	ck_assert(run_until(&b.calls, 1, 2000));
	ck_assert_msg(a.err == 0, "localhost: %s", cairn_strerror(a.err));
	ck_assert(has_addr(&a, "127.0.0.1"));
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_ge(b.n, 1);
	ck_assert(sock_is_loopback((struct sockaddr *)&b.addrs[0]));
	/* No DNS: the only server is dead, and would have timed out. */
	ck_assert_uint_lt(a.at_ms - t0, 2000);
}
END_TEST

START_TEST(resolv__cancel_before_answer)
{
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	struct resolv_query *qa, *qb;

	qa = resolv_query_addr(res, "127.0.0.1", AF_UNSPEC, on_addr, &a);
	qb = resolv_query_addr(res, "nobody.test", AF_INET, on_addr, &b);
	ck_assert_ptr_nonnull(qa);
	ck_assert_ptr_nonnull(qb);
	resolv_cancel(qa);
	resolv_cancel(NULL);
	ck_assert_ptr_nonnull(resolv_query_srv(res, "_x._tcp.test", on_srv,
	    &c));
	/* Past the dead server's 100 + 200 ms and one more. */
	run_for(150);
	resolv_cancel(qb);
	ck_assert(run_until(&c.calls, 1, 2000));
	run_for(300);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.err, CAIRN_ERR_TIMEOUT);
}
END_TEST

START_TEST(resolv__free_with_pending)
{
	struct answer a = { 0 }, b = { 0 }, c = { 0 };

	resolv_query_addr(res, "127.0.0.1", AF_UNSPEC, on_addr, &a);
	resolv_query_addr(res, "nobody.test", AF_UNSPEC, on_addr, &b);
	resolv_query_srv(res, "_erl._tcp.test", on_srv, &c);
	run_for(20);
	ck_assert_int_eq(a.calls, 1);
	resolv_query_addr(res, "::1", AF_UNSPEC, on_addr, &a);
	resolv_free(res);
	res = NULL;
	run_for(500);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(c.calls, 0);
	/* Nothing of the resolver is left on the loop. */
	ck_assert_uint_eq(ev_pending_count(loop), 0);
}
END_TEST

START_TEST(resolv__dead_server_times_out)
{
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t t0 = clock_ms();

	resolv_query_addr(res, "nobody.test", AF_INET, on_addr, &a);
	resolv_query_addr(res, "nobody.test", AF_UNSPEC, on_addr, &b);
	resolv_query_srv(res, "_erl._tcp.test", on_srv, &c);
	ck_assert(run_until(&a.calls, 1, 5000));
	ck_assert(run_until(&b.calls, 1, 5000));
	ck_assert(run_until(&c.calls, 1, 5000));
	ck_assert_int_eq(a.err, CAIRN_ERR_TIMEOUT);
	ck_assert_int_eq(b.err, CAIRN_ERR_TIMEOUT);
	ck_assert_int_eq(c.err, CAIRN_ERR_TIMEOUT);
	ck_assert_uint_eq(a.n, 0);
	/* c-ares gives up after 100 + 200 ms, well before our deadline. */
	ck_assert_uint_lt(clock_ms() - t0, 2000);
}
END_TEST

START_TEST(resolv__deadline_bounds_query)
{
	struct resolv *slow;
	struct answer a = { 0 }, b = { 0 };
	uint64_t t0;

	/* c-ares alone would wait 1 + 2 + 4 s; the deadline is 300 ms. */
	slow = new_resolv(dead_port, 1000, 3, 300);
	t0 = clock_ms();
	resolv_query_addr(slow, "nobody.test", AF_UNSPEC, on_addr, &a);
	resolv_query_srv(slow, "_erl._tcp.test", on_srv, &b);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert(run_until(&b.calls, 1, 3000));
	ck_assert_int_eq(a.err, CAIRN_ERR_TIMEOUT);
	ck_assert_int_eq(b.err, CAIRN_ERR_TIMEOUT);
	ck_assert_uint_ge(a.at_ms - t0, 250);
	ck_assert_uint_lt(a.at_ms - t0, 1000);
	/* c-ares still holds both queries; freeing lets them go. */
	resolv_free(slow);
	run_for(20);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
}
END_TEST

struct reentry {
	struct resolv		*r;
	struct resolv_query	*self;
	struct resolv_query	*other;
	int			 calls;
	int			 free_r;
};

static void
on_addr_reenter(void *arg, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct reentry *e = arg;

	e->calls++;
	/* Cancelling oneself is harmless; the other never answers. */
	resolv_cancel(e->self);
	resolv_cancel(e->other);
	if (e->free_r)
		resolv_free(e->r);
}

START_TEST(resolv__cancel_and_free_from_callback)
{
	struct answer a = { 0 }, b = { 0 };
	struct reentry e = { 0 };

	e.r = res;
	e.other = resolv_query_addr(res, "nobody.test", AF_INET, on_addr, &a);
	e.self = resolv_query_addr(res, "127.0.0.1", AF_UNSPEC,
	    on_addr_reenter, &e);
	ck_assert(run_until(&e.calls, 1, 1000));
	run_for(500);
	ck_assert_int_eq(a.calls, 0);

	/* Free the resolver from a callback while another query waits. */
	memset(&e, 0, sizeof(e));
	e.r = res;
	e.free_r = 1;
	resolv_query_addr(res, "nobody.test", AF_INET, on_addr, &b);
	e.self = resolv_query_addr(res, "::1", AF_UNSPEC, on_addr_reenter,
	    &e);
	res = NULL;
	ck_assert(run_until(&e.calls, 1, 1000));
	run_for(500);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_int_eq(b.calls, 0);
}
END_TEST

START_TEST(resolv__bad_args)
{
	struct resolv_opts o;
	struct answer a = { 0 };
	char longname[RESOLV_NAME_MAX + 1];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_ptr_null(resolv_new(NULL, NULL));
	memset(&o, 0, sizeof(o));
	o.servers = "not-an-address";
	ck_assert_ptr_null(resolv_new(loop, &o));
	ck_assert_ptr_null(resolv_query_addr(NULL, "x", AF_INET, on_addr, &a));
	ck_assert_ptr_null(resolv_query_addr(res, NULL, AF_INET, on_addr, &a));
	ck_assert_ptr_null(resolv_query_addr(res, "", AF_INET, on_addr, &a));
	ck_assert_ptr_null(resolv_query_addr(res, longname, AF_INET, on_addr,
	    &a));
	ck_assert_ptr_null(resolv_query_addr(res, "x", AF_UNIX, on_addr, &a));
	ck_assert_ptr_null(resolv_query_addr(res, "x", AF_INET, NULL, &a));
	ck_assert_ptr_null(resolv_query_srv(res, "x", NULL, &a));
	resolv_free(NULL);
	run_for(50);
	ck_assert_int_eq(a.calls, 0);
}
END_TEST

/*
 * Real DNS from dnsmasq.
 */

/* PATH, then the sbin beside each bin (dnsmasq lives in sbin). */
static int
find_exe(const char *name, char *out, size_t len)
{
	const char *env = getenv("CAIRN_DNSMASQ"), *path = getenv("PATH");
	char dir[512];
	size_t n;
	int pass;

	if (env != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) == 0;
	}
	for (pass = 0; pass < 2 && path != NULL; pass++) {
		const char *p = path, *colon;

		for (; *p != '\0'; p = *colon ? colon + 1 : colon) {
			colon = strchrnul(p, ':');
			n = (size_t)(colon - p);
			if (n == 0 || n >= sizeof(dir) - 8)
				continue;
			memcpy(dir, p, n);
			dir[n] = '\0';
			if (pass == 1) {
				if (n < 3 || strcmp(dir + n - 3, "bin") != 0 ||
				    (n > 3 && dir[n - 4] == 's'))
					continue;
				strcpy(dir + n - 3, "sbin");
			}
			snprintf(out, len, "%s/%s", dir, name);
			if (access(out, X_OK) == 0)
				return 1;
		}
	}
	return 0;
}

/*
 * A loopback port that was free a moment ago for both UDP and TCP
 * (dnsmasq binds both).  Another process may still take it before
 * dnsmasq does, so setup_dnsmasq() tries a few.
 */
static uint16_t
free_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int ufd, tfd, i;

	for (i = 0; i < 20; i++) {
		port = silent_udp(&ufd);
		sock_addr_parse("127.0.0.1", port, &ss, &len);
		tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(tfd, 0);
		if (bind(tfd, (struct sockaddr *)&ss, len) == 0) {
			close(tfd);
			close(ufd);
			return port;
		}
		close(tfd);
		close(ufd);
	}
	ck_abort_msg("no free loopback port");
	return 0;
}

/* 1 once something holds 127.0.0.1:port/udp. */
static int
udp_port_taken(uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc, taken;

	sock_addr_parse("127.0.0.1", port, &ss, &len);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	rc = bind(fd, (struct sockaddr *)&ss, len);
	taken = rc == -1 && errno == EADDRINUSE;
	close(fd);
	return taken;
}

static pid_t
spawn(char *const argv[])
{
	pid_t parent = getpid(), pid;
	int fd;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* Dies with the test, even when the test dies first. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* stdout is the TAP stream: keep it clean. */
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void
setup_dnsmasq(void)
{
	char exe[1024], port[32];
	char *argv[] = {
		exe, "--no-daemon", port, "--listen-address=127.0.0.1",
		"--bind-interfaces", "--no-resolv", "--no-hosts",
		"--conf-file=/dev/null", "--pid-file=", "--local=/test/",
		"--log-facility=-",
		"--host-record=node1.test,127.0.0.11",
		"--host-record=node1.test,::1",
		"--host-record=node2.test,127.0.0.12",
		"--srv-host=_erl._tcp.test,node1.test,4369,0,10",
		"--srv-host=_erl._tcp.test,node2.test,4370,1,5",
		"--srv-host=_erl._tcp.test,node3.test,4371,0,20",
		NULL
	};
	uint64_t end;
	int status, attempt;

	setup();
	if (!find_exe("dnsmasq", exe, sizeof(exe)))
		ck_abort_msg("dnsmasq is not installed (Debian package "
		    "dnsmasq-base): cannot test real DNS");
	for (attempt = 0; dnsmasq_pid == -1; attempt++) {
		ck_assert_msg(attempt < 5, "dnsmasq did not start");
		dnsmasq_port = free_port();
		snprintf(port, sizeof(port), "--port=%u", dnsmasq_port);
		dnsmasq_pid = spawn(argv);
		for (end = clock_ms() + 5000; !udp_port_taken(dnsmasq_port);
		    usleep(10000)) {
			if (waitpid(dnsmasq_pid, &status, WNOHANG) ==
			    dnsmasq_pid) {
				/* Most likely the port was taken meanwhile. */
				dnsmasq_pid = -1;
				break;
			}
			if (clock_ms() > end)
				ck_abort_msg("dnsmasq did not bind port %u",
				    dnsmasq_port);
		}
	}
	resolv_free(res);
	res = new_resolv(dnsmasq_port, 500, 2, 3000);
}

static void
teardown_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGKILL);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
	teardown();
}

START_TEST(resolv__dns_a)
{
	struct answer a = { 0 };

	resolv_query_addr(res, "node1.test", AF_INET, on_addr, &a);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert_msg(a.err == 0, "%s", cairn_strerror(a.err));
	ck_assert_uint_eq(a.n, 1);
	ck_assert(has_addr(&a, "127.0.0.11"));
}
END_TEST

START_TEST(resolv__dns_aaaa)
{
	struct answer a = { 0 };

	resolv_query_addr(res, "node1.test", AF_INET6, on_addr, &a);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert_msg(a.err == 0, "%s", cairn_strerror(a.err));
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(a.addrs[0].ss_family, AF_INET6);
	ck_assert(has_addr(&a, "::1"));
}
END_TEST

START_TEST(resolv__dns_both_families)
{
	struct answer a = { 0 }, b = { 0 };

	resolv_query_addr(res, "node1.test", AF_UNSPEC, on_addr, &a);
	resolv_query_addr(res, "node2.test", AF_UNSPEC, on_addr, &b);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert(run_until(&b.calls, 1, 3000));
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.n, 2);
	ck_assert(has_addr(&a, "127.0.0.11"));
	ck_assert(has_addr(&a, "::1"));
	/* A name with an A record only still answers. */
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(b.n, 1);
	ck_assert(has_addr(&b, "127.0.0.12"));
}
END_TEST

START_TEST(resolv__dns_no_such_name)
{
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t t0 = clock_ms();

	resolv_query_addr(res, "nope.test", AF_UNSPEC, on_addr, &a);
	/* The name exists, but has no AAAA record. */
	resolv_query_addr(res, "node2.test", AF_INET6, on_addr, &b);
	resolv_query_srv(res, "_nope._tcp.test", on_srv, &c);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert(run_until(&b.calls, 1, 3000));
	ck_assert(run_until(&c.calls, 1, 3000));
	ck_assert_int_eq(a.err, CAIRN_ERR_DNS);
	ck_assert_int_eq(b.err, CAIRN_ERR_DNS);
	ck_assert_int_eq(c.err, CAIRN_ERR_DNS);
	/* Answered (NXDOMAIN, NODATA), not timed out: 2 x 500 ms. */
	ck_assert_uint_lt(clock_ms() - t0, 1000);
}
END_TEST

START_TEST(resolv__dns_srv)
{
	struct answer a = { 0 };

	ck_assert_ptr_nonnull(resolv_query_srv(res, "_erl._tcp.test", on_srv,
	    &a));
	ck_assert_int_eq(a.calls, 0);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert_msg(a.err == 0, "%s", cairn_strerror(a.err));
	ck_assert_uint_eq(a.n, 3);
	/* Priority ascending, then weight descending. */
	ck_assert_uint_eq(a.srv[0].priority, 0);
	ck_assert_uint_eq(a.srv[0].weight, 20);
	ck_assert_uint_eq(a.srv[0].port, 4371);
	ck_assert_str_eq(a.srv[0].target, "node3.test");
	ck_assert_uint_eq(a.srv[1].priority, 0);
	ck_assert_uint_eq(a.srv[1].weight, 10);
	ck_assert_uint_eq(a.srv[1].port, 4369);
	ck_assert_str_eq(a.srv[1].target, "node1.test");
	ck_assert_uint_eq(a.srv[2].priority, 1);
	ck_assert_uint_eq(a.srv[2].weight, 5);
	ck_assert_uint_eq(a.srv[2].port, 4370);
	ck_assert_str_eq(a.srv[2].target, "node2.test");
}
END_TEST

START_TEST(resolv__dns_srv_then_addr)
{
	struct answer a = { 0 }, b = { 0 };
	size_t i;

	/* What the Kubernetes strategy will do: SRV, then each target. */
	resolv_query_srv(res, "_erl._tcp.test", on_srv, &a);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert_int_eq(a.err, 0);
	for (i = 0; i < a.n; i++)
		if (strcmp(a.srv[i].target, "node1.test") == 0)
			resolv_query_addr(res, a.srv[i].target, AF_INET,
			    on_addr, &b);
	ck_assert(run_until(&b.calls, 1, 3000));
	ck_assert_int_eq(b.err, 0);
	ck_assert(has_addr(&b, "127.0.0.11"));
}
END_TEST

static Suite *
resolv_suite(void)
{
	Suite *s = suite_create("resolv");
	TCase *tc;

	tc = tcase_create("local");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, resolv__numeric_v4);
	tcase_add_test(tc, resolv__numeric_v6);
	tcase_add_test(tc, resolv__numeric_wrong_family);
	tcase_add_test(tc, resolv__localhost);
	tcase_add_test(tc, resolv__cancel_before_answer);
	tcase_add_test(tc, resolv__free_with_pending);
	tcase_add_test(tc, resolv__dead_server_times_out);
	tcase_add_test(tc, resolv__deadline_bounds_query);
	tcase_add_test(tc, resolv__cancel_and_free_from_callback);
	tcase_add_test(tc, resolv__bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("dnsmasq");
	tcase_add_checked_fixture(tc, setup_dnsmasq, teardown_dnsmasq);
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, resolv__dns_a);
	tcase_add_test(tc, resolv__dns_aaaa);
	tcase_add_test(tc, resolv__dns_both_families);
	tcase_add_test(tc, resolv__dns_no_such_name);
	tcase_add_test(tc, resolv__dns_srv);
	tcase_add_test(tc, resolv__dns_srv_then_addr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(resolv_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
