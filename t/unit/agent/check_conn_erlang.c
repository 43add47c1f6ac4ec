/*
 * The `erlang` connector against real peers: our epmd (CAIRN_EPMD) on a
 * free loopback port and three stock `erl -sname nX@localhost` nodes
 * with no clustering code (connect_all false, so only the connector
 * meshes them), all found through ERL_EPMD_PORT.  The connector runs on
 * its own libev loop in the test process.  A hidden one-shot `erl`
 * checks each node's nodes() from outside.
 *
 * Every process started here is killed by pid and reaped: in the
 * fixture's teardown, at exit (a failed assertion exits the test's
 * child), and by the kernel if the test's child is killed on timeout
 * (each is started with PR_SET_PDEATHSIG).
 */
#include <check.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <yaml.h>

#include "agent/conn_erlang.h"
#include "agent/connector.h"
#include "agent/ei_worker.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/err.h"
#include "epmd/epmd_client.h"

#define COOKIE		"cairn_test_cookie"
#define NNODES		3
#define MAX_PIDS	32
/* Time for a stock node to boot and register (2 cores, sanitizers). */
#define BOOT_MS		30000

static const char *const node_names[NNODES] = {
	"n1@localhost", "n2@localhost", "n3@localhost",
};

/* Per test (the test's forked child). */
static pid_t		 pids[MAX_PIDS];
static pid_t		 epmd_pid = -1;
static pid_t		 node_pid[NNODES] = { -1, -1, -1 };
static uint16_t		 epmd_port;
static struct ev_loop	*loop;
static struct connector	*conn;

struct result {
	int	done;
	int	err;
	char	msg[EIW_MSG_LEN];
};

static void
track(pid_t pid)
{
	size_t i;

	for (i = 0; i < MAX_PIDS; i++)
		if (pids[i] <= 0) {
			pids[i] = pid;
			return;
		}
}

/* Kills pid (if we started it and it still runs) and reaps it. */
static void
kill_reap(pid_t pid)
{
	struct timespec pause = { 0, 10000000L };
	size_t i;
	int st, n;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	kill(pid, SIGCONT);
	for (n = 0; n < 300; n++) {
		if (waitpid(pid, &st, WNOHANG) != 0)
			break;
		nanosleep(&pause, NULL);
	}
	for (i = 0; i < MAX_PIDS; i++)
		if (pids[i] == pid)
			pids[i] = 0;
}

static void
kill_all(void)
{
	size_t i;

	if (conn != NULL) {
		connector_erlang.destroy(conn);
		conn = NULL;
	}
	for (i = 0; i < MAX_PIDS; i++)
		kill_reap(pids[i]);
}

/* Starts argv with stdio on /dev/null (or out); dies with us. */
static pid_t
spawn(char *const argv[], int out)
{
	pid_t parent = getpid(), pid;
	int devnull;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(out >= 0 ? out : devnull, 1);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	track(pid);
	return pid;
}

static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* 1 if alive is registered with our epmd. */
static int
registered(const char *alive)
{
	struct bytes_w body;
	uint32_t port;
	char want[128];
	int found = 0;

	bytes_w_init(&body, 1 << 20);
	snprintf(want, sizeof(want), "name %s at port ", alive);
	if (epmd_client_names("127.0.0.1", epmd_port, 1000, &port,
	    &body) == 0 && bytes_put_u8(&body, 0) == 0)
		found = strstr((char *)body.buf, want) != NULL;
	bytes_w_fini(&body);
	return found;
}

static void
wait_registered(const char *alive, int want)
{
	uint64_t end = clock_ms() + BOOT_MS;

	while (registered(alive) != want) {
		ck_assert_msg(clock_ms() < end, "%s never %s", alive,
		    want ? "registered" : "unregistered");
		usleep(50000);
	}
}

static void
start_node(int i)
{
	char name[32], *argv[] = {
		"erl", "-sname", name, "-start_epmd", "false", "-noshell",
		"-setcookie", COOKIE, "-kernel", "connect_all", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}", NULL,
	};

	snprintf(name, sizeof(name), "%s", node_names[i]);
	node_pid[i] = spawn(argv, -1);
}

