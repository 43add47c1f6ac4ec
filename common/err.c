/*
 * Text for the error codes of err.h.
 */
#include "common/err.h"

const char *
cairn_strerror(int code)
{
	switch (code) {
	case CAIRN_OK:
		return "success";
	case CAIRN_ERR_NOMEM:
		return "out of memory";
	case CAIRN_ERR_INVAL:
		return "invalid argument";
	case CAIRN_ERR_PROTO:
		return "protocol error";
	case CAIRN_ERR_NEED_MORE:
		return "incomplete input";
	case CAIRN_ERR_TOO_BIG:
		return "too big";
	case CAIRN_ERR_LIMIT:
		return "limit reached";
	case CAIRN_ERR_IO:
		return "I/O error";
	case CAIRN_ERR_DNS:
		return "name resolution failed";
	case CAIRN_ERR_CLOSED:
		return "connection closed";
	case CAIRN_ERR_TIMEOUT:
		return "timed out";
	case CAIRN_ERR_EXIST:
		return "already exists";
	case CAIRN_ERR_NOENT:
		return "not found";
	case CAIRN_ERR_AUTH:
		return "authentication failed";
	case CAIRN_ERR_DENIED:
		return "refused by policy";
	}
	return "unknown error";
}
