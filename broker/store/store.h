/*
 * A node's durable state (`data_dir`) in one LMDB environment: retained
 * messages and persistent sessions (header, subscriptions, queued and
 * in-flight deliveries, inbound QoS 2 ids), as the records of
 * store_codec.h.
 *
 * Why LMDB (over SQLite): one writer at a time, which is what one event
 * loop is; a copy-on-write B-tree whose commit is atomic and survives a
 * crash of the process (and, with its fsync, of the machine) with no
 * log to replay or checkpoint; no server; reads from the map without a
 * copy; nothing to tune.  The records are our own codec, versioned and
 * checked, so that a damaged or foreign file is refused by name.
 *
 * Writes are grouped: every mutation is added, as an operation, to the
 * open batch (a buffer of keys and encoded values, at most the map's
 * size); store_submit() hands the batch to the store's writer thread,
 * which applies it in one LMDB write transaction and commits (and
 * syncs) it while the caller fills the next batch; store_reap() takes
 * the outcome.  One batch is with the writer at a time.  The caller
 * releases what depends on a batch (PUBACK, PUBREC, PUBCOMP) only after
 * its commit was reaped with 0.  A mutation that fails (the batch would
 * outgrow the map: store_max_bytes) drops the whole open batch, and
 * the next submit or commit reports the error once.  store_commit()
 * does the same as submit and reap, on the caller's thread.
 *
 * LMDB's threading rules, as used here: the environment is shared; a
 * write transaction lives on the one thread that began it, and LMDB's
 * write lock admits one at a time; read transactions (store_load(),
 * store_open()'s meta) are only made before the writer thread starts,
 * on the caller's thread, so MDB_NOTLS is not needed.  Sync stays
 * LMDB's default (each commit fsyncs its pages, then writes its meta
 * page with O_DSYNC): neither MDB_NOSYNC nor MDB_NOMETASYNC.
 *
 * Not thread-safe but for the writer thread above, which touches only
 * the batch it was handed; one store per process (an exclusive lock on
 * DIR/lock.cairn keeps a second broker out of the same data_dir).
 * Never logs: errors come back as codes and text in err buffers.
 */
#ifndef CAIRN_BROKER_STORE_H
#define CAIRN_BROKER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/store/store_codec.h"
#include "common/bytes.h"

struct store;

/* What a store has done, for $SYS and the metrics. */
struct store_stats {
	uint64_t	sst_commits;
	uint64_t	sst_puts;
	uint64_t	sst_dels;
	uint64_t	sst_failed;	/* batches lost (map full, I/O) */
	uint64_t	sst_map_bytes;	/* the map's size */
	uint64_t	sst_used_bytes;	/* pages in use */
};

/* What store_load() hands back, record by record, in key order. */
struct store_load_ops {
	int	(*sl_retained)(void *arg, const struct store_msg *);
	int	(*sl_session)(void *arg, uint64_t sid,
		    const struct store_session *);
	int	(*sl_sub)(void *arg, uint64_t sid, const struct store_sub *);
	int	(*sl_out)(void *arg, uint64_t sid, uint64_t seq,
		    const struct store_out *);
	int	(*sl_inq2)(void *arg, uint64_t sid, uint16_t id);
};

/*
 * Opens the store in directory dir (made, mode 0700, when missing; its
 * parent must exist), with a map of max_bytes, for node `node` (NULL or
 * "": none).  A new store gets its meta record; an existing one is
 * checked: an LMDB file that is not one, a store without a meta record
 * or of another format version, or of another node, is refused with
 * the path and the reason in err.  readonly: for `cairn-broker -n`
 * (nothing is made or written, no lock taken; a missing store is fine).
 * NULL on failure.
 */
struct store	*store_open(const char *dir, uint64_t max_bytes,
		    const char *node, int readonly, char *err, size_t errlen);