static void
alive_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)(strchr(node_names[i], '@') -
	    node_names[i]), node_names[i]);
}

static void
kill_node(int i)
{
	char alive[32];

	kill_reap(node_pid[i]);
	node_pid[i] = -1;
	alive_of(i, alive, sizeof(alive));
	wait_registered(alive, 0);
}

static void
restart_node(int i)
{
	char alive[32];

	start_node(i);
	alive_of(i, alive, sizeof(alive));
	wait_registered(alive, 1);
}

static void
setup(void)
{
	char port[16], *argv[] = {
		NULL, "-port", port, "-address", "127.0.0.1", NULL,
	};
	const char *epmd = getenv("CAIRN_EPMD");
	char alive[32];
	int i;

	atexit(kill_all);
	ck_assert_msg(epmd != NULL, "CAIRN_EPMD is not set");
	epmd_port = free_port();
	snprintf(port, sizeof(port), "%u", epmd_port);
	setenv("ERL_EPMD_PORT", port, 1);
	argv[0] = (char *)epmd;
	epmd_pid = spawn(argv, -1);
	for (i = 0; i < 100; i++) {
		int fd = epmd_client_connect("127.0.0.1", epmd_port, 100);

		if (fd >= 0) {
			close(fd);
			break;
		}
		usleep(20000);
	}
	for (i = 0; i < NNODES; i++)
		start_node(i);
	for (i = 0; i < NNODES; i++) {
		alive_of(i, alive, sizeof(alive));
		wait_registered(alive, 1);
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
}

static void
teardown(void)
{
	kill_all();
	if (loop != NULL)
		ev_loop_destroy(loop);
	loop = NULL;
}

/* A connector with yaml as its config mapping. */
static struct connector *
make_conn(const char *cookie, const char *yaml)
{
	const struct connector_ops *ops = &connector_erlang;
	struct agent_env env = { loop, NULL, cookie, "cairn_test", NULL, 0 };
	struct conf_err cerr;
	struct conf_doc *doc;
	struct connector *c;
	char err[256];
	void *cf;

	cf = calloc(1, ops->conf_size);
	ck_assert_ptr_nonnull(cf);
	ops->conf_init(cf);
	doc = conf_doc_load_string("test", yaml, strlen(yaml), &cerr);
	ck_assert_msg(doc != NULL, "%s", cerr.msg);
	ck_assert_msg(conf_apply(doc, conf_doc_root(doc), ops->keys, cf) == 0,
	    "%s", conf_doc_errors(doc));
	conf_doc_free(doc);
	c = ops->create(&env, cf, err, sizeof(err));
	ck_assert_msg(c != NULL, "create: %s", err);
	ops->conf_free(cf);
	free(cf);
	return c;
}

static void
on_done(void *arg, int err, const char *msg)
{
	struct result *r = arg;

	r->done++;
	r->err = err;
	snprintf(r->msg, sizeof(r->msg), "%s", msg != NULL ? msg : "");
}

static void
on_tick(struct ev_loop *l, ev_timer *t, int revents)
{
}

/* Runs the loop until r is done or ms pass; 1 if done. */
static int
run_until(struct result *r, uint64_t ms)
{
	uint64_t end = clock_ms() + ms;
	ev_timer tick;

	ev_timer_init(&tick, on_tick, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while ((r == NULL || r->done == 0) && clock_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return r != NULL && r->done != 0;
}

/* connect(node, all nodes) and wait; returns the elapsed ms. */
static uint64_t
do_connect(const char *node, double timeout, struct result *r)
{
	uint64_t t0 = clock_ms();

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(connector_erlang.connect(conn, node,
	    node_names, NNODES, timeout, on_done, r), 0);
	ck_assert_msg(run_until(r, (uint64_t)(timeout * 1000.) +
	    CONN_ERLANG_GRACE_MS + 5000), "%s: no answer", node);
	return clock_ms() - t0;
}

static void
connect_ok(const char *node)
{
	struct result r;

	do_connect(node, 10., &r);
	ck_assert_msg(r.err == 0, "%s: %s (%s)", node, cairn_strerror(r.err),
	    r.msg);
}

/*
 * Asks each node for its nodes() from a hidden one-shot erl, sorted:
 * "[[n2@localhost,n3@localhost],[...],[...]]".
 */
static void
probe(char *out, size_t len)
{
	char name[64], *argv[] = {
		"erl", "-sname", name, "-hidden", "-start_epmd", "false",
		"-noshell", "-setcookie", COOKIE, "-kernel",
		"inet_dist_use_interface", "{127,0,0,1}", "-eval",
		"S = fun(L) when is_list(L) -> lists:sort(L); (E) -> E end, "
		"Ns = [n1@localhost, n2@localhost, n3@localhost], "
		"io:format(\"~w~n\", [[S(rpc:call(N, erlang, nodes, [], 5000)) "
		"|| N <- Ns]]), halt().", NULL,
	};
	uint64_t end = clock_ms() + BOOT_MS;
	struct pollfd pfd;
	size_t used = 0;
	ssize_t n;
	pid_t pid;
	int fds[2];

	snprintf(name, sizeof(name), "probe_%ld@localhost", (long)getpid());
	ck_assert_int_eq(pipe(fds), 0);
	pid = spawn(argv, fds[1]);
	close(fds[1]);
	while (used + 1 < len && clock_ms() < end) {
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(fds[0], out + used, len - used - 1)) <= 0)
			break;
		used += (size_t)n;
	}
	close(fds[0]);
	out[used] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	kill_reap(pid);
}

static void
assert_probe(const char *want)
{
	char got[1024];

	probe(got, sizeof(got));
	ck_assert_str_eq(got, want);
}

static void
mesh_all(void)
{
	int i;

	for (i = 0; i < NNODES; i++)
		connect_ok(node_names[i]);
}

#define FULL_MESH \
	"[[n2@localhost,n3@localhost],[n1@localhost,n3@localhost]," \
	"[n1@localhost,n2@localhost]]"

/*
 * Codec (no peers)
 */

START_TEST(conn_erlang__codec_roundtrip)
{
	const char *members[] = { "a@h", "b@h" };
	struct bytes_view body, m;
	struct eiw_req req;
	struct eiw_reply rep;
	struct bytes_w w;
	size_t used;

	bytes_w_init(&w, 1 << 16);
	ck_assert_int_eq(eiw_encode_req(&w, EIW_CONNECT, 7, 1500, "a@h",
	    members, 2), 0);
	ck_assert_int_eq(eiw_frame(w.buf, w.len, &body, &used), 0);
	ck_assert_uint_eq(used, w.len);
	ck_assert_int_eq(eiw_decode_req(body, &req), 0);
	ck_assert_int_eq(req.kind, EIW_CONNECT);
	ck_assert_uint_eq(req.id, 7);
	ck_assert_uint_eq(req.timeout_ms, 1500);
	ck_assert(bytes_view_eq_str(req.node, "a@h"));
	ck_assert_uint_eq(req.n, 2);
	ck_assert_int_eq(eiw_req_next_member(&req, &m), 0);
	ck_assert(bytes_view_eq_str(m, "a@h"));
	ck_assert_int_eq(eiw_req_next_member(&req, &m), 0);
	ck_assert(bytes_view_eq_str(m, "b@h"));
	ck_assert_int_eq(eiw_req_next_member(&req, &m), CAIRN_ERR_PROTO);

	bytes_w_reset(&w);
	ck_assert_int_eq(eiw_encode_reply(&w, 9, CAIRN_ERR_AUTH,
	    "a@h: handshake refused (wrong cookie?)"), 0);
	ck_assert_int_eq(eiw_frame(w.buf, w.len, &body, &used), 0);
	ck_assert_int_eq(eiw_decode_reply(body, &rep), 0);
	ck_assert_uint_eq(rep.id, 9);
	ck_assert_int_eq(rep.err, CAIRN_ERR_AUTH);
	ck_assert(bytes_view_eq_str(rep.msg,
	    "a@h: handshake refused (wrong cookie?)"));
	bytes_w_fini(&w);
}
END_TEST

START_TEST(conn_erlang__codec_truncated)
{
	struct bytes_view body;
	struct eiw_req req;
	struct bytes_w w;
	size_t used, i;
	uint8_t big[4] = { 0xff, 0xff, 0xff, 0xff };

	bytes_w_init(&w, 1 << 16);
	ck_assert_int_eq(eiw_encode_req(&w, EIW_DISCONNECT, 1, 1, "a@h",
	    NULL, 0), 0);
	for (i = 0; i < w.len; i++)
		ck_assert_int_eq(eiw_frame(w.buf, i, &body, &used),
		    CAIRN_ERR_NEED_MORE);
	ck_assert_int_eq(eiw_frame(big, 4, &body, &used), CAIRN_ERR_TOO_BIG);
	/* Every cut of a body is malformed, never a crash. */
	ck_assert_int_eq(eiw_frame(w.buf, w.len, &body, &used), 0);
	for (i = 0; i < body.len; i++)
		ck_assert_int_eq(eiw_decode_req(bytes_view_of(body.p, i), &req),
		    CAIRN_ERR_PROTO);
	bytes_w_fini(&w);
}
END_TEST

/*
 * Real peers
 */

START_TEST(conn_erlang__mesh)
{
	struct result r;
	uint64_t ms;

	conn = make_conn(COOKIE, "type: erlang\nworkers: 2\ntimeout: 10s\n");
	do_connect(node_names[0], 10., &r);
	ck_assert_msg(r.err == 0, "%s", r.msg);
	ck_assert_str_eq(r.msg, "n1@localhost: connected to 2 of 2 members");
	connect_ok(node_names[1]);
	connect_ok(node_names[2]);
	assert_probe(FULL_MESH);
	/* The health check on a meshed node is one rpc on a kept link. */
	ms = do_connect(node_names[0], 10., &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_lt(ms, 1000);
	/* Exactly once: nothing more arrives. */
	run_until(NULL, 300);
	ck_assert_int_eq(r.done, 1);
}
END_TEST

START_TEST(conn_erlang__wrong_cookie)
{
	struct result r;

	conn = make_conn("not_the_cookie", "workers: 1\n");
	do_connect(node_names[0], 5., &r);
	ck_assert_int_eq(r.err, CAIRN_ERR_AUTH);
	ck_assert_str_eq(r.msg,
	    "n1@localhost: handshake refused (wrong cookie?)");
}
END_TEST

START_TEST(conn_erlang__not_registered)
{
	struct result r;

	conn = make_conn(COOKIE, "");
	do_connect("nx@localhost", 5., &r);
	ck_assert_int_eq(r.err, CAIRN_ERR_NOENT);
	ck_assert_str_eq(r.msg,
	    "nx@localhost: not registered with epmd on localhost");
}
END_TEST

START_TEST(conn_erlang__no_epmd)
{
	struct result r;
	char port[16], want[128];

	/* ERL_EPMD_PORT is honoured: a port with no epmd on it fails. */
	snprintf(port, sizeof(port), "%u", free_port());
	setenv("ERL_EPMD_PORT", port, 1);
	conn = make_conn(COOKIE, "");
	do_connect(node_names[0], 5., &r);
	ck_assert_int_eq(r.err, CAIRN_ERR_IO);
	snprintf(want, sizeof(want), "n1@localhost: cannot reach epmd on "
	    "localhost port %s", port);
	ck_assert_msg(strncmp(r.msg, want, strlen(want)) == 0, "%s", r.msg);
}
END_TEST

START_TEST(conn_erlang__bad_name)
{
	struct result r = { 0 };

	conn = make_conn(COOKIE, "");
	ck_assert_int_eq(connector_erlang.connect(conn, "nohost", node_names,
	    NNODES, 1., on_done, &r), CAIRN_ERR_INVAL);
	ck_assert_int_eq(connector_erlang.connect(conn, "@h", node_names,
	    NNODES, 1., on_done, &r), CAIRN_ERR_INVAL);
	run_until(NULL, 100);
	ck_assert_int_eq(r.done, 0);
}
END_TEST

START_TEST(conn_erlang__killed_node)
{
	struct result r;
	uint64_t ms;

	conn = make_conn(COOKIE, "workers: 2\n");
	mesh_all();
	kill_node(2);
	ms = do_connect(node_names[2], 3., &r);
	ck_assert_int_ne(r.err, 0);
	ck_assert_msg(strstr(r.msg, "n3@localhost: ") == r.msg, "%s", r.msg);
	ck_assert_uint_le(ms, 3000 + CONN_ERLANG_GRACE_MS);
	/* n1 answers, and names the member it cannot reach. */
	do_connect(node_names[0], 5., &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_str_eq(r.msg, "n1@localhost: connected to 1 of 2 members; "
	    "not to n3@localhost");
}
END_TEST

START_TEST(conn_erlang__restarted_node)
{
	conn = make_conn(COOKIE, "workers: 2\n");
	mesh_all();
	kill_node(1);
	restart_node(1);
	/* Workers' kept links to the old n2 are dead: they must notice. */
	connect_ok(node_names[1]);
	connect_ok(node_names[0]);
	assert_probe(FULL_MESH);
}
END_TEST

START_TEST(conn_erlang__stopped_node_times_out)
{
	struct result r;
	uint64_t ms;

	conn = make_conn(COOKIE, "workers: 2\n");
	mesh_all();
	ck_assert_int_eq(kill(node_pid[1], SIGSTOP), 0);
	ms = do_connect(node_names[1], 1., &r);
	ck_assert_int_eq(r.err, CAIRN_ERR_TIMEOUT);
	ck_assert_uint_le(ms, 1000 + CONN_ERLANG_GRACE_MS + 500);
	/* Others still answer while n2 hangs. */
	connect_ok(node_names[0]);
	ck_assert_int_eq(kill(node_pid[1], SIGCONT), 0);
	connect_ok(node_names[1]);
	assert_probe(FULL_MESH);
}
END_TEST

START_TEST(conn_erlang__hung_worker_replaced)
{
	struct result r;
	pid_t old;
	uint64_t ms;

	conn = make_conn(COOKIE, "workers: 1\n");
	connect_ok(node_names[0]);
	old = conn_erlang_worker_pid(conn, 0);
	ck_assert_int_gt(old, 0);
	/* A worker that hangs: stopped, it never answers. */
	ck_assert_int_eq(kill(old, SIGSTOP), 0);
	ms = do_connect(node_names[0], 1., &r);
	ck_assert_int_eq(r.err, CAIRN_ERR_TIMEOUT);
	ck_assert_msg(strstr(r.msg, "worker killed") != NULL, "%s", r.msg);
	ck_assert_uint_ge(ms, 1000 + CONN_ERLANG_GRACE_MS - 50);
	/* Killed and reaped by pid. */
	ck_assert_int_eq(kill(old, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	/* A new worker takes the next job. */
	connect_ok(node_names[0]);
	ck_assert_int_gt(conn_erlang_worker_pid(conn, 0), 0);
	ck_assert_int_ne(conn_erlang_worker_pid(conn, 0), old);
}
END_TEST

START_TEST(conn_erlang__cancel)
{
	struct result a = { 0 }, b = { 0 }, c = { 0 };

	conn = make_conn(COOKIE, "workers: 1\n");
	/* a is waiting when cancelled; b is running. */
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[1],
	    node_names, NNODES, 5., on_done, &b), 0);
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[0],
	    node_names, NNODES, 5., on_done, &a), 0);
	run_until(NULL, 20);
	connector_erlang.cancel(conn, &a);
	connector_erlang.cancel(conn, &b);
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[2],
	    node_names, NNODES, 5., on_done, &c), 0);
	ck_assert(run_until(&c, 10000));
	ck_assert_msg(c.err == 0, "%s", c.msg);
	run_until(NULL, 300);
	ck_assert_int_eq(a.done, 0);
	ck_assert_int_eq(b.done, 0);
	ck_assert_int_eq(c.done, 1);
}
END_TEST

