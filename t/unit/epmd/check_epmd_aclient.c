/*
 * Unit tests for epmd/epmd_aclient against the real epmd daemon (the
 * program this tree builds, named by CAIRN_EPMD), started on a free
 * loopback port for each test and killed by pid at its end (and, should
 * the test die first, by PR_SET_PDEATHSIG).  A closed port and a
 * listener that never accepts stand in for a dead and a hung epmd.
 * Every wait is bounded.
 */
#include <check.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

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
#include "common/sock.h"
#include "epmd/epmd_aclient.h"

#define MAX_EVENTS	64

/* Per-test state, made by the checked fixture in the forked child. */
static struct ev_loop		*loop;
static pid_t			 epmd_pid = -1;
static uint16_t			 epmd_port;
static struct sockaddr_storage	 epmd_ss;
static socklen_t		 epmd_sslen;
#define EPMD_SA	((struct sockaddr *)&epmd_ss)

struct names_ans {
	int		calls;
	int		err;
	size_t		n;
	char		name[8][64];
	uint16_t	port[8];
	uint64_t	at_ms;
};

struct port2_ans {
	int			calls;
	int			err;
	int			found;
	struct epmd_node_info	info;
	char			name[64];
	char			extra[64];
	uint64_t		at_ms;
};

struct reg_log {
	int			calls;
	struct epmd_areg_status	ev[MAX_EVENTS];
	int			registered;	/* REGISTERED events */
	int			lost;
	int			refused;
	int			retrying;
	struct epmd_areg	*free_me;	/* freed on REGISTERED */
};

static void
on_names(void *arg, int err, const struct epmd_aq_name *names, size_t n)
{
	struct names_ans *a = arg;
	size_t i;

	a->calls++;
	a->err = err;
	a->n = n;
	a->at_ms = clock_ms();
	for (i = 0; i < n && i < 8; i++) {
		ck_assert_uint_eq(strlen(names[i].name), names[i].name_len);
		snprintf(a->name[i], sizeof(a->name[i]), "%s", names[i].name);
		a->port[i] = names[i].port;
	}
}

static void
on_port2(void *arg, int err, const struct epmd_node_info *info)
{
	struct port2_ans *a = arg;

	a->calls++;
	a->err = err;
	a->at_ms = clock_ms();
	if (info == NULL)
		return;
	a->found = 1;
	a->info = *info;
	ck_assert_uint_lt(info->name.len, sizeof(a->name));
	ck_assert_uint_lt(info->extra.len, sizeof(a->extra));
	memcpy(a->name, info->name.p, info->name.len);
	memcpy(a->extra, info->extra.p, info->extra.len);
}

static void
on_reg(void *arg, const struct epmd_areg_status *st)
{
	struct reg_log *l = arg;

	if (l->calls < MAX_EVENTS)
		l->ev[l->calls] = *st;
	l->calls++;
	switch (st->event) {
	case EPMD_AREG_REGISTERED:
		l->registered++;
		if (l->free_me != NULL) {
			epmd_areg_free(l->free_me);
			/* A second free from the same callback is harmless. */
			epmd_areg_free(l->free_me);
		}
		break;
	case EPMD_AREG_LOST:
		l->lost++;
		break;
	case EPMD_AREG_REFUSED:
		l->refused++;
		break;
	case EPMD_AREG_RETRYING:
		l->retrying++;
		break;
	}
}

static void
on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
}

