/*
 * A consistent hash ring over a set of node names, and the leader rule.
 * The same set of names gives the same ring on every node, whatever the
 * order they were given in, so any node answers "which node owns KEY"
 * the same way without asking any other (as Cloister's ring: work,
 * sessions or keys sharded over the members).
 *
 * The ring (do not change: nodes of different versions must agree):
 *
 *	hash(bytes)   64-bit FNV-1a over the bytes, then the finalizer of
 *	              splitmix64 (which spreads FNV's weak low bits):
 *	              h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;
 *	              h ^= h >> 27; h *= 0x94d049bb133111eb; h ^= h >> 31
 *	points        RING_POINTS (128) virtual points per member, point i
 *	              of member M at hash(M, 0x00, i as 4 bytes big-endian)
 *	owner of KEY  the member of the first point at or after hash(KEY),
 *	              going round past the top; points with equal hashes
 *	              are ordered by member name (byte order)
 *
 * 128 points per member keep each member's share of the keys within
 * about 10 % of 1/N, and adding a member to N moves about 1/(N+1) of the
 * keys, all of them to the new member; a lookup is a binary search over
 * N * 128 points.
 *
 * The leader is the member whose name sorts first (byte order): a rule
 * every node applies alone to the same set, with no election traffic,
 * and which changes only when that member leaves or a smaller name
 * joins.
 *
 * Pure: no I/O, no clock, no logging.
 */
#ifndef CAIRN_AGENT_RING_H
#define CAIRN_AGENT_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_POINTS		128
/* Members a ring holds at most (as the agent's max_nodes ceiling). */
#define RING_MAX_MEMBERS	100000

struct ring;

/* An empty ring, or NULL on ENOMEM.  Free with ring_free(). */
struct ring	*ring_new(void);
void		 ring_free(struct ring *);

/*
 * Makes the ring hold members[0..n) (copied; duplicates and empty names
 * are dropped).  0, CAIRN_ERR_LIMIT (more than RING_MAX_MEMBERS) or
 * CAIRN_ERR_NOMEM; on failure the ring is unchanged.
 */
int		 ring_set(struct ring *, const char *const *members, size_t n);

/* Number of members; member i in name order (borrowed), NULL past. */
size_t		 ring_size(const struct ring *);
const char	*ring_member(const struct ring *, size_t i);

/* The owner of key[0..len) (borrowed from the ring), NULL if empty. */
const char	*ring_whois(const struct ring *, const void *key, size_t len);
/* The leader (the first name), NULL if empty.  Borrowed. */
const char	*ring_leader(const struct ring *);

/* The ring's hash (above), for tests and tools. */
uint64_t	 ring_hash(const void *, size_t);

#endif
