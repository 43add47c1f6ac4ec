/*
 * ACL: mosquitto's acl_file, read and checked the way mosquitto 2.0
 * does (src/security_default.c and src/security.c), so that users can
 * bring theirs.  The format, one rule a line:
 *
 *	# comment			(and blank lines)
 *	topic [read|write|readwrite|deny] TOPIC
 *	user USERNAME
 *	pattern [read|write|readwrite|deny] TOPIC
 *
 * `topic` lines before any `user` line form the anonymous section, for
 * clients that gave no user name.  `user NAME` starts NAME's section (a
 * name seen twice adds to the same section); its `topic` lines apply to
 * clients with that user name only.  `pattern` lines apply to every
 * client wherever they appear, with %c replaced by the client id and %u
 * by the user name (a pattern with %u never applies to a client without
 * one).  The access word is optional: without it the rule is readwrite,
 * and everything after it is TOPIC, spaces included ("topic read a b" is
 * the filter "a b"); "topic read" alone is the filter "read".  TOPIC is
 * an MQTT topic filter ('+' and '#' as in a subscription).
 *
 * A check, as mosquitto_acl_check() and its default plugin:
 *   1. A topic starting "$SYS" may not be written, except one matching
 *      $SYS/broker/connection/+/state (a bridge's status), which goes on
 *      to the rules.  A topic starting "$share" may be neither read nor
 *      written.  This holds also when no ACL file is loaded.
 *   2. The client's own section (by user name, or the anonymous one):
 *      a matching deny rule denies; else a matching rule that grants the
 *      access allows.  A matching rule that grants only the other access
 *      decides nothing.
 *   3. If there are patterns and the user name or client id contains '+'
 *      or '#', deny (it could widen a pattern).
 *   4. The patterns, as in step 2.
 *   5. Deny.
 * Filters match as mqtt_topic_match(): '+' and '#' at the first level do
 * not match a topic that starts with '$'.
 *
 * SUBSCRIBE is not checked.  mosquitto's acl_file allows every SUBSCRIBE
 * and UNSUBSCRIBE (a FIXME since 1.5, still in 2.0) and checks read
 * access for each message it delivers, retained messages included.
 * Cairn does the same: the broker calls acl_check(..., ACL_READ) before
 * it delivers a message to a client, and grants every subscription.
 *
 * Where Cairn is stricter or looser than mosquitto, on purpose: a tab
 * separates words like a space (mosquitto reads only spaces), and a
 * comment may have blanks before its '#' (mosquitto rejects the line).
 * mosquitto's one-line warning for a pattern without %c or %u is not
 * given: the pattern is legal.
 *
 * Loading is all-or-nothing, with "FILE:LINE: problem".  Checking is
 * pure: no I/O, no logging; it allocates only when a pattern with its
 * substitutions is longer than 256 bytes.
 */
#ifndef CAIRN_BROKER_ACL_H
#define CAIRN_BROKER_ACL_H

#include <stddef.h>

#include "common/bytes.h"

/* Access bits; a rule grants a set, a check asks for one. */
#define ACL_READ	0x1	/* deliver a PUBLISH to the client */
#define ACL_WRITE	0x2	/* accept a PUBLISH (or will) from the client */

/* Largest ACL file acl_load() reads. */
#define ACL_MAX_FILE	(64u * 1024 * 1024)

/* A loaded ACL file; opaque and read-only once loaded. */
struct acl;

/*
 * Parses text[0..len) as an ACL file; `name` is used in messages.  On
 * success *out is a new struct acl (free with acl_free()) and the result
 * is 0.  On failure *out is unchanged, err holds "NAME:LINE: problem"
 * (when errlen > 0) and the result is CAIRN_ERR_PROTO or
 * CAIRN_ERR_NOMEM.  Borrows text and name.
 */
int	acl_parse(const char *text, size_t len, const char *name,
	    struct acl **out, char *err, size_t errlen);

/*
 * Reads and parses the file at path, as acl_parse().  A file that cannot
 * be read is CAIRN_ERR_IO ("PATH: strerror"), one that is not a regular
 * file (a FIFO, a directory, a device) CAIRN_ERR_INVAL ("PATH: not a
 * regular file (a FIFO)"), one larger than ACL_MAX_FILE CAIRN_ERR_TOO_BIG
 * ("PATH: over N bytes"); common/file.h's rules.
 */
int	acl_load(const char *path, struct acl **out, char *err,
	    size_t errlen);

/* Frees acl.  Accepts NULL. */
void	acl_free(struct acl *acl);

/*
 * 1 if the client may have `access` (ACL_READ or ACL_WRITE, one of
 * them) to the topic name `topic`, else 0.  acl NULL means no ACL file:
 * only the '$' rules of step 1 apply.  client_id is required; username
 * is NULL for a client that gave none ("" is a user name).  A topic that
 * is not a valid topic name, or another access value, is denied.
 * Borrows everything.
 */
int	acl_check(const struct acl *acl, const char *client_id,
	    const char *username, struct bytes_view topic, int access);

#endif