/* Runs the loop until *count >= want or max_ms pass; 1 if reached. */
static int
run_until(const int *count, int want, int max_ms)
{
	uint64_t end = clock_ms() + (uint64_t)max_ms;
	ev_timer tick;

	ev_timer_init(&tick, on_tick, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while (*count < want && clock_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return *count >= want;
}

static void
run_for(int ms)
{
	static const int never = 0;

	run_until(&never, 1, ms);
}

/* A NAMES round trip against the test epmd. */
static void
names_now(struct names_ans *a)
{
	memset(a, 0, sizeof(*a));
	ck_assert_ptr_nonnull(epmd_aq_names(loop, EPMD_SA, epmd_sslen, 2.,
	    on_names, a));
	ck_assert(run_until(&a->calls, 1, 3000));
}

/* Polls NAMES until it lists n names; bounded. */
static int
names_until(size_t n, int max_ms)
{
	struct names_ans a;
	uint64_t end = clock_ms() + (uint64_t)max_ms;

	do {
		names_now(&a);
		if (a.err == 0 && a.n == n)
			return 1;
		run_for(20);
	} while (clock_ms() < end);
	return 0;
}

/* A TCP socket bound to a free loopback port; listening if asked. */
static int
loopback_tcp(int do_listen, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd;

	ck_assert_int_eq(sock_addr_parse("127.0.0.1", 0, ss, len), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)ss, *len), 0);
	if (do_listen)
		ck_assert_int_eq(listen(fd, 8), 0);
	*len = sizeof(*ss);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
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

/* Starts epmd on epmd_port; 1 once it accepts, 0 if it exited. */
static int
start_epmd(void)
{
	const char *exe = getenv("CAIRN_EPMD");
	char port[16];
	char *argv[] = { NULL, "-address", "127.0.0.1", "-port", port, NULL };
	uint64_t end = clock_ms() + 5000;
	int fd, status;

	ck_assert_msg(exe != NULL && *exe != '\0',
	    "CAIRN_EPMD names no epmd program");
	argv[0] = (char *)exe;
	snprintf(port, sizeof(port), "%u", epmd_port);
	epmd_pid = spawn(argv);
	for (;;) {
		fd = sock_connect(EPMD_SA, epmd_sslen, 0);
		if (fd != -1) {
			close(fd);
			return 1;
		}
		if (waitpid(epmd_pid, &status, WNOHANG) == epmd_pid) {
			epmd_pid = -1;
			return 0;
		}
		ck_assert_msg(clock_ms() < end, "epmd did not start");
		usleep(10000);
	}
}

static void
stop_epmd(void)
{
	if (epmd_pid > 0) {
		kill(epmd_pid, SIGKILL);
		waitpid(epmd_pid, NULL, 0);
		epmd_pid = -1;
	}
}

static void
setup(void)
{
	int attempt, fd;

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	/* The port may be taken between probe and bind: try again. */
	for (attempt = 0; attempt < 5; attempt++) {
		fd = loopback_tcp(0, &epmd_ss, &epmd_sslen);
		close(fd);
		epmd_port = sock_port(EPMD_SA);
		if (start_epmd())
			return;
	}
	ck_abort_msg("epmd did not start");
}

static void
teardown(void)
{
	stop_epmd();
	ev_loop_destroy(loop);
}

static const struct epmd_areg_opts fast = {
	.timeout_s = 2.,
	.retry_min_s = 0.05,
	.retry_max_s = 0.4,
};

static struct epmd_node_info
node(const char *name, uint16_t port, const char *extra)
{
	struct epmd_node_info info;

	memset(&info, 0, sizeof(info));
	info.port = port;
	info.nodetype = EPMD_NODETYPE_HIDDEN;
	info.protocol = 0;
	info.highvsn = 6;
	info.lowvsn = 5;
	info.name = bytes_view_of(name, strlen(name));
	info.extra = bytes_view_of(extra, strlen(extra));
	return info;
}

/*
 * Queries.
 */

START_TEST(epmd_aclient__names_empty)
{
	struct names_ans a = { 0 };

	ck_assert_ptr_nonnull(epmd_aq_names(loop, EPMD_SA, epmd_sslen, 2.,
	    on_names, &a));
	ck_assert_int_eq(a.calls, 0);
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert_msg(a.err == 0, "%s", cairn_strerror(a.err));
	ck_assert_uint_eq(a.n, 0);
	run_for(50);
	ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(epmd_aclient__register_names_port2)
{
	struct epmd_node_info info = node("cairn1", 5555, "cairn-broker");
	struct names_ans n;
	struct port2_ans p = { 0 }, q = { 0 };
	struct reg_log l = { 0 };
	struct epmd_areg *reg;
	uint32_t creation;
	char name[8];

	reg = epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info, &fast, on_reg,
	    &l);
	ck_assert_ptr_nonnull(reg);
	/* info was copied. */
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(l.calls, 0);
	ck_assert(!epmd_areg_registered(reg, NULL));
	ck_assert(run_until(&l.registered, 1, 3000));
	ck_assert_int_eq(l.calls, 1);
	ck_assert_int_eq(l.ev[0].event, EPMD_AREG_REGISTERED);
	ck_assert_uint_ne(l.ev[0].creation, 0);
	ck_assert(epmd_areg_registered(reg, &creation));
	ck_assert_uint_eq(creation, l.ev[0].creation);

	names_now(&n);
	ck_assert_int_eq(n.err, 0);
	ck_assert_uint_eq(n.n, 1);
	ck_assert_str_eq(n.name[0], "cairn1");
	ck_assert_uint_eq(n.port[0], 5555);

	/* Every field comes back, extra included. */
	snprintf(name, sizeof(name), "cairn1");
	ck_assert_ptr_nonnull(epmd_aq_port2(loop, EPMD_SA, epmd_sslen, name,
	    2., on_port2, &p));
	/* name was copied. */
	memset(name, 'x', sizeof(name) - 1);
	ck_assert_ptr_nonnull(epmd_aq_port2(loop, EPMD_SA, epmd_sslen,
	    "nobody", 2., on_port2, &q));
	ck_assert(run_until(&p.calls, 1, 3000));
	ck_assert(run_until(&q.calls, 1, 3000));
	ck_assert_msg(p.err == 0, "%s", cairn_strerror(p.err));
	ck_assert(p.found);
	ck_assert_uint_eq(p.info.port, 5555);
	ck_assert_uint_eq(p.info.nodetype, EPMD_NODETYPE_HIDDEN);
	ck_assert_uint_eq(p.info.protocol, 0);
	ck_assert_uint_eq(p.info.highvsn, 6);
	ck_assert_uint_eq(p.info.lowvsn, 5);
	ck_assert_str_eq(p.name, "cairn1");
	ck_assert_uint_eq(p.info.extra.len, strlen("cairn-broker"));
	ck_assert_str_eq(p.extra, "cairn-broker");

	/* Not registered: an answer, not an error. */
	ck_assert_int_eq(q.err, 0);
	ck_assert(!q.found);

	/* Freeing the keeper closes the lease: epmd drops the name. */
	epmd_areg_free(reg);
	ck_assert(names_until(0, 3000));
	ck_assert_int_eq(l.calls, 1);
}
END_TEST

START_TEST(epmd_aclient__refused_duplicate)
{
	struct epmd_node_info info = node("dup", 6001, "");
	struct reg_log l1 = { 0 }, l2 = { 0 };
	struct epmd_areg *r1, *r2;
	struct port2_ans p = { 0 };
	int i;

	r1 = epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info, &fast, on_reg,
	    &l1);
	ck_assert(run_until(&l1.registered, 1, 3000));
	info.port = 6002;
	r2 = epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info, &fast, on_reg,
	    &l2);
	ck_assert_ptr_nonnull(r2);
	ck_assert(run_until(&l2.refused, 2, 3000));
	ck_assert_int_eq(l2.registered, 0);
	ck_assert_int_eq(l2.ev[0].event, EPMD_AREG_REFUSED);
	ck_assert_int_eq(l2.ev[0].err, CAIRN_ERR_EXIST);
	ck_assert_int_eq(l2.ev[1].event, EPMD_AREG_RETRYING);
	ck_assert_int_eq(l2.ev[1].err, CAIRN_ERR_EXIST);
	/* Backoff delays stay within [min/2, max]. */
	for (i = 0; i < l2.calls && i < MAX_EVENTS; i++)
		if (l2.ev[i].event == EPMD_AREG_RETRYING) {
			ck_assert_uint_ge(l2.ev[i].retry_ms, 25);
			ck_assert_uint_le(l2.ev[i].retry_ms, 400);
		}
	ck_assert(!epmd_areg_registered(r2, NULL));

	/* The name frees up: the second keeper takes it. */
	epmd_areg_free(r1);
	ck_assert(run_until(&l2.registered, 1, 3000));
	ck_assert_ptr_nonnull(epmd_aq_port2(loop, EPMD_SA, epmd_sslen, "dup",
	    2., on_port2, &p));
	ck_assert(run_until(&p.calls, 1, 3000));
	ck_assert(p.found);
	ck_assert_uint_eq(p.info.port, 6002);
	epmd_areg_free(r2);
}
END_TEST

