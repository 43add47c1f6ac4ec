/*
 * Check units for broker/store/store (LMDB): open, write in batches,
 * close and reopen; a batch not committed is not there; a child killed
 * with SIGKILL in the middle of a batch (and right after a commit)
 * leaves exactly the committed state; a session's delete takes all its
 * records and no other's; a full map fails the batch (CAIRN_ERR_LIMIT)
 * and keeps what was committed; a foreign file, an LMDB file without
 * our meta record, another node's store and a damaged record are
 * refused with the file named; one process per data_dir; -n's
 * read-only open.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <lmdb.h>

#include "broker/store/store.h"
#include "common/err.h"

static char dir[64];
static char err[512];

#define MAP	(8ull * 1024 * 1024)

static struct bytes_view
v(const char *s)
{
	return bytes_view_of(s, strlen(s));
}

static void
setup(void)
{
	strcpy(dir, "/tmp/cairn-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

/* What a load saw, as text lines, in order. */
struct seen {
	char	buf[200000];
	size_t	len;
	size_t	n;
};

static void
seen_add(struct seen *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
seen_add(struct seen *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->len += (size_t)vsnprintf(s->buf + s->len, sizeof(s->buf) - s->len,
	    fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(s->len, sizeof(s->buf));
	s->n++;
}

static int
on_retained(void *arg, const struct store_msg *m)
{
	seen_add(arg, "R %.*s=%.*s q%u;", (int)m->smg_topic.len,
	    (const char *)m->smg_topic.p, (int)m->smg_payload.len,
	    (const char *)m->smg_payload.p, m->smg_qos);
	return 0;
}

static int
on_session(void *arg, uint64_t sid, const struct store_session *s)
{
	seen_add(arg, "S%llu %.*s;", (unsigned long long)sid,
	    (int)s->ss_id.len, (const char *)s->ss_id.p);
	return 0;
}

static int
on_sub(void *arg, uint64_t sid, const struct store_sub *s)
{
	seen_add(arg, "U%llu %.*s q%u;", (unsigned long long)sid,
	    (int)s->ssb_filter.len, (const char *)s->ssb_filter.p, s->ssb_qos);
	return 0;
}

static int
on_out(void *arg, uint64_t sid, uint64_t seq, const struct store_out *o)
{
	seen_add(arg, "O%llu.%llu %.*s st%u id%u;", (unsigned long long)sid,
	    (unsigned long long)seq, (int)o->so_msg.smg_payload.len,
	    (const char *)o->so_msg.smg_payload.p, o->so_state, o->so_id);
	return 0;
}

static int
on_inq2(void *arg, uint64_t sid, uint16_t id)
{
	seen_add(arg, "I%llu %u;", (unsigned long long)sid, id);
	return 0;
}

static const struct store_load_ops ops = {
	on_retained, on_session, on_sub, on_out, on_inq2,
};

static struct store *
open_rw(void)
{
	struct store *st = store_open(dir, MAP, "n1@h", 0, err, sizeof(err));

	ck_assert_msg(st != NULL, "%s", err);
	return st;
}

static void
load(struct store *st, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	ck_assert_msg(store_load(st, &ops, s, err, sizeof(err)) == 0, "%s",
	    err);
}

static void
put_retained(struct store *st, const char *topic, const char *payload)
{
	struct store_msg m = { .smg_qos = 1, .smg_retain = 1 };

	m.smg_topic = v(topic);
	m.smg_payload = v(payload);
	ck_assert_int_eq(store_put_retained(st, &m), 0);
}

static int
put_out(struct store *st, uint64_t sid, uint64_t seq, const char *payload)
{
	struct store_out o = { .so_state = STORE_OUT_QUEUED, .so_qos = 1 };

	o.so_msg.smg_qos = 1;
	o.so_msg.smg_topic = v("t");
	o.so_msg.smg_payload = v(payload);
	return store_put_out(st, sid, seq, &o);
}

static void
put_session(struct store *st, uint64_t sid, const char *id)
{
	struct store_session s = { .ss_expiry = 0xffffffff };

	s.ss_id = v(id);
	ck_assert_int_eq(store_put_session(st, sid, &s), 0);
}

static void
commit(struct store *st)
{
	ck_assert_msg(store_commit(st, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(store__reopen)
{
	struct store *st = open_rw();
	struct store_sub sub = { .ssb_qos = 2 };
	struct store_out o = { .so_state = STORE_OUT_PUBLISHED, .so_id = 9,
	    .so_qos = 2 };
	struct seen s;

	load(st, &s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(store_pending(st), 0);
	put_retained(st, "a/b", "one");
	put_retained(st, "a/c", "two");
	put_session(st, 1, "c1");
	sub.ssb_filter = v("x/#");
	ck_assert_int_eq(store_put_sub(st, 1, &sub), 0);
	ck_assert_int_eq(put_out(st, 1, 2, "m2"), 0);
	ck_assert_int_eq(put_out(st, 1, 1, "m1"), 0);
	o.so_msg.smg_qos = 2;
	o.so_msg.smg_topic = v("t");
	o.so_msg.smg_payload = v("m3");
	ck_assert_int_eq(store_put_out(st, 1, 3, &o), 0);
	ck_assert_int_eq(store_put_inq2(st, 1, 300), 0);
	ck_assert_int_eq(store_pending(st), 1);
	commit(st);
	ck_assert_int_eq(store_pending(st), 0);
	/* Replaced, then cleared by an empty payload. */
	put_retained(st, "a/b", "uno");
	put_retained(st, "a/c", "");
	commit(st);
	store_close(st);

	st = open_rw();
	load(st, &s);
	/* Retained by hash order, so only the one left is sure. */
	ck_assert_msg(strstr(s.buf, "R a/b=uno q1;") != NULL, "%s", s.buf);
	ck_assert_msg(strstr(s.buf, "a/c") == NULL, "%s", s.buf);
	ck_assert_msg(strstr(s.buf, "S1 c1;U1 x/# q2;O1.1 m1 st1 id0;"
	    "O1.2 m2 st1 id0;O1.3 m3 st2 id9;I1 300;") != NULL, "%s", s.buf);
	ck_assert_uint_eq(s.n, 7);
	/* The counters go on from what was there. */
	ck_assert_uint_eq(store_new_sid(st), 2);
	ck_assert_uint_eq(store_new_seq(st), 4);
	store_close(st);
}
END_TEST

START_TEST(store__uncommitted_is_lost)
{
	struct store *st = open_rw();
	struct seen s;

	put_retained(st, "kept", "1");
	commit(st);
	put_retained(st, "lost", "2");
	store_close(st);	/* aborts the open batch */
	st = open_rw();
	load(st, &s);
	ck_assert_str_eq(s.buf, "R kept=1 q1;");
	store_close(st);
}
END_TEST

START_TEST(store__delete_session)
{
	struct store *st = open_rw();
	struct store_sub sub = { .ssb_qos = 1 };
	struct seen s;
	uint64_t i;

	put_session(st, 1, "a");
	put_session(st, 2, "b");
	put_session(st, 3, "c");
	sub.ssb_filter = v("f");
	for (i = 1; i <= 3; i++) {
		ck_assert_int_eq(store_put_sub(st, i, &sub), 0);
		ck_assert_int_eq(store_put_inq2(st, i, 7), 0);
	}
	/* Enough under session 2 to span pages. */
	for (i = 1; i <= 2000; i++)
		ck_assert_int_eq(put_out(st, 2, i, "payload of session b"), 0);
	commit(st);
	ck_assert_int_eq(store_del_session(st, 2), 0);
	ck_assert_int_eq(store_del_session(st, 9), 0);	/* none: fine */
	ck_assert_int_eq(store_del_out(st, 1, 77), 0);	/* none: fine */
	ck_assert_int_eq(store_del_sub(st, 3, v("f")), 0);
	ck_assert_int_eq(store_del_inq2(st, 3, 7), 0);
	commit(st);
	load(st, &s);
	ck_assert_str_eq(s.buf, "S1 a;U1 f q1;I1 7;S3 c;");
	store_close(st);
}
END_TEST

/*
 * The child: commits batch A (and, with `commit_b`, batch B), tells
 * the parent, and waits to be killed; without commit_b, batch B is
 * open and written to when the kill comes.
 */
static void
crash_child(int wfd, int commit_b)
{
	struct store *st;
	uint64_t i;
	char c = 'x';

	if ((st = store_open(dir, MAP, "n1@h", 0, err, sizeof(err))) == NULL)
		_exit(2);
	put_session(st, 1, "a");
	for (i = 1; i <= 100; i++)
		if (put_out(st, 1, i, "committed") != 0)
			_exit(3);
	if (store_commit(st, err, sizeof(err)) != 0)
		_exit(4);
	for (i = 101; i <= 3000; i++)
		if (put_out(st, 1, i, "batch B") != 0)
			_exit(5);
	for (i = 1; i <= 50; i++)
		if (store_del_out(st, 1, i) != 0)
			_exit(6);
	if (commit_b && store_commit(st, err, sizeof(err)) != 0)
		_exit(7);
	if (write(wfd, &c, 1) != 1)
		_exit(8);
	for (;;)
		pause();
}

static void
crash(int commit_b, size_t want)
{
	struct store *st;
	struct seen s;
	int p[2], status;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		crash_child(p[1], commit_b);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	st = open_rw();
	load(st, &s);
	ck_assert_uint_eq(s.n, want);
	if (commit_b) {
		ck_assert(strstr(s.buf, "O1.50 ") == NULL);
		ck_assert(strstr(s.buf, "O1.51 committed") != NULL);
		ck_assert(strstr(s.buf, "O1.3000 batch B") != NULL);
	} else {
		ck_assert(strstr(s.buf, "O1.1 committed") != NULL);
		ck_assert(strstr(s.buf, "O1.100 committed") != NULL);
		ck_assert(strstr(s.buf, "batch B") == NULL);
	}
	store_close(st);
}

START_TEST(store__kill_mid_batch)
{
	/* The header and the 100 of batch A, none of B. */
	crash(0, 101);
}
END_TEST

START_TEST(store__kill_after_commit)
{
	/* The header, A's 100 less the 50 deleted, B's 2900. */
	crash(1, 1 + 50 + 2900);
}
END_TEST

START_TEST(store__map_full)
{
	struct store *st = store_open(dir, 256 * 1024, "n1@h", 0, err,
	    sizeof(err));
	char big[2048];
	struct seen s;
	uint64_t i;
	int rc = 0;

	ck_assert_msg(st != NULL, "%s", err);
	put_session(st, 1, "a");
	ck_assert_int_eq(put_out(st, 1, 1, "before"), 0);
	commit(st);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 2; i < 10000 && rc == 0; i++)
		rc = put_out(st, 1, i, big);
	ck_assert_int_eq(rc, CAIRN_ERR_LIMIT);
	/* Later mutations of the lost batch fail too, until reported. */
	ck_assert_int_eq(put_out(st, 1, 99999, "after"), CAIRN_ERR_LIMIT);
	ck_assert_int_eq(store_pending(st), 1);
	ck_assert_int_eq(store_commit(st, err, sizeof(err)), CAIRN_ERR_LIMIT);
	ck_assert_msg(strstr(err, "store_max_bytes") != NULL, "%s", err);
	ck_assert_msg(strstr(err, dir) != NULL, "%s", err);
	ck_assert_int_eq(store_pending(st), 0);
	/* The next batch works. */
	ck_assert_int_eq(put_out(st, 1, 2, "next"), 0);
	commit(st);
	load(st, &s);
	ck_assert_str_eq(s.buf, "S1 a;O1.1 before st1 id0;O1.2 next st1 id0;");
	store_close(st);
}
END_TEST

static void
write_file(const char *name, const void *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

START_TEST(store__foreign_file)
{
	char junk[16384];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file("data.mdb", junk, sizeof(junk));
	ck_assert_ptr_null(store_open(dir, MAP, "n1@h", 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "data.mdb") != NULL &&
	    strstr(err, "not a cairn store") != NULL, "%s", err);
	ck_assert_ptr_null(store_open(dir, MAP, "n1@h", 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a cairn store") != NULL, "%s", err);
}
END_TEST

START_TEST(store__lmdb_without_meta)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 3, (void *)"abc" }, val = { 3, (void *)"xyz" };

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	ck_assert_ptr_null(store_open(dir, MAP, "n1@h", 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "no meta record") != NULL, "%s", err);
}
END_TEST

/* A version 1 value (type, 1, body, check), as format 1 wrote it. */
static size_t
rec_v1(uint8_t *buf, int type, const void *body, size_t n)
{
	static const uint8_t key[STORE_HASH_KEY_LEN] = "cairn-store-rec1";
	uint64_t h;

	buf[0] = (uint8_t)type;
	buf[1] = 1;
	memcpy(buf + 2, body, n);
	h = store_hash(key, bytes_view_of(buf, n + 2));
	buf[n + 2] = (uint8_t)(h >> 24);
	buf[n + 3] = (uint8_t)(h >> 16);
	buf[n + 4] = (uint8_t)(h >> 8);
	buf[n + 5] = (uint8_t)h;
	return n + 6;
}

static void
raw_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t kn,
    const uint8_t *val, size_t vn)
{
	MDB_val mk = { kn, (void *)k }, mv = { vn, (void *)val };

	ck_assert_int_eq(mdb_put(txn, dbi, &mk, &mv, 0), 0);
}

/*
 * A store written by format 1 (before MQTT 5.0's parts): read as it is,
 * and its meta says format 2 afterwards (a format 1 broker then refuses
 * it rather than half-read the newer records).
 */
START_TEST(store__format1_read_then_upgraded)
{
	static const uint8_t meta[] = { 'c', 'a', 'i', 'r', 'n', '-', 's',
	    't', 0, 0, 0, 1, 0, 4, 'n', '1', '@', 'h', 1, 2, 3, 4, 5, 6, 7,
	    8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t sess[] = { 0, 1, 'a', 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff,
	    0xff };
	static const uint8_t sub[] = { 1, 0, 0, 3, 'a', '/', '#' };
	static const uint8_t out[] = { STORE_OUT_QUEUED, 0, 0, 1, 0,
	    1, 0, 0, 1, 't', 0, 0, 0, 2, 'o', 'k' };
	uint8_t kb[STORE_KEY_MAX], vb[128];
	struct store_meta m;
	struct store *st;
	struct seen s;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, val;
	size_t kn, vn;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	kn = store_key_meta(kb);
	vn = rec_v1(vb, STORE_REC_META, meta, sizeof(meta));
	raw_put(txn, dbi, kb, kn, vb, vn);
	kn = store_key_session(kb, 1, STORE_SK_HEADER, 0);
	vn = rec_v1(vb, STORE_REC_SESSION, sess, sizeof(sess));
	raw_put(txn, dbi, kb, kn, vb, vn);
	/* A subscription's key: its filter's hash under the meta's key. */
	kn = store_key_session(kb, 1, STORE_SK_SUB, store_hash(meta + 18,
	    bytes_view_of("a/#", 3)));
	vn = rec_v1(vb, STORE_REC_SUB, sub, sizeof(sub));
	raw_put(txn, dbi, kb, kn, vb, vn);
	kn = store_key_session(kb, 1, STORE_SK_OUT, 1);
	vn = rec_v1(vb, STORE_REC_OUT, out, sizeof(out));
	raw_put(txn, dbi, kb, kn, vb, vn);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	st = open_rw();
	load(st, &s);
	ck_assert_str_eq(s.buf, "S1 a;U1 a/# q1;O1.1 ok st1 id0;");
	store_close(st);
	/* The meta record is format 2 now. */
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	k.mv_size = store_key_meta(kb);
	k.mv_data = kb;
	ck_assert_int_eq(mdb_get(txn, dbi, &k, &val), 0);
	ck_assert_int_eq(store_decode_meta(bytes_view_of(val.mv_data,
	    val.mv_size), &m), 0);
	ck_assert_uint_eq(m.sm_version, STORE_FORMAT_VERSION);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}
END_TEST

START_TEST(store__other_node)
{
	struct store *st = open_rw();

	store_close(st);
	ck_assert_ptr_null(store_open(dir, MAP, "n2@h", 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "the store of node n1@h, not of n2@h") !=
	    NULL, "%s", err);
	/* A store made without a node name takes the first one given. */
	teardown();
	setup();
	st = store_open(dir, MAP, NULL, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_close(st);
	st = open_rw();
	store_close(st);
	ck_assert_ptr_null(store_open(dir, MAP, "n2@h", 0, err, sizeof(err)));
}
END_TEST

START_TEST(store__damaged_record)
{
	struct store *st = open_rw();
	struct seen s;
	char path[128];
	char *buf, *hit;
	long n;
	FILE *f;

	put_session(st, 1, "a");
	ck_assert_int_eq(put_out(st, 1, 1, "NEEDLE-IN-THE-FILE"), 0);
	commit(st);
	store_close(st);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r+b"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	ck_assert_ptr_nonnull(buf = malloc((size_t)n));
	fseek(f, 0, SEEK_SET);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	/* Every copy: copy-on-write may leave an old page behind. */
	ck_assert_ptr_nonnull(hit = memmem(buf, (size_t)n, "NEEDLE", 6));
	while (hit != NULL) {
		fseek(f, hit - buf, SEEK_SET);
		fputc('X', f);
		hit = memmem(hit + 1, (size_t)n - (size_t)(hit + 1 - buf),
		    "NEEDLE", 6);
	}
	fclose(f);
	free(buf);
	st = open_rw();
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_load(st, &ops, &s, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "data.mdb") != NULL &&
	    strstr(err, "session 1, queued message 1") != NULL &&
	    strstr(err, "refusing to start") != NULL, "%s", err);
	store_close(st);
}
END_TEST

START_TEST(store__one_process)
{
	struct store *st = open_rw();

	ck_assert_ptr_null(store_open(dir, MAP, "n1@h", 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
	/* -n reads beside a running broker. */
	store_close(store_open(dir, MAP, "n1@h", 1, err, sizeof(err)));
	store_close(st);
}
END_TEST

START_TEST(store__dirs)
{
	char sub[128];
	struct store *st;

	/* -n: a missing dir under an existing parent is fine. */
	snprintf(sub, sizeof(sub), "%s/new", dir);
	st = store_open(sub, MAP, NULL, 1, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_close(st);
	/* Start makes it. */
	st = store_open(sub, MAP, NULL, 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	store_close(st);
	/* No parent. */
	snprintf(sub, sizeof(sub), "%s/no/such", dir);
	ck_assert_ptr_null(store_open(sub, MAP, NULL, 1, err, sizeof(err)));
	ck_assert_ptr_null(store_open(sub, MAP, NULL, 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "cannot make it") != NULL, "%s", err);
	/* A file, not a directory. */
	write_file("plain", "x", 1);
	snprintf(sub, sizeof(sub), "%s/plain", dir);
	ck_assert_ptr_null(store_open(sub, MAP, NULL, 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
}
END_TEST

/* Hands the open batch to the writer thread and waits for its outcome. */
static int
submit_wait(struct store *st)
{
	int rc = -1, h;

	h = store_submit(st, err, sizeof(err));
	if (h != 1)
		return h;
	ck_assert_int_eq(store_busy(st), 1);
	/* A second batch is refused while the first is in hand. */
	ck_assert_int_eq(store_submit(st, err, sizeof(err)), CAIRN_ERR_INVAL);
	ck_assert_int_eq(store_reap(st, 1, &rc, err, sizeof(err)), 1);
	ck_assert_int_eq(store_busy(st), 0);
	return rc;
}

START_TEST(store__writer_thread)
{
	struct store *st = open_rw();
	struct seen s;
	uint64_t a, b2, c;

	load(st, &s);
	put_session(st, 1, "a");
	a = store_new_seq(st);
	ck_assert_int_eq(put_out(st, 1, a, "kept"), 0);
	ck_assert_int_eq(submit_wait(st), 0);
	ck_assert_int_eq(store_pending(st), 0);
	/* Nothing to hand: 0, and nothing to reap. */
	ck_assert_int_eq(store_submit(st, err, sizeof(err)), 0);
	/*
	 * In the next batch: b2 queued and acked (cancelled: nothing
	 * written); a (in the file) put again then deleted: the delete
	 * must reach the file; c queued, in a QoS 2 state twice.
	 */
	b2 = store_new_seq(st);
	ck_assert_int_eq(put_out(st, 1, b2, "gone"), 0);
	ck_assert_int_eq(store_pending(st), 1);
	ck_assert_int_eq(store_del_out(st, 1, b2), 0);
	ck_assert_int_eq(store_pending(st), 0);
	ck_assert_int_eq(put_out(st, 1, a, "again"), 0);
	ck_assert_int_eq(store_del_out(st, 1, a), 0);
	c = store_new_seq(st);
	ck_assert_int_eq(put_out(st, 1, c, "first"), 0);
	ck_assert_int_eq(put_out(st, 1, c, "second"), 0);
	ck_assert_int_eq(submit_wait(st), 0);
	store_close(st);
	st = open_rw();
	load(st, &s);
	{
		char want[64];

		snprintf(want, sizeof(want), "S1 a;O1.%llu second st1 id0;",
		    (unsigned long long)c);
		ck_assert_str_eq(s.buf, want);
	}
	store_close(st);
}
END_TEST

START_TEST(store__writer_map_full)
{
	struct store *st = store_open(dir, 256 * 1024, "n1@h", 0, err,
	    sizeof(err));
	char big[2048];
	struct seen s;
	uint64_t i;
	int rc = 0, r2;

	ck_assert_msg(st != NULL, "%s", err);
	load(st, &s);
	put_session(st, 1, "a");
	ck_assert_int_eq(put_out(st, 1, store_new_seq(st), "before"), 0);
	ck_assert_int_eq(submit_wait(st), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/*
	 * Under the batch's cap (the map's size) but more than the map
	 * holds with LMDB's pages: the writer's commit fails, and none
	 * of it is written.
	 */
	for (i = 0; i < 100 && rc == 0; i++)
		rc = put_out(st, 1, store_new_seq(st), big);
	ck_assert_int_eq(rc, 0);
	r2 = submit_wait(st);
	ck_assert_int_eq(r2, CAIRN_ERR_LIMIT);
	ck_assert_msg(strstr(err, "store_max_bytes") != NULL, "%s", err);
	ck_assert_int_eq(put_out(st, 1, store_new_seq(st), "next"), 0);
	ck_assert_int_eq(submit_wait(st), 0);
	store_close(st);
	st = store_open(dir, 256 * 1024, "n1@h", 0, err, sizeof(err));
	ck_assert_msg(st != NULL, "%s", err);
	load(st, &s);
	ck_assert_msg(strstr(s.buf, "before") != NULL &&
	    strstr(s.buf, "next") != NULL && strstr(s.buf, "xxxx") == NULL,
	    "%s", s.buf);
	store_close(st);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("lmdb");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, store__reopen);
	tcase_add_test(tc, store__uncommitted_is_lost);
	tcase_add_test(tc, store__delete_session);
	tcase_add_test(tc, store__kill_mid_batch);
	tcase_add_test(tc, store__kill_after_commit);
	tcase_add_test(tc, store__map_full);
	tcase_add_test(tc, store__foreign_file);
	tcase_add_test(tc, store__lmdb_without_meta);
	tcase_add_test(tc, store__other_node);
	tcase_add_test(tc, store__format1_read_then_upgraded);
	tcase_add_test(tc, store__damaged_record);
	tcase_add_test(tc, store__one_process);
	tcase_add_test(tc, store__dirs);
	tcase_add_test(tc, store__writer_thread);
	tcase_add_test(tc, store__writer_map_full);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	sr = srunner_create(store_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
