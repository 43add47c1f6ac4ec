/*
 * The store on LMDB; see store.h.  One environment, its unnamed
 * database, the keys and values of store_codec.h.  A batch is one write
 * transaction, opened by the first mutation and committed by
 * store_commit(); readers (store_load()) use their own read
 * transaction.  The map size is store_max_bytes: LMDB's MDB_MAP_FULL is
 * our "store full", reported as CAIRN_ERR_LIMIT.
 */
#include "broker/store/store.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <pthread.h>

#include "common/err.h"

/*
 * A batch: the mutations of one generation as operations, one after
 * another in one buffer (struct store_op, the key, the value), applied
 * in order in one write transaction by store_apply().  Made on the
 * caller's thread; applied by the writer thread once handed over.
 */
#define STORE_OP_PUT	1
#define STORE_OP_DEL	2
#define STORE_OP_DELPFX	3	/* every key that starts with this one */
#define STORE_OP_NONE	4	/* cancelled: skipped */

struct store_op {
	uint8_t		op_type;
	uint8_t		op_klen;
	uint8_t		op_pad[2];
	uint32_t	op_vlen;
};

struct store_batch {
	struct bytes_w	sb_ops;
	size_t		sb_nops;	/* live ones (not cancelled) */
};

/*
 * The open batch's queued-message records made in it (sequence numbers
 * from st_seq0 on: never in the file nor with the writer), by sequence
 * number: the offset of the live PUT.  A delivery acknowledged before
 * its batch is handed over cancels its PUT and writes nothing; a later
 * PUT of the same one (a QoS 2 state) replaces the earlier.  Open
 * addressing; a cancelled entry keeps its key with STORE_MAP_DEAD.
 */
#define STORE_MAP_DEAD	SIZE_MAX

struct store_map_ent {
	uint64_t	me_seq;		/* 0: free */
	size_t		me_off;
};

struct store {
	MDB_env		*st_env;	/* NULL: read-only and no file yet */
	MDB_dbi		 st_dbi;
	struct store_batch st_open;	/* the batch being filled */
	int		 st_failed;	/* the open batch failed: MDB error */
	int		 st_lock_fd;
	int		 st_readonly;
	uint8_t		 st_hash_key[STORE_HASH_KEY_LEN];
	uint64_t	 st_next_sid;
	uint64_t	 st_next_seq;
	uint64_t	 st_max_bytes;	/* the map's size: a batch's cap too */
	uint64_t	 st_seq0;	/* the open batch's first new seq */
	struct store_map_ent *st_map;	/* see struct store_map_ent */
	size_t		 st_map_cap;	/* a power of 2, or 0 */
	size_t		 st_map_n;
	struct bytes_w	 st_buf;	/* one value being encoded */
	struct store_stats st_stats;
	char		*st_dir;
	char		*st_path;	/* DIR/data.mdb */
	/*
	 * The writer thread (store_submit()), started at the first
	 * hand-over (after the broker forked into the background).  Under
	 * st_mu: st_job (the batch handed over, owned by the writer until
	 * st_done), st_done, st_rc, st_err, st_quit.  The writer touches
	 * nothing else of the store but st_env, st_dbi and st_path, which
	 * do not change while it runs, and the caller does not use LMDB
	 * while a batch is handed over (store_commit() waits first).
	 */
	pthread_t	 st_thread;
	int		 st_thread_on;
	pthread_mutex_t	 st_mu;
	pthread_cond_t	 st_cv;		/* the writer waits for a job */
	pthread_cond_t	 st_done_cv;	/* store_wait() waits for st_done */
	struct store_batch *st_job;
	struct store_batch st_spare;	/* the handed batch's buffer */
	int		 st_busy;	/* a batch is handed over, not reaped */
	int		 st_done;
	int		 st_quit;
	int		 st_rc;
	char		 st_err[256];
	void		(*st_notify)(void *);
	void		*st_notify_arg;
};

/* A value is at most a whole packet and its frame: far under this. */
#define STORE_VALUE_MAX	(512ull * 1024 * 1024)

static int
store_err(int rc)
{
	return rc == MDB_MAP_FULL ? CAIRN_ERR_LIMIT : CAIRN_ERR_IO;
}