START_TEST(epmd_aclient__register_again_after_restart)
{
	struct epmd_node_info info = node("phoenix", 7007, "x");
	struct reg_log l = { 0 };
	struct epmd_areg *reg;
	struct port2_ans p = { 0 };
	int i, lost_at = -1;

	reg = epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info, &fast, on_reg,
	    &l);
	ck_assert(run_until(&l.registered, 1, 3000));

	stop_epmd();
	ck_assert(run_until(&l.lost, 1, 3000));
	ck_assert(!epmd_areg_registered(reg, NULL));
	/* While epmd is down, attempts fail and back off. */
	ck_assert(run_until(&l.retrying, 3, 3000));
	ck_assert_int_eq(l.registered, 1);

	ck_assert_msg(start_epmd(), "epmd did not start again on port %u",
	    epmd_port);
	ck_assert(run_until(&l.registered, 2, 5000));
	ck_assert(epmd_areg_registered(reg, NULL));
	for (i = 0; i < l.calls && i < MAX_EVENTS; i++)
		if (l.ev[i].event == EPMD_AREG_LOST && lost_at == -1)
			lost_at = i;
	ck_assert_int_eq(lost_at, 1);
	ck_assert_int_eq(l.ev[2].event, EPMD_AREG_RETRYING);
	ck_assert_int_eq(l.ev[l.calls - 1].event, EPMD_AREG_REGISTERED);

	ck_assert_ptr_nonnull(epmd_aq_port2(loop, EPMD_SA, epmd_sslen,
	    "phoenix", 2., on_port2, &p));
	ck_assert(run_until(&p.calls, 1, 3000));
	ck_assert(p.found);
	ck_assert_uint_eq(p.info.port, 7007);
	ck_assert_str_eq(p.extra, "x");
	epmd_areg_free(reg);
}
END_TEST