START_TEST(conn_erlang__disconnect)
{
	struct result r = { 0 };

	conn = make_conn(COOKIE, "workers: 2\n");
	mesh_all();
	ck_assert_int_eq(connector_erlang.disconnect(conn, node_names[2], 5.,
	    on_done, &r), 0);
	ck_assert(run_until(&r, 10000));
	ck_assert_msg(r.err == 0, "%s", r.msg);
	ck_assert_str_eq(r.msg, "n3@localhost: disconnected from 2 of 2 "
	    "members");
	assert_probe("[[n2@localhost],[n1@localhost],[]]");
}
END_TEST

START_TEST(conn_erlang__destroy_reaps)
{
	struct result a = { 0 }, b = { 0 };
	pid_t p0, p1;

	conn = make_conn(COOKIE, "workers: 2\n");
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[0],
	    node_names, NNODES, 5., on_done, &a), 0);
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[1],
	    node_names, NNODES, 5., on_done, &b), 0);
	ck_assert(run_until(&a, 10000));
	ck_assert(run_until(&b, 10000));
	p0 = conn_erlang_worker_pid(conn, 0);
	p1 = conn_erlang_worker_pid(conn, 1);
	ck_assert_int_gt(p0, 0);
	ck_assert_int_gt(p1, 0);
	connector_erlang.destroy(conn);
	conn = NULL;
	ck_assert_int_eq(kill(p0, 0), -1);
	ck_assert_int_eq(kill(p1, 0), -1);
}
END_TEST