const char *
store_path(const struct store *st)
{
	return st->st_path;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->st_thread_on) {
		pthread_mutex_lock(&st->st_mu);
		st->st_quit = 1;
		pthread_cond_signal(&st->st_cv);
		pthread_mutex_unlock(&st->st_mu);
		/* A batch in hand is finished first: it may be acked. */
		pthread_join(st->st_thread, NULL);
	}
	pthread_mutex_destroy(&st->st_mu);
	pthread_cond_destroy(&st->st_cv);
	pthread_cond_destroy(&st->st_done_cv);
	bytes_w_fini(&st->st_open.sb_ops);
	bytes_w_fini(&st->st_spare.sb_ops);
	free(st->st_map);
	if (st->st_env != NULL)
		mdb_env_close(st->st_env);
	if (st->st_lock_fd != -1)
		close(st->st_lock_fd);
	bytes_w_fini(&st->st_buf);
	free(st->st_dir);
	free(st->st_path);
	free(st);
}

/* dir exists as a directory we may write in, or is made. */
static int
store_dir(const char *dir, int readonly, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(dir, &sb) == -1) {
		if (errno != ENOENT || readonly) {
			if (errno == ENOENT)
				snprintf(err, errlen, "data_dir %s: does not "
				    "exist (start makes it if its parent does)",
				    dir);
			else
				snprintf(err, errlen, "data_dir %s: %s", dir,
				    strerror(errno));
			/* -n: a missing dir whose parent exists is fine. */
			if (errno == ENOENT && readonly) {
				char *p = strdup(dir), *slash;
				int ok;

				if (p == NULL)
					return -1;
				slash = strrchr(p, '/');
				if (slash == p)
					slash[1] = '\0';
				else if (slash != NULL)
					*slash = '\0';
				else
					strcpy(p, ".");
				ok = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) &&
				    access(p, W_OK | X_OK) == 0;
				free(p);
				return ok ? 1 : -1;
			}
			return -1;
		}
		if (mkdir(dir, 0700) == -1) {
			snprintf(err, errlen, "data_dir %s: cannot make it: %s",
			    dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "data_dir %s: not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "data_dir %s: not writable: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The meta record: written into a new store, checked in an old one.
 * A store with records but no meta is not ours.
 */
static int
store_meta(struct store *st, const char *node, char *err, size_t errlen)
{
	struct store_meta m;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t kb[STORE_KEY_MAX];
	size_t nlen = node != NULL ? strlen(node) : 0;
	int rc, write = 0;

	if ((rc = mdb_txn_begin(st->st_env, NULL, st->st_readonly ?
	    MDB_RDONLY : 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &st->st_dbi)) != 0)
		goto mdb_fail;
	k.mv_size = store_key_meta(kb);
	k.mv_data = kb;
	rc = mdb_get(txn, st->st_dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if ((rc = mdb_cursor_open(txn, st->st_dbi, &cur)) != 0)
			goto mdb_fail;
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		mdb_cursor_close(cur);
		if (rc == 0) {
			snprintf(err, errlen, "%s: not a cairn store (records "
			    "but no meta record); refusing to use it",
			    st->st_path);
			goto fail;
		}
		if (rc != MDB_NOTFOUND)
			goto mdb_fail;
		if (st->st_readonly) {
			mdb_txn_abort(txn);
			return 0;
		}
		memset(&m, 0, sizeof(m));
		m.sm_version = STORE_FORMAT_VERSION;
		m.sm_node = bytes_view_of(node != NULL ? node : "", nlen);
		if (getrandom(st->st_hash_key, sizeof(st->st_hash_key), 0) !=
		    (ssize_t)sizeof(st->st_hash_key)) {
			snprintf(err, errlen, "%s: getrandom: %s", st->st_path,
			    strerror(errno));
			goto fail;
		}
		write = 1;
	} else if (rc != 0)
		goto mdb_fail;
	else {
		if (store_rec_type(bytes_view_of(v.mv_data, v.mv_size),
		    NULL) != STORE_REC_META ||
		    store_decode_meta(bytes_view_of(v.mv_data, v.mv_size),
		    &m) != 0) {
			snprintf(err, errlen, "%s: the meta record is damaged "
			    "or of another format (this broker reads formats "
			    "%d to %d); refusing to use it", st->st_path,
			    STORE_FORMAT_OLDEST, STORE_FORMAT_VERSION);
			goto fail;
		}
		if (m.sm_node.len > 0 && !(m.sm_node.len == nlen &&
		    memcmp(m.sm_node.p, node, nlen) == 0)) {
			snprintf(err, errlen, "%s: the store of node %.*s, not "
			    "of %s; refusing to use it", st->st_path,
			    (int)(m.sm_node.len > 255 ? 255 : m.sm_node.len),
			    (const char *)m.sm_node.p, nlen > 0 ? node :
			    "this node (no node_name)");
			goto fail;
		}
		memcpy(st->st_hash_key, m.sm_hash_key, STORE_HASH_KEY_LEN);
		/* A store made without node_name takes the node's name. */
		if (m.sm_node.len == 0 && nlen > 0 && !st->st_readonly) {
			m.sm_node = bytes_view_of(node, nlen);
			write = 1;
		}
		/*
		 * An older format's store is read as it is and written in
		 * this one from now on: its meta says so, and a broker of
		 * the older format then refuses it rather than half-read
		 * the newer records.
		 */
		if (m.sm_version < STORE_FORMAT_VERSION && !st->st_readonly) {
			m.sm_version = STORE_FORMAT_VERSION;
			write = 1;
		}
	}
	if (write) {
		memcpy(m.sm_hash_key, st->st_hash_key, STORE_HASH_KEY_LEN);
		bytes_w_reset(&st->st_buf);
		if (store_encode_meta(&st->st_buf, &m) != 0) {
			snprintf(err, errlen, "%s: cannot encode the meta "
			    "record", st->st_path);
			goto fail;
		}
		k.mv_size = store_key_meta(kb);
		k.mv_data = kb;
		v.mv_size = st->st_buf.len;
		v.mv_data = st->st_buf.buf;
		if ((rc = mdb_put(txn, st->st_dbi, &k, &v, 0)) != 0)
			goto mdb_fail;
		rc = mdb_txn_commit(txn);
		txn = NULL;
		if (rc != 0)
			goto mdb_fail;
		return 0;
	}
	mdb_txn_abort(txn);
	return 0;
mdb_fail:
	snprintf(err, errlen, "%s: %s", st->st_path, mdb_strerror(rc));
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return -1;
}

struct store *
store_open(const char *dir, uint64_t max_bytes, const char *node,
    int readonly, char *err, size_t errlen)
{
	struct store *st;
	struct stat sb;
	size_t len;
	int rc, d;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->st_lock_fd = -1;
	st->st_readonly = readonly;
	st->st_next_sid = st->st_next_seq = 1;
	/* None is new until store_load() knows which are in the file. */
	st->st_seq0 = UINT64_MAX;
	st->st_max_bytes = max_bytes;
	pthread_mutex_init(&st->st_mu, NULL);
	pthread_cond_init(&st->st_cv, NULL);
	pthread_cond_init(&st->st_done_cv, NULL);
	bytes_w_init(&st->st_buf, STORE_VALUE_MAX);
	/* A batch bigger than the map could never be committed. */
	bytes_w_init(&st->st_open.sb_ops, (size_t)max_bytes);
	bytes_w_init(&st->st_spare.sb_ops, (size_t)max_bytes);
	len = strlen(dir) + sizeof("/data.mdb");
	if ((st->st_dir = strdup(dir)) == NULL ||
	    (st->st_path = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(st->st_path, len, "%s/data.mdb", dir);
	if ((d = store_dir(dir, readonly, err, errlen)) == -1)
		goto fail;
	if (readonly && (d == 1 || stat(st->st_path, &sb) == -1))
		return st;	/* -n: start will make it */
	if (!readonly) {
		char lock[4096];

		snprintf(lock, sizeof(lock), "%s/lock.cairn", dir);
		if ((st->st_lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) == -1) {
			snprintf(err, errlen, "data_dir %s: %s: %s", dir, lock,
			    strerror(errno));
			goto fail;
		}
		if (flock(st->st_lock_fd, LOCK_EX | LOCK_NB) == -1) {
			snprintf(err, errlen, "data_dir %s: in use by another "
			    "process (%s)", dir, errno == EWOULDBLOCK ?
			    "locked" : strerror(errno));
			goto fail;
		}
	}
	if ((rc = mdb_env_create(&st->st_env)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->st_env, (size_t)max_bytes)) != 0) {
		snprintf(err, errlen, "%s: %s", st->st_path, mdb_strerror(rc));
		goto fail;
	}
	/*
	 * MDB_NORDAHEAD: the map is read by keys, not in sequence.  The
	 * default sync stays: a commit is on disk when it returns.
	 */
	if ((rc = mdb_env_open(st->st_env, dir, MDB_NORDAHEAD |
	    (readonly ? MDB_RDONLY : 0), 0600)) != 0) {
		snprintf(err, errlen, "%s: %s%s", st->st_path,
		    mdb_strerror(rc), rc == MDB_INVALID || rc ==
		    MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ?
		    " (not a cairn store, or damaged); refusing to use it" :
		    "");
		goto fail;
	}
	if (store_meta(st, node, err, errlen) != 0)
		goto fail;
	return st;
fail:
	store_close(st);
	return NULL;
}

/* --- loading ------------------------------------------------------------ */

/* "session 3, queued message 17", for the record at k. */
static void
store_key_name(const struct store_key *k, int type, char *buf, size_t len)
{
	switch (k->sk_type) {
	case 'M':
		snprintf(buf, len, "meta");
		break;
	case 'R':
		snprintf(buf, len, "retained message %016" PRIx64,
		    k->sk_hash);
		break;
	case 'S':
		if (k->sk_kind == STORE_SK_HEADER)
			snprintf(buf, len, "session %" PRIu64, k->sk_sid);
		else
			snprintf(buf, len, "session %" PRIu64 ", %s %" PRIu64,
			    k->sk_sid, store_rec_name(type), k->sk_arg);
		break;
	default:
		snprintf(buf, len, "?");
		break;
	}
}

/* The record type a key holds. */
static int
store_key_rec(const struct store_key *k)
{
	if (k->sk_type == 'M')
		return STORE_REC_META;
	if (k->sk_type == 'R')
		return STORE_REC_RETAINED;
	switch (k->sk_kind) {
	case STORE_SK_HEADER:
		return STORE_REC_SESSION;
	case STORE_SK_SUB:
		return STORE_REC_SUB;
	case STORE_SK_OUT:
		return STORE_REC_OUT;
	}
	return STORE_REC_INQ2;
}

int
store_load(struct store *st, const struct store_load_ops *ops, void *arg,
    char *err, size_t errlen)
{
	struct store_key k;
	struct store_msg m;
	struct store_session s;
	struct store_sub sb;
	struct store_out o;
	struct bytes_view kv, vv;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val mk, mv;
	uint64_t n = 0, sid = 0;
	int rc, type, have_sid = 0, cb;
	uint16_t id = 0;
	char name[96];

	memset(&m, 0, sizeof(m));
	memset(&sb, 0, sizeof(sb));
	if (st->st_env == NULL)
		return 0;
	if ((rc = mdb_txn_begin(st->st_env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_cursor_open(txn, st->st_dbi, &cur)) != 0) {
		snprintf(err, errlen, "%s: %s", st->st_path, mdb_strerror(rc));
		goto fail;
	}
	for (rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
		n++;
		kv = bytes_view_of(mk.mv_data, mk.mv_size);
		vv = bytes_view_of(mv.mv_data, mv.mv_size);
		if (store_key_decode(kv, &k) != 0) {
			snprintf(err, errlen, "%s: record %" PRIu64 ": a key "
			    "of no known shape (%zu bytes); damaged or not a "
			    "cairn store, refusing to start", st->st_path, n,
			    kv.len);
			goto fail;
		}
		type = store_key_rec(&k);
		store_key_name(&k, type, name, sizeof(name));
		if (store_rec_type(vv, NULL) != type) {
			snprintf(err, errlen, "%s: record %" PRIu64 " (%s): "
			    "not a valid %s record of formats %d to %d "
			    "(damaged: bad length, version or check); "
			    "refusing to start", st->st_path, n, name,
			    store_rec_name(type), STORE_FORMAT_OLDEST,
			    STORE_FORMAT_VERSION);
			goto fail;
		}
		if (k.sk_type == 'S' && k.sk_kind != STORE_SK_HEADER &&
		    (!have_sid || sid != k.sk_sid)) {
			snprintf(err, errlen, "%s: record %" PRIu64 " (%s): "
			    "no session header before it; damaged, refusing "
			    "to start", st->st_path, n, name);
			goto fail;
		}
		cb = 0;
		switch (type) {
		case STORE_REC_META:
			continue;
		case STORE_REC_RETAINED:
			if ((rc = store_decode_retained(vv, &m)) != 0 ||
			    store_hash(st->st_hash_key, m.smg_topic) !=
			    k.sk_hash)
				break;
			cb = ops->sl_retained(arg, &m);
			break;
		case STORE_REC_SESSION:
			if ((rc = store_decode_session(vv, &s)) != 0)
				break;
			sid = k.sk_sid;
			have_sid = 1;
			if (sid >= st->st_next_sid)
				st->st_next_sid = sid + 1;
			cb = ops->sl_session(arg, sid, &s);
			break;
		case STORE_REC_SUB:
			if ((rc = store_decode_sub(vv, &sb)) != 0 ||
			    store_hash(st->st_hash_key, sb.ssb_filter) !=
			    k.sk_arg)
				break;
			cb = ops->sl_sub(arg, sid, &sb);
			break;
		case STORE_REC_OUT:
			if ((rc = store_decode_out(vv, &o)) != 0)
				break;
			if (k.sk_arg >= st->st_next_seq)
				st->st_next_seq = k.sk_arg + 1;
			cb = ops->sl_out(arg, sid, k.sk_arg, &o);
			break;
		case STORE_REC_INQ2:
			if ((rc = store_decode_inq2(vv, &id)) != 0 ||
			    id != k.sk_arg)
				break;
			cb = ops->sl_inq2(arg, sid, id);
			break;
		}
		if (rc != 0 || (type == STORE_REC_RETAINED &&
		    store_hash(st->st_hash_key, m.smg_topic) != k.sk_hash) ||
		    (type == STORE_REC_SUB && store_hash(st->st_hash_key,
		    sb.ssb_filter) != k.sk_arg) ||
		    (type == STORE_REC_INQ2 && id != k.sk_arg)) {
			snprintf(err, errlen, "%s: record %" PRIu64 " (%s): "
			    "its fields are invalid or do not match its key; "
			    "damaged, refusing to start", st->st_path, n,
			    name);
			goto fail;
		}
		if (cb != 0) {
			snprintf(err, errlen, "%s: record %" PRIu64 " (%s): "
			    "cannot be loaded: %s", st->st_path, n, name,
			    cairn_strerror(cb));
			goto fail;
		}
	}
	if (rc != MDB_NOTFOUND) {
		snprintf(err, errlen, "%s: after record %" PRIu64 ": %s; "
		    "damaged, refusing to start", st->st_path, n,
		    mdb_strerror(rc));
		goto fail;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	/* Seqs from here on are new: the open batch may cancel them. */
	st->st_seq0 = st->st_next_seq;
	return 0;
fail:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return -1;
}

void
store_set_sync(struct store *st, int sync)
{
	if (st->st_env != NULL && !st->st_readonly)
		(void)mdb_env_set_flags(st->st_env, MDB_NOSYNC, sync ? 0 : 1);
}

uint64_t
store_new_sid(struct store *st)
{
	return st->st_next_sid++;
}

uint64_t
store_new_seq(struct store *st)
{
	return st->st_next_seq++;
}

/* --- batches ------------------------------------------------------------ */

/* The open batch starts again empty: new seqs from here on. */
static void
store_open_reset(struct store *st)
{
	bytes_w_reset(&st->st_open.sb_ops);
	st->st_open.sb_nops = 0;
	if (st->st_seq0 != UINT64_MAX)
		st->st_seq0 = st->st_next_seq;
	if (st->st_map_n > 0)
		memset(st->st_map, 0, st->st_map_cap * sizeof(*st->st_map));
	st->st_map_n = 0;
}

static struct store_map_ent *
store_map_find(struct store *st, uint64_t seq)
{
	size_t i, mask = st->st_map_cap - 1;

	if (st->st_map_cap == 0)
		return NULL;
	/* Seqs are consecutive: a multiplicative hash spreads them. */
	for (i = (size_t)(seq * 0x9e3779b97f4a7c15ull) & mask;
	    st->st_map[i].me_seq != 0; i = (i + 1) & mask)
		if (st->st_map[i].me_seq == seq)
			return &st->st_map[i];
	return NULL;
}

/* seq's live PUT is at off: 0, or -1 (out of memory: not tracked). */
static int
store_map_put(struct store *st, uint64_t seq, size_t off)
{
	struct store_map_ent *e, *old = st->st_map;
	size_t i, cap = st->st_map_cap, ncap, mask;

	if ((e = store_map_find(st, seq)) != NULL) {
		e->me_off = off;
		return 0;
	}
	if ((st->st_map_n + 1) * 2 > cap) {
		ncap = cap == 0 ? 256 : cap * 2;
		if ((st->st_map = calloc(ncap, sizeof(*e))) == NULL) {
			st->st_map = old;
			return -1;
		}
		st->st_map_cap = ncap;
		st->st_map_n = 0;
		for (i = 0; i < cap; i++)
			if (old[i].me_seq != 0)
				(void)store_map_put(st, old[i].me_seq,
				    old[i].me_off);
		free(old);
	}
	mask = st->st_map_cap - 1;
	for (i = (size_t)(seq * 0x9e3779b97f4a7c15ull) & mask;
	    st->st_map[i].me_seq != 0; i = (i + 1) & mask)
		;
	st->st_map[i].me_seq = seq;
	st->st_map[i].me_off = off;
	st->st_map_n++;
	return 0;
}

/* The live PUT at off in the open batch is cancelled. */
static void
store_op_cancel(struct store *st, size_t off)
{
	uint8_t none = STORE_OP_NONE;

	memcpy(st->st_open.sb_ops.buf + off, &none, 1);
	st->st_open.sb_nops--;
}

/* A mutation failed: the open batch is gone until reported. */
static int
store_fail(struct store *st, int rc)
{
	store_open_reset(st);
	st->st_failed = rc;
	return store_err(rc);
}

/* Adds one operation, the value from st_buf (PUT) or none. */
static int
store_op(struct store *st, int type, const uint8_t *key, size_t klen)
{
	struct bytes_w *w = &st->st_open.sb_ops;
	struct store_op op;
	size_t vlen = type == STORE_OP_PUT ? st->st_buf.len : 0;
	int rc;

	if (type == STORE_OP_PUT && st->st_buf.err != 0) {
		rc = st->st_buf.err;
		bytes_w_reset(&st->st_buf);
		return rc;
	}
	if (st->st_failed != 0)
		return store_err(st->st_failed);
	if (st->st_env == NULL || st->st_readonly)
		return CAIRN_ERR_INVAL;
	memset(&op, 0, sizeof(op));
	op.op_type = (uint8_t)type;
	op.op_klen = (uint8_t)klen;
	op.op_vlen = (uint32_t)vlen;
	(void)bytes_put(w, &op, sizeof(op));
	(void)bytes_put(w, key, klen);
	if (vlen > 0)
		(void)bytes_put(w, st->st_buf.buf, vlen);
	/* Over the map's size, the batch could not be stored anyway. */
	if (w->err != 0)
		return store_fail(st, MDB_MAP_FULL);
	st->st_open.sb_nops++;
	if (type == STORE_OP_PUT)
		st->st_stats.sst_puts++;
	else
		st->st_stats.sst_dels++;
	return 0;
}

static int
store_put(struct store *st, const uint8_t *key, size_t klen)
{
	return store_op(st, STORE_OP_PUT, key, klen);
}

static int
store_del(struct store *st, const uint8_t *key, size_t klen)
{
	return store_op(st, STORE_OP_DEL, key, klen);
}

/* Every key that starts with key[0..klen) goes, in txn. */
static int
store_apply_delpfx(struct store *st, MDB_txn *txn, const uint8_t *kb,
    size_t kl)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->st_dbi, &cur)) != 0)
		return rc;
	/* Found again from the prefix after each delete: plain and safe. */
	for (;;) {
		k.mv_data = (void *)kb;
		k.mv_size = kl;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size < kl || memcmp(k.mv_data, kb, kl) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Applies batch sb in one write transaction and commits it (synced
 * unless store_sync is false): 0, or an MDB error with nothing of the
 * batch written.  On whichever thread calls it; LMDB's write lock
 * keeps it the only writer.
 */
static int
store_apply(struct store *st, const struct store_batch *sb)
{
	const uint8_t *p = sb->sb_ops.buf, *end = p + sb->sb_ops.len;
	struct store_op op;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(st->st_env, NULL, 0, &txn)) != 0)
		return rc;
	while (p < end) {
		memcpy(&op, p, sizeof(op));
		p += sizeof(op);
		k.mv_data = (void *)p;
		k.mv_size = op.op_klen;
		p += op.op_klen;
		switch (op.op_type) {
		case STORE_OP_PUT:
			v.mv_data = (void *)p;
			v.mv_size = op.op_vlen;
			rc = mdb_put(txn, st->st_dbi, &k, &v, 0);
			break;
		case STORE_OP_DEL:
			rc = mdb_del(txn, st->st_dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			break;
		case STORE_OP_DELPFX:
			rc = store_apply_delpfx(st, txn, k.mv_data,
			    k.mv_size);
			break;
		default:
			break;
		}
		p += op.op_vlen;
		if (rc != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	}
	return mdb_txn_commit(txn);
}

static void
store_errtext(struct store *st, int rc, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: commit: %s%s", st->st_path,
	    mdb_strerror(rc), rc == MDB_MAP_FULL ?
	    " (store_max_bytes reached)" : "");
}

static void *
store_writer(void *arg)
{
	struct store *st = arg;
	struct store_batch *sb;
	int rc;

	pthread_mutex_lock(&st->st_mu);
	for (;;) {
		while (st->st_job == NULL && !st->st_quit)
			pthread_cond_wait(&st->st_cv, &st->st_mu);
		if (st->st_job == NULL)
			break;
		sb = st->st_job;
		pthread_mutex_unlock(&st->st_mu);
		rc = store_apply(st, sb);
		pthread_mutex_lock(&st->st_mu);
		st->st_job = NULL;
		st->st_rc = rc;
		if (rc != 0)
			store_errtext(st, rc, st->st_err, sizeof(st->st_err));
		st->st_done = 1;
		pthread_cond_broadcast(&st->st_done_cv);
		if (st->st_notify != NULL) {
			/* Outside the lock: the callback may take others. */
			pthread_mutex_unlock(&st->st_mu);
			st->st_notify(st->st_notify_arg);
			pthread_mutex_lock(&st->st_mu);
		}
	}
	pthread_mutex_unlock(&st->st_mu);
	return NULL;
}

void
store_set_notify(struct store *st, void (*fn)(void *), void *arg)
{
	st->st_notify = fn;
	st->st_notify_arg = arg;
}

int
store_busy(const struct store *st)
{
	return st->st_busy;
}

int
store_submit(struct store *st, char *err, size_t errlen)
{
	struct store_batch tmp;
	int rc;

	if (st->st_busy)
		return CAIRN_ERR_INVAL;
	if (st->st_failed != 0) {
		rc = st->st_failed;
		st->st_failed = 0;
		st->st_stats.sst_failed++;
		store_errtext(st, rc, err, errlen);
		return store_err(rc);
	}
	if (st->st_open.sb_nops == 0)
		return 0;
	if (!st->st_thread_on) {
		if ((rc = pthread_create(&st->st_thread, NULL, store_writer,
		    st)) != 0) {
			snprintf(err, errlen, "%s: the writer thread: %s",
			    st->st_path, strerror(rc));
			return CAIRN_ERR_IO;
		}
		st->st_thread_on = 1;
	}
	/* The open batch's buffer goes; the spare one is filled next. */
	tmp = st->st_spare;
	st->st_spare = st->st_open;
	st->st_open = tmp;
	store_open_reset(st);
	pthread_mutex_lock(&st->st_mu);
	st->st_done = 0;
	st->st_job = &st->st_spare;
	pthread_cond_signal(&st->st_cv);
	pthread_mutex_unlock(&st->st_mu);
	st->st_busy = 1;
	return 1;
}

int
store_reap(struct store *st, int wait, int *rcp, char *err, size_t errlen)
{
	int rc;

	if (!st->st_busy)
		return 0;
	pthread_mutex_lock(&st->st_mu);
	while (wait && !st->st_done)
		pthread_cond_wait(&st->st_done_cv, &st->st_mu);
	if (!st->st_done) {
		pthread_mutex_unlock(&st->st_mu);
		return 0;
	}
	rc = st->st_rc;
	if (rc != 0)
		snprintf(err, errlen, "%s", st->st_err);
	st->st_done = 0;
	pthread_mutex_unlock(&st->st_mu);
	st->st_busy = 0;
	st->st_spare.sb_nops = 0;
	bytes_w_reset(&st->st_spare.sb_ops);
	if (rc != 0) {
		st->st_stats.sst_failed++;
		*rcp = store_err(rc);
	} else {
		st->st_stats.sst_commits++;
		*rcp = 0;
	}
	return 1;
}

void
store_discard(struct store *st)
{
	store_open_reset(st);
	st->st_failed = 0;
}

int
store_put_retained(struct store *st, const struct store_msg *m)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_retained(kb, store_hash(st->st_hash_key,
	    m->smg_topic));
	int rc;

	if (m->smg_payload.len == 0)
		return store_del(st, kb, kl);
	bytes_w_reset(&st->st_buf);
	if ((rc = store_encode_retained(&st->st_buf, m)) != 0)
		return rc;
	return store_put(st, kb, kl);
}

int
store_put_session(struct store *st, uint64_t sid,
    const struct store_session *s)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_HEADER, 0);
	int rc;

	bytes_w_reset(&st->st_buf);
	if ((rc = store_encode_session(&st->st_buf, s)) != 0)
		return rc;
	return store_put(st, kb, kl);
}

