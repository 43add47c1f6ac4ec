/*
 * The gossip strategy's UDP socket; see gossip_sock.h.
 *
 * Linux delivers a multicast datagram to every socket bound to its port
 * on the wildcard (or group) address whose host joined the group, so
 * several agents on one host each get every heartbeat.  A unicast
 * datagram to a shared port reaches only one of them.
 */
#include "strategies/gossip_sock.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sock.h"

const char *
gossip_sock_group(const struct gossip_sock_opts *o)
{
	if (o->group != NULL)
		return o->group;
	return o->broadcast_only ? GOSSIP_DEFAULT_BROADCAST :
	    GOSSIP_DEFAULT_GROUP;
}

/* An IPv4 interface address for IP_MULTICAST_IF, or a name: ip_mreqn. */
static int
gossip_sock_v4_if(const char *ifname, struct ip_mreqn *m, char *err,
    size_t errlen)
{
	if (ifname == NULL)
		return 0;
	if (inet_pton(AF_INET, ifname, &m->imr_address) == 1)
		return 0;
	if ((m->imr_ifindex = (int)if_nametoindex(ifname)) == 0) {
		snprintf(err, errlen, "multicast_if %s: neither an IPv4 "
		    "address nor an interface", ifname);
		return -1;
	}
	return 0;
}

/* An IPv6 interface name or index. */
static int
gossip_sock_v6_if(const char *ifname, unsigned *idx, char *err,
    size_t errlen)
{
	char *end;
	unsigned long v;

	*idx = 0;
	if (ifname == NULL)
		return 0;
	v = strtoul(ifname, &end, 10);
	if (*end == '\0' && end != ifname && v <= UINT32_MAX) {
		*idx = (unsigned)v;
		return 0;
	}
	if ((*idx = if_nametoindex(ifname)) == 0) {
		snprintf(err, errlen, "multicast_if %s: no such interface",
		    ifname);
		return -1;
	}
	return 0;
}

/* Checks the destination and the bind address; fills bind_ss. */
static int
gossip_sock_addrs(const struct gossip_sock_opts *o,
    struct sockaddr_storage *dst, socklen_t *dstlen,
    struct sockaddr_storage *bind_ss, socklen_t *bind_len, char *err,
    size_t errlen)
{
	const char *group = gossip_sock_group(o), *bind_addr;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)dst;
	struct sockaddr_in *d4 = (struct sockaddr_in *)dst;
	int fam;

	if (sock_addr_parse(group, o->port, dst, dstlen) == -1) {
		snprintf(err, errlen, "multicast_addr %s: not an IP address",
		    group);
		return -1;
	}
	fam = dst->ss_family;
	if (fam == AF_INET6 && o->broadcast_only) {
		snprintf(err, errlen, "broadcast_only needs an IPv4 address");
		return -1;
	}
	if ((fam == AF_INET6 && !IN6_IS_ADDR_MULTICAST(&d6->sin6_addr)) ||
	    (fam == AF_INET && !o->broadcast_only &&
	    !IN_MULTICAST(ntohl(d4->sin_addr.s_addr)))) {
		snprintf(err, errlen, "multicast_addr %s: not a multicast "
		    "group%s", group, fam == AF_INET ?
		    " (set broadcast_only for a broadcast address)" : "");
		return -1;
	}
	bind_addr = o->if_addr != NULL ? o->if_addr :
	    fam == AF_INET6 ? "::" : "0.0.0.0";
	if (sock_addr_parse(bind_addr, o->port, bind_ss, bind_len) == -1 ||
	    bind_ss->ss_family != fam) {
		snprintf(err, errlen, "if_addr %s: not an IPv%c address",
		    bind_addr, fam == AF_INET6 ? '6' : '4');
		return -1;
	}
	return 0;
}

/* Multicast options and membership for an IPv4 group. */
static int
gossip_sock_join4(int fd, const struct gossip_sock_opts *o,
    const struct sockaddr_storage *dst, char *err, size_t errlen)
{
	struct ip_mreqn mr;
	int on = 1, ttl = (int)o->ttl;

	memset(&mr, 0, sizeof(mr));
	if (gossip_sock_v4_if(o->multicast_if, &mr, err, errlen) == -1)
		return -1;
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
	    sizeof(ttl)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &on,
	    sizeof(on)) == -1 ||
	    (o->multicast_if != NULL && setsockopt(fd, IPPROTO_IP,
	    IP_MULTICAST_IF, &mr, sizeof(mr)) == -1))
		goto syserr;
	mr.imr_multiaddr = ((const struct sockaddr_in *)dst)->sin_addr;
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr,
	    sizeof(mr)) == -1)
		goto syserr;
	return 0;