/* A callback that destroys the connector it came from. */
static void
on_done_destroy(void *arg, int err, const char *msg)
{
	on_done(arg, err, msg);
	connector_erlang.destroy(conn);
	conn = NULL;
}

START_TEST(conn_erlang__destroy_in_callback)
{
	struct result a = { 0 }, b = { 0 };

	conn = make_conn(COOKIE, "workers: 1\n");
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[0],
	    node_names, NNODES, 5., on_done_destroy, &a), 0);
	ck_assert_int_eq(connector_erlang.connect(conn, node_names[1],
	    node_names, NNODES, 5., on_done, &b), 0);
	ck_assert(run_until(&a, 10000));
	ck_assert_ptr_null(conn);
	run_until(NULL, 300);
	ck_assert_int_eq(a.done, 1);
	ck_assert_int_eq(b.done, 0);
}
END_TEST

static Suite *
conn_erlang_suite(void)
{
	Suite *s = suite_create("conn_erlang");
	TCase *tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, conn_erlang__codec_roundtrip);
	tcase_add_test(tc, conn_erlang__codec_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("peers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, conn_erlang__mesh);
	tcase_add_test(tc, conn_erlang__wrong_cookie);
	tcase_add_test(tc, conn_erlang__not_registered);
	tcase_add_test(tc, conn_erlang__no_epmd);
	tcase_add_test(tc, conn_erlang__bad_name);
	tcase_add_test(tc, conn_erlang__killed_node);
	tcase_add_test(tc, conn_erlang__restarted_node);
	tcase_add_test(tc, conn_erlang__stopped_node_times_out);
	tcase_add_test(tc, conn_erlang__hung_worker_replaced);
	tcase_add_test(tc, conn_erlang__cancel);
	tcase_add_test(tc, conn_erlang__disconnect);
	tcase_add_test(tc, conn_erlang__destroy_reaps);
	tcase_add_test(tc, conn_erlang__destroy_in_callback);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(conn_erlang_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
