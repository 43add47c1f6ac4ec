/*
 * Socket helpers for IPv4 and IPv6, in the spirit of redis' anet: they
 * return an fd or -1 with errno set, and never log.  Callers that want
 * text use sock_ntop().
 */
#ifndef CAIRN_COMMON_SOCK_H
#define CAIRN_COMMON_SOCK_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define SOCK_NTOP_LEN	64	/* "[v6-address%scope]:port" fits */

/* Flags of sock_listen(). */
#define SOCK_F_REUSEADDR	0x01
#define SOCK_F_REUSEPORT	0x02
#define SOCK_F_V6ONLY		0x04

int	sock_set_nonblock(int fd);
int	sock_set_cloexec(int fd);
int	sock_set_nodelay(int fd);
/* Non-blocking, close-on-exec listening TCP socket bound to sa. */
int	sock_listen(const struct sockaddr *sa, socklen_t salen, int backlog,
	    int flags);
/*
 * TCP socket connecting to sa.  With nonblock the connect may still be
 * in progress (errno EINPROGRESS is not an error); the caller waits for
 * writability and reads SO_ERROR with sock_connect_result().
 */
int	sock_connect(const struct sockaddr *sa, socklen_t salen, int nonblock);
/* 0 when a non-blocking connect completed, else -1 with errno. */
int	sock_connect_result(int fd);
/*
 * Numeric address (IPv4 dotted or IPv6, optionally in brackets) and port
 * into ss; 0 or -1 (EINVAL).  No DNS.
 */
int	sock_addr_parse(const char *host, uint16_t port,
	    struct sockaddr_storage *ss, socklen_t *len);
/* "addr:port" or "[addr]:port" into buf (SOCK_NTOP_LEN); returns buf. */
const char *sock_ntop(const struct sockaddr *sa, char *buf, size_t len);
/* Address only, no port. */
const char *sock_ntop_addr(const struct sockaddr *sa, char *buf, size_t len);
uint16_t sock_port(const struct sockaddr *sa);
/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
int	sock_is_loopback(const struct sockaddr *sa);
/* Same family and address; ports are ignored. */
int	sock_same_addr(const struct sockaddr *a, const struct sockaddr *b);
/* Raises RLIMIT_NOFILE's soft limit to want (or to the hard limit). */
long	sock_raise_nofile(long want);

#endif