START_TEST(epmd_aclient__closed_port_fails_fast)
{
	struct sockaddr_storage ss;
	struct names_ans a = { 0 };
	struct port2_ans p = { 0 };
	struct reg_log l = { 0 };
	struct epmd_areg *reg;
	struct epmd_node_info info = node("lonely", 1, "");
	socklen_t len;
	uint64_t t0 = clock_ms();
	int fd;

	/* Bound but not listening: connects are refused. */
	fd = loopback_tcp(0, &ss, &len);
	ck_assert_ptr_nonnull(epmd_aq_names(loop, (struct sockaddr *)&ss, len,
	    5., on_names, &a));
	ck_assert_ptr_nonnull(epmd_aq_port2(loop, (struct sockaddr *)&ss, len,
	    "x", 5., on_port2, &p));
	/* A refusal at connect(2) still answers from the loop. */
	ck_assert_int_eq(a.calls + p.calls, 0);
	ck_assert(run_until(&a.calls, 1, 2000));
	ck_assert(run_until(&p.calls, 1, 2000));
	ck_assert_int_eq(a.err, CAIRN_ERR_IO);
	ck_assert_int_eq(p.err, CAIRN_ERR_IO);
	/* Well before the 5 s deadline. */
	ck_assert_uint_lt(a.at_ms - t0, 1000);

	reg = epmd_areg_new(loop, (struct sockaddr *)&ss, len, &info, &fast,
	    on_reg, &l);
	ck_assert(run_until(&l.retrying, 4, 3000));
	ck_assert_int_eq(l.registered, 0);
	ck_assert_int_eq(l.ev[0].event, EPMD_AREG_RETRYING);
	ck_assert_int_eq(l.ev[0].err, CAIRN_ERR_IO);
	epmd_areg_free(reg);
	close(fd);
}
END_TEST