int
store_del_session(struct store *st, uint64_t sid)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session_prefix(kb, sid);

	return store_op(st, STORE_OP_DELPFX, kb, kl);
}

int
store_put_sub(struct store *st, uint64_t sid, const struct store_sub *s)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_SUB,
	    store_hash(st->st_hash_key, s->ssb_filter));
	int rc;

	bytes_w_reset(&st->st_buf);
	if ((rc = store_encode_sub(&st->st_buf, s)) != 0)
		return rc;
	return store_put(st, kb, kl);
}

int
store_del_sub(struct store *st, uint64_t sid, struct bytes_view filter)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_SUB,
	    store_hash(st->st_hash_key, filter));

	return store_del(st, kb, kl);
}

int
store_put_out(struct store *st, uint64_t sid, uint64_t seq,
    const struct store_out *o)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_OUT, seq);
	size_t off = st->st_open.sb_ops.len;
	struct store_map_ent *e;
	int rc;

	bytes_w_reset(&st->st_buf);
	if ((rc = store_encode_out(&st->st_buf, o)) != 0)
		return rc;
	if ((rc = store_put(st, kb, kl)) != 0 || seq < st->st_seq0)
		return rc;
	/* Made in this batch: the earlier PUT of it goes. */
	if ((e = store_map_find(st, seq)) != NULL &&
	    e->me_off != STORE_MAP_DEAD)
		store_op_cancel(st, e->me_off);
	(void)store_map_put(st, seq, off);
	return 0;
}