syserr:
	snprintf(err, errlen, "multicast options for %s: %s",
	    gossip_sock_group(o), strerror(errno));
	return -1;
}

/* The same for an IPv6 group; a link-local group gets its scope. */
static int
gossip_sock_join6(int fd, const struct gossip_sock_opts *o,
    struct sockaddr_storage *dst, char *err, size_t errlen)
{
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)dst;
	struct ipv6_mreq mr6;
	unsigned idx;
	int on = 1, ttl = (int)o->ttl;

	if (gossip_sock_v6_if(o->multicast_if, &idx, err, errlen) == -1)
		return -1;
	if (IN6_IS_ADDR_MC_LINKLOCAL(&d6->sin6_addr) ||
	    IN6_IS_ADDR_MC_NODELOCAL(&d6->sin6_addr))
		d6->sin6_scope_id = idx;
	memset(&mr6, 0, sizeof(mr6));
	mr6.ipv6mr_multiaddr = d6->sin6_addr;
	mr6.ipv6mr_interface = idx;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl,
	    sizeof(ttl)) == -1 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &on,
	    sizeof(on)) == -1 ||
	    (idx != 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
	    &idx, sizeof(idx)) == -1) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr6,
	    sizeof(mr6)) == -1) {
		snprintf(err, errlen, "multicast options for %s: %s",
		    gossip_sock_group(o), strerror(errno));
		return -1;
	}
	return 0;
}

int
gossip_sock_check(const struct gossip_sock_opts *o, const char **key,
    char *err, size_t errlen)
{
	struct sockaddr_storage dst, bind_ss;
	socklen_t dstlen, bind_len;
	struct ip_mreqn mr;
	unsigned idx;

	if (gossip_sock_addrs(o, &dst, &dstlen, &bind_ss, &bind_len, err,
	    errlen) == -1) {
		/* gossip_sock_addrs() names the option first in err. */
		*key = strncmp(err, "if_addr", 7) == 0 ? "if_addr" :
		    strncmp(err, "broadcast_only", 14) == 0 ?
		    "broadcast_only" : o->group != NULL ? "multicast_addr" :
		    "broadcast_only";
		return -1;
	}
	*key = "multicast_if";
	if (o->broadcast_only && dst.ss_family == AF_INET)
		return 0;
	memset(&mr, 0, sizeof(mr));
	if (dst.ss_family == AF_INET)
		return gossip_sock_v4_if(o->multicast_if, &mr, err, errlen);
	return gossip_sock_v6_if(o->multicast_if, &idx, err, errlen);
}

int
gossip_sock_open(const struct gossip_sock_opts *o,
    struct sockaddr_storage *dst, socklen_t *dstlen, char *err,
    size_t errlen)
{
	struct sockaddr_storage bind_ss;
	socklen_t bind_len;
	int fd, on = 1;

	if (gossip_sock_addrs(o, dst, dstlen, &bind_ss, &bind_len, err,
	    errlen) == -1)
		return -1;
	if ((fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto syserr;
	/* Several agents on one host share the port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto syserr;
	if (dst->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto syserr;
	if (bind(fd, (struct sockaddr *)&bind_ss, bind_len) == -1)
		goto syserr;
	if (dst->ss_family == AF_INET) {
		if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on,
		    sizeof(on)) == -1)
			goto syserr;
		if (o->broadcast_only)
			return fd;
		if (gossip_sock_join4(fd, o, dst, err, errlen) == -1)
			goto fail;
		return fd;
	}
	if (gossip_sock_join6(fd, o, dst, err, errlen) == -1)
		goto fail;
	return fd;
syserr:
	snprintf(err, errlen, "UDP socket for %s port %u: %s",
	    gossip_sock_group(o), o->port, strerror(errno));
fail:
	if (fd != -1)
		close(fd);
	return -1;
}
