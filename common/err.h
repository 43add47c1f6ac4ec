/*
 * One error enum for every layer.  Functions return 0 on success or a
 * negative CAIRN_ERR_* value; constructors return a pointer or NULL.
 * Decoders keep CAIRN_ERR_NEED_MORE (keep reading) apart from
 * CAIRN_ERR_PROTO and CAIRN_ERR_TOO_BIG (close the peer).
 */
#ifndef CAIRN_COMMON_ERR_H
#define CAIRN_COMMON_ERR_H

enum cairn_err {
	CAIRN_OK = 0,
	CAIRN_ERR_NOMEM = -1,		/* allocation failed */
	CAIRN_ERR_INVAL = -2,		/* bad argument from the caller */
	CAIRN_ERR_PROTO = -3,		/* malformed input from a peer */
	CAIRN_ERR_NEED_MORE = -4,	/* input is a valid prefix: read more */
	CAIRN_ERR_TOO_BIG = -5,		/* input or output over its size cap */
	CAIRN_ERR_LIMIT = -6,		/* a configured limit was reached */
	CAIRN_ERR_IO = -7,		/* a system call failed; see errno */
	CAIRN_ERR_DNS = -8,		/* name resolution failed */
	CAIRN_ERR_CLOSED = -9,		/* the peer closed the connection */
	CAIRN_ERR_TIMEOUT = -10,	/* a deadline passed */
	CAIRN_ERR_EXIST = -11,		/* the key is already present */
	CAIRN_ERR_NOENT = -12,		/* no such key */
	CAIRN_ERR_AUTH = -13,		/* the peer refused our credentials */
	CAIRN_ERR_DENIED = -14,		/* refused by this side's policy */
};

/* A static English string for code; never NULL. */
const char	*cairn_strerror(int code);

#endif