/*
 * sync 0: a commit is written to the file but not fsync'd (LMDB's
 * MDB_NOSYNC): it survives the death of the process, not of the
 * machine.  1 (store_open()'s default): fsync'd before it returns.
 */
void		 store_set_sync(struct store *, int sync);
/* Aborts an open batch and closes.  Accepts NULL. */
void		 store_close(struct store *);
/* DIR/data.mdb, for messages; never NULL. */
const char	*store_path(const struct store *);

/*
 * Walks every record: each is decoded (the frame, the check and the
 * fields, and the key against the record) and handed to ops in key
 * order; a session's records come after its header.  Any record that
 * does not decode stops the walk: -1 with err naming the file and the
 * record.  A callback's non-zero return stops it too (-1, err says
 * which record).  0 once all is read.  Sets the counters that
 * store_new_sid() and store_new_seq() continue from.
 */
int		 store_load(struct store *, const struct store_load_ops *ops,
		    void *arg, char *err, size_t errlen);

/* A session number / delivery sequence number never given before. */
uint64_t	 store_new_sid(struct store *);
uint64_t	 store_new_seq(struct store *);

/*
 * Mutations, added to the open batch (opened when none is).  Each
 * returns 0, CAIRN_ERR_LIMIT (the map is full) or CAIRN_ERR_IO; after
 * a failure the batch is gone and every later mutation fails until
 * store_commit() reports it.  Deleting what is not there is not an
 * error.  Borrow their arguments.
 */
/* Stores m as its topic's retained message; an empty payload deletes. */
int		 store_put_retained(struct store *, const struct store_msg *m);
int		 store_put_session(struct store *, uint64_t sid,
		    const struct store_session *);
/* Deletes the session's header and every record under it. */
int		 store_del_session(struct store *, uint64_t sid);
int		 store_put_sub(struct store *, uint64_t sid,
		    const struct store_sub *);
int		 store_del_sub(struct store *, uint64_t sid,
		    struct bytes_view filter);
int		 store_put_out(struct store *, uint64_t sid, uint64_t seq,
		    const struct store_out *);
int		 store_del_out(struct store *, uint64_t sid, uint64_t seq);
int		 store_put_inq2(struct store *, uint64_t sid, uint16_t id);
int		 store_del_inq2(struct store *, uint64_t sid, uint16_t id);

/* 1 while a batch is open or a failed one is not yet reported. */
int		 store_pending(const struct store *);
/*
 * Commits the open batch (nothing to do: 0).  0 once it is durable;
 * else CAIRN_ERR_LIMIT or CAIRN_ERR_IO with err saying why, and none of
 * the batch was written.
 */
int		 store_commit(struct store *, char *err, size_t errlen);
void		 store_stats(const struct store *, struct store_stats *);

/*
 * Hands the open batch to the writer thread (started at the first
 * call: after the process forked).  1: handed; 0: nothing to hand;
 * CAIRN_ERR_INVAL: a batch is with the writer already (reap it
 * first); a failed batch: its error with err set, nothing handed;
 * CAIRN_ERR_IO: no thread.
 */
int		 store_submit(struct store *, char *err, size_t errlen);
/* 1 while a handed batch is not yet reaped. */
int		 store_busy(const struct store *);
/*
 * The handed batch's outcome: 1 with *rc 0 (durable), CAIRN_ERR_LIMIT
 * or CAIRN_ERR_IO (none of it written; err says why); 0 when none is
 * handed or (wait 0) the writer is not done.  wait 1 blocks until done.
 */
int		 store_reap(struct store *, int wait, int *rc, char *err,
		    size_t errlen);
/*
 * fn(arg) is called on the writer thread each time it is done with a
 * batch (to wake the caller's loop: it must be thread-safe).
 */
void		 store_set_notify(struct store *, void (*fn)(void *),
		    void *arg);
/* Drops the open batch (built on one that failed) and a pending error. */
void		 store_discard(struct store *);

#endif
