/*
 * The broker's epmd registration; see cluster_reg.h.  epmd_areg does
 * the work (ALIVE2, keeping the socket open as the lease, backoff and
 * registering again); this file only fills the node's fields and logs:
 *
 *	registered with epmd on port P as NAME (creation C)
 *	epmd registration lost: REASON; registering again
 *	registered again with epmd ... (after a loss or failures)
 *	epmd refused NAME: the name is taken (once per run of refusals)
 *
 * and failures to reach the epmd, the first and then every
 * CLUSTER_REG_LOG_EVERY-th in a row.
 */
#include "broker/cluster/cluster_reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/sock.h"
#include "epmd/epmd_aclient.h"
#include "epmd/epmd_codec.h"

struct cluster_reg {
	struct epmd_areg	*reg;
	uint16_t		 epmd_port;
	uint16_t		 port;
	int			 was_registered;	/* ever, this run */
	int			 refused;		/* logged, in a row */
	unsigned		 failures;		/* in a row */
	char			 name[EPMD_MAXSYMLEN + 1];
};

static uint16_t
cluster_reg_epmd_port(uint16_t port)
{
	const char *s = getenv("ERL_EPMD_PORT");
	long v;

	if (port != 0)
		return port;
	if (s == NULL || (v = strtol(s, NULL, 10)) <= 0 || v > 65535)
		return EPMD_PORT_NO;
	return (uint16_t)v;
}

static void
on_reg_event(void *arg, const struct epmd_areg_status *st)
{
	struct cluster_reg *r = arg;

	switch (st->event) {
	case EPMD_AREG_REGISTERED:
		log_info("%s with epmd on port %u as %s (port %u, creation "
		    "%u)", r->was_registered ? "registered again" :
		    "registered", r->epmd_port, r->name, r->port,
		    st->creation);
		r->was_registered = 1;
		r->refused = 0;
		r->failures = 0;
		break;
	case EPMD_AREG_LOST:
		log_warnx("epmd registration of %s lost: %s; registering "
		    "again", r->name, cairn_strerror(st->err));
		break;
	case EPMD_AREG_REFUSED:
		if (!r->refused)
			log_warnx("epmd on port %u refused %s: the name is "
			    "taken; retrying", r->epmd_port, r->name);
		r->refused = 1;
		break;
	case EPMD_AREG_RETRYING:
		if (r->refused)
			break;
		if (r->failures++ % CLUSTER_REG_LOG_EVERY == 0)
			log_warnx("epmd on port %u: %s (attempt %u); retrying "
			    "in %.1fs", r->epmd_port, cairn_strerror(st->err),
			    r->failures, (double)st->retry_ms / 1000.);
		break;
	}
}

struct cluster_reg *
cluster_reg_new(struct ev_loop *loop, const char *node, uint16_t port,
    uint16_t epmd_port, char *err, size_t errlen)
{
	struct epmd_node_info info;
	struct sockaddr_storage ss;
	struct cluster_reg *r;
	const char *at, *why;
	socklen_t sl;
	size_t len;

	if ((at = strchr(node, '@')) == NULL)
		at = node + strlen(node);
	len = (size_t)(at - node);
	if (len == 0 || len > EPMD_MAXSYMLEN) {
		snprintf(err, errlen, "node name %s: no valid name before "
		    "'@' for epmd", node);
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(r->name, node, len);
	r->name[len] = '\0';
	r->port = port;
	r->epmd_port = cluster_reg_epmd_port(epmd_port);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.nodetype = CLUSTER_REG_NODETYPE;
	info.protocol = CLUSTER_REG_PROTOCOL;
	info.highvsn = CLUSTER_REG_HIGHVSN;
	info.lowvsn = CLUSTER_REG_LOWVSN;
	info.name.p = (const uint8_t *)r->name;
	info.name.len = len;
	info.extra.p = (const uint8_t *)CLUSTER_REG_EXTRA;
	info.extra.len = strlen(CLUSTER_REG_EXTRA);
	if (epmd_check_alive2(&info, &why) != 0) {
		snprintf(err, errlen, "node name %s: %s", node, why);
		free(r);
		return NULL;
	}
	sock_addr_parse("127.0.0.1", r->epmd_port, &ss, &sl);
	if ((r->reg = epmd_areg_new(loop, (struct sockaddr *)&ss, sl, &info,
	    NULL, on_reg_event, r)) == NULL) {
		snprintf(err, errlen, "epmd registration: out of memory");
		free(r);
		return NULL;
	}
	return r;
}

int
cluster_reg_registered(const struct cluster_reg *r)
{
	return epmd_areg_registered(r->reg, NULL);
}

void
cluster_reg_free(struct cluster_reg *r)
{
	if (r == NULL)
		return;
	epmd_areg_free(r->reg);
	free(r);
}