START_TEST(epmd_aclient__silent_listener_times_out)
{
	struct sockaddr_storage ss;
	struct names_ans a = { 0 };
	struct port2_ans p = { 0 };
	struct reg_log l = { 0 };
	struct epmd_node_info info = node("patient", 1, "");
	struct epmd_areg_opts o = fast;
	struct epmd_areg *reg;
	socklen_t len;
	uint64_t t0 = clock_ms();
	int fd;

	/* Listening, but never accepting nor reading: connects complete. */
	fd = loopback_tcp(1, &ss, &len);
	ck_assert_ptr_nonnull(epmd_aq_names(loop, (struct sockaddr *)&ss, len,
	    0.3, on_names, &a));
	ck_assert_ptr_nonnull(epmd_aq_port2(loop, (struct sockaddr *)&ss, len,
	    "x", 0.3, on_port2, &p));
	ck_assert(run_until(&a.calls, 1, 3000));
	ck_assert(run_until(&p.calls, 1, 3000));
	ck_assert_int_eq(a.err, CAIRN_ERR_TIMEOUT);
	ck_assert_int_eq(p.err, CAIRN_ERR_TIMEOUT);
	ck_assert_uint_ge(a.at_ms - t0, 250);
	ck_assert_uint_lt(a.at_ms - t0, 1500);

	o.timeout_s = 0.2;
	reg = epmd_areg_new(loop, (struct sockaddr *)&ss, len, &info, &o,
	    on_reg, &l);
	ck_assert(run_until(&l.retrying, 1, 3000));
	ck_assert_int_eq(l.ev[0].event, EPMD_AREG_RETRYING);
	ck_assert_int_eq(l.ev[0].err, CAIRN_ERR_TIMEOUT);
	epmd_areg_free(reg);
	close(fd);
}
END_TEST

START_TEST(epmd_aclient__cancel_before_completion)
{
	struct sockaddr_storage ss;
	struct names_ans a = { 0 }, b = { 0 };
	struct port2_ans p = { 0 };
	struct epmd_aq *qa, *qb, *qp;
	socklen_t len;
	int fd;

	/* Against the real epmd: cancelled before the loop ever runs. */
	qa = epmd_aq_names(loop, EPMD_SA, epmd_sslen, 2., on_names, &a);
	ck_assert_ptr_nonnull(qa);
	epmd_aq_cancel(qa);
	epmd_aq_cancel(NULL);

	/* Against a silent listener: cancelled mid-exchange. */
	fd = loopback_tcp(1, &ss, &len);
	qb = epmd_aq_names(loop, (struct sockaddr *)&ss, len, 0.3, on_names,
	    &b);
	qp = epmd_aq_port2(loop, (struct sockaddr *)&ss, len, "x", 0.3,
	    on_port2, &p);
	run_for(100);
	epmd_aq_cancel(qb);
	epmd_aq_cancel(qp);
	/* Past every deadline. */
	run_for(500);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(p.calls, 0);
	close(fd);
}
END_TEST

struct reentry {
	struct epmd_aq	*self;
	struct epmd_aq	*other;
	struct epmd_aq	*started;
	struct names_ans inner;
	int		 calls;
};

static void
on_names_reenter(void *arg, int err, const struct epmd_aq_name *names,
    size_t n)
{
	struct reentry *e = arg;

	e->calls++;
	/* Cancelling oneself is harmless; the other never answers. */
	epmd_aq_cancel(e->self);
	epmd_aq_cancel(e->other);
	e->started = epmd_aq_names(loop, EPMD_SA, epmd_sslen, 2., on_names,
	    &e->inner);
}