int
store_del_out(struct store *st, uint64_t sid, uint64_t seq)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_OUT, seq);
	struct store_map_ent *e;

	/*
	 * Queued and acknowledged within one batch: neither is written
	 * (never in the file, nor with the writer, so nothing to delete).
	 */
	if (seq >= st->st_seq0 && st->st_failed == 0 &&
	    (e = store_map_find(st, seq)) != NULL &&
	    e->me_off != STORE_MAP_DEAD) {
		store_op_cancel(st, e->me_off);
		e->me_off = STORE_MAP_DEAD;
		st->st_stats.sst_dels++;
		return 0;
	}
	return store_del(st, kb, kl);
}

int
store_put_inq2(struct store *st, uint64_t sid, uint16_t id)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_INQ2, id);
	int rc;

	bytes_w_reset(&st->st_buf);
	if ((rc = store_encode_inq2(&st->st_buf, id)) != 0)
		return rc;
	return store_put(st, kb, kl);
}

int
store_del_inq2(struct store *st, uint64_t sid, uint16_t id)
{
	uint8_t kb[STORE_KEY_MAX];
	size_t kl = store_key_session(kb, sid, STORE_SK_INQ2, id);

	return store_del(st, kb, kl);
}

int
store_pending(const struct store *st)
{
	return st->st_open.sb_nops > 0 || st->st_failed != 0;
}

int
store_commit(struct store *st, char *err, size_t errlen)
{
	int rc;

	/* A batch in hand first: its outcome is its caller's to reap. */
	if (st->st_busy)
		return CAIRN_ERR_INVAL;
	if (st->st_failed != 0)
		return store_submit(st, err, errlen);
	if (st->st_open.sb_nops == 0)
		return 0;
	rc = store_apply(st, &st->st_open);
	store_open_reset(st);
	if (rc != 0) {
		st->st_stats.sst_failed++;
		store_errtext(st, rc, err, errlen);
		return store_err(rc);
	}
	st->st_stats.sst_commits++;
	return 0;
}

void
store_stats(const struct store *st, struct store_stats *out)
{
	MDB_envinfo ei;
	MDB_stat ms;

	*out = st->st_stats;
	if (st->st_env == NULL)
		return;
	if (mdb_env_info(st->st_env, &ei) == 0 &&
	    mdb_env_stat(st->st_env, &ms) == 0) {
		out->sst_map_bytes = ei.me_mapsize;
		out->sst_used_bytes = (uint64_t)(ei.me_last_pgno + 1) *
		    ms.ms_psize;
	}
}
