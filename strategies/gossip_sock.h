/*
 * The gossip strategy's UDP socket: bound to a shared port, joined to an
 * IPv4 or IPv6 multicast group (or allowed to broadcast), with loop on
 * so that agents on one host hear each other.  Private to strategies/.
 */
#ifndef CAIRN_STRATEGIES_GOSSIP_SOCK_H
#define CAIRN_STRATEGIES_GOSSIP_SOCK_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define GOSSIP_DEFAULT_GROUP		"233.252.1.32"
#define GOSSIP_DEFAULT_BROADCAST	"255.255.255.255"

/* libcluster's option names; strings are borrowed for the call. */
struct gossip_sock_opts {
	const char	*group;		/* multicast_addr; NULL: the default */
	const char	*if_addr;	/* bind address; NULL: 0.0.0.0 or :: */
	const char	*multicast_if;	/* v4 address or name; v6 name/index */
	uint16_t	 port;
	unsigned	 ttl;		/* multicast_ttl / hop limit */
	int		 broadcast_only;
};

/*
 * Opens a non-blocking, close-on-exec UDP socket as o says:
 * SO_REUSEADDR and SO_REUSEPORT, bound to if_addr:port, SO_BROADCAST
 * (IPv4), and unless broadcast_only: the TTL, multicast loop on, the
 * sending interface and membership of the group on multicast_if (any
 * interface when NULL).  *dst gets the address heartbeats go to (a
 * link-local v6 group carries the interface as its scope).  Returns the
 * fd, or -1 with a reason in err (a bad option, or the failing call and
 * errno's text).
 */
int	gossip_sock_open(const struct gossip_sock_opts *o,
	    struct sockaddr_storage *dst, socklen_t *dstlen, char *err,
	    size_t errlen);
/*
 * What gossip_sock_open() checks before it opens anything: the group,
 * the bind address and the interface.  0, or -1 with the reason in err
 * and the option it concerns in *key (a static string).  No socket.
 */
int	gossip_sock_check(const struct gossip_sock_opts *o, const char **key,
	    char *err, size_t errlen);
/* The group or broadcast address o sends to, for messages. */
const char *gossip_sock_group(const struct gossip_sock_opts *o);

#endif