START_TEST(epmd_aclient__reenter_from_callbacks)
{
	struct sockaddr_storage ss;
	struct names_ans b = { 0 };
	struct reentry e = { 0 };
	struct epmd_node_info info = node("shortlived", 9, "");
	struct reg_log l = { 0 };
	struct epmd_areg *reg;
	socklen_t len;
	int fd;

	fd = loopback_tcp(1, &ss, &len);
	e.other = epmd_aq_names(loop, (struct sockaddr *)&ss, len, 0.3,
	    on_names, &b);
	e.self = epmd_aq_names(loop, EPMD_SA, epmd_sslen, 2.,
	    on_names_reenter, &e);
	ck_assert(run_until(&e.calls, 1, 3000));
	ck_assert_ptr_nonnull(e.started);
	ck_assert(run_until(&e.inner.calls, 1, 3000));
	ck_assert_int_eq(e.inner.err, 0);
	run_for(500);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_int_eq(b.calls, 0);

	/* A keeper freed from its own callback: nothing more, name gone. */
	reg = epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info, &fast, on_reg,
	    &l);
	l.free_me = reg;
	ck_assert(run_until(&l.registered, 1, 3000));
	ck_assert(names_until(0, 3000));
	run_for(200);
	ck_assert_int_eq(l.calls, 1);
	close(fd);
}
END_TEST

START_TEST(epmd_aclient__bad_args)
{
	struct epmd_node_info info = node("", 1, "");
	struct names_ans a = { 0 };
	struct port2_ans p = { 0 };
	struct reg_log l = { 0 };
	struct sockaddr_storage un;
	char big[EPMD_MAXSYMLEN + 2];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	ck_assert_ptr_null(epmd_aq_names(NULL, EPMD_SA, epmd_sslen, 1.,
	    on_names, &a));
	ck_assert_ptr_null(epmd_aq_names(loop, NULL, epmd_sslen, 1.,
	    on_names, &a));
	ck_assert_ptr_null(epmd_aq_names(loop, EPMD_SA, epmd_sslen, 0.,
	    on_names, &a));
	ck_assert_ptr_null(epmd_aq_names(loop, EPMD_SA, epmd_sslen, 1., NULL,
	    &a));
	ck_assert_ptr_null(epmd_aq_names(loop, (struct sockaddr *)&un,
	    sizeof(un), 1., on_names, &a));
	ck_assert_ptr_null(epmd_aq_port2(loop, EPMD_SA, epmd_sslen, "", 1.,
	    on_port2, &p));
	ck_assert_ptr_null(epmd_aq_port2(loop, EPMD_SA, epmd_sslen, big, 1.,
	    on_port2, &p));
	/* An empty name fails epmd_check_alive2(). */
	ck_assert_ptr_null(epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info,
	    NULL, on_reg, &l));
	info = node("ok", 1, "");
	ck_assert_ptr_null(epmd_areg_new(loop, EPMD_SA, epmd_sslen, &info,
	    NULL, NULL, &l));
	epmd_areg_free(NULL);
	run_for(50);
	ck_assert_int_eq(a.calls + p.calls + l.calls, 0);
}
END_TEST

static Suite *
epmd_aclient_suite(void)
{
	Suite *s = suite_create("epmd_aclient");
	TCase *tc;

	tc = tcase_create("query");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, epmd_aclient__names_empty);
	tcase_add_test(tc, epmd_aclient__closed_port_fails_fast);
	tcase_add_test(tc, epmd_aclient__silent_listener_times_out);
	tcase_add_test(tc, epmd_aclient__cancel_before_completion);
	tcase_add_test(tc, epmd_aclient__reenter_from_callbacks);
	tcase_add_test(tc, epmd_aclient__bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("areg");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, epmd_aclient__register_names_port2);
	tcase_add_test(tc, epmd_aclient__refused_duplicate);
	tcase_add_test(tc, epmd_aclient__register_again_after_restart);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(epmd_aclient_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
