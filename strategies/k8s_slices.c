/*
 * EndpointSlice JSON to node names (k8s_slices.h), with jansson: the
 * API's JSON is parsed by a library that has been fuzzed for years, not
 * by hand, and every value is type-checked before use.
 */
#include "strategies/k8s_slices.h"

#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

struct k8s_slice {
	char	 *name;
	char	**nodes;	/* sorted */
	size_t	  n;
};

struct k8s_slices {
	struct k8s_slice	*v;
	size_t			 n;
	size_t			 max_slices;
	size_t			 max_nodes;
	size_t			 nodes;		/* over all slices */
};

/* A DNS label (RFC 1123): what a pod's hostname must be. */
static int
k8s_dns_label(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

int
k8s_node_name(const struct k8s_naming *nm, int family, const char *addr,
    const char *hostname, char *buf, size_t len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char canon[INET6_ADDRSTRLEN], *p;
	int af = family == 6 ? AF_INET6 : AF_INET, n;

	if (nm->mode == K8S_MODE_HOSTNAME) {
		if (hostname == NULL || hostname[0] == '\0')
			return CAIRN_ERR_NOENT;
		if (!k8s_dns_label(hostname))
			return CAIRN_ERR_PROTO;
		n = snprintf(buf, len, "%s@%s.%s.%s.svc.%s", nm->basename,
		    hostname, nm->service, nm->namespace, nm->domain);
		return n < 0 || (size_t)n >= len ? CAIRN_ERR_TOO_BIG : 0;
	}
	/* The canonical text of a real address, never the API's string. */
	if (addr == NULL || inet_pton(af, addr, bin) != 1 ||
	    inet_ntop(af, bin, canon, sizeof(canon)) == NULL)
		return CAIRN_ERR_PROTO;
	if (nm->mode == K8S_MODE_IP)
		n = snprintf(buf, len, "%s@%s", nm->basename, canon);
	else {
		/* The pod's A record: dots (or colons) become dashes. */
		for (p = canon; *p != '\0'; p++)
			if (*p == '.' || *p == ':')
				*p = '-';
		n = snprintf(buf, len, "%s@%s.%s.pod.%s", nm->basename, canon,
		    nm->namespace, nm->domain);
	}
	return n < 0 || (size_t)n >= len ? CAIRN_ERR_TOO_BIG : 0;
}

struct k8s_slices *
k8s_slices_new(size_t max_slices, size_t max_nodes)
{
	struct k8s_slices *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->max_slices = max_slices;
	t->max_nodes = max_nodes;
	return t;
}

static void
k8s_slice_clear(struct k8s_slice *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->nodes[i]);
	free(s->nodes);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

static void
k8s_slices_clear(struct k8s_slices *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		k8s_slice_clear(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
	t->nodes = 0;
}

void
k8s_slices_free(struct k8s_slices *t)
{
	if (t == NULL)
		return;
	k8s_slices_clear(t);
	free(t);
}

size_t
k8s_slices_count(const struct k8s_slices *t)
{
	return t->n;
}

static int
k8s_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One EndpointSlice object into s (name and ready endpoints' names).
 * CAIRN_ERR_PROTO when it is not one, CAIRN_ERR_LIMIT past max_nodes.
 */
static int
k8s_slice_parse(const struct k8s_naming *nm, json_t *obj, size_t max_nodes,
    struct k8s_slice *s, char *why, size_t whylen)
{
	json_t *eps, *ep, *cond, *ready, *addrs, *host;
	const char *name, *type, *a, *h;
	char node[K8S_MAX_NODE_NAME];
	size_t i, k;
	int family, rc;

	memset(s, 0, sizeof(*s));
	name = json_string_value(json_object_get(json_object_get(obj,
	    "metadata"), "name"));
	type = json_string_value(json_object_get(obj, "addressType"));
	if (!json_is_object(obj) || name == NULL || name[0] == '\0' ||
	    strlen(name) > 253 || type == NULL) {
		snprintf(why, whylen, "not an EndpointSlice (no "
		    "metadata.name or addressType)");
		return CAIRN_ERR_PROTO;
	}
	if ((s->name = strdup(name)) == NULL)
		return CAIRN_ERR_NOMEM;
	if (strcmp(type, "IPv4") == 0)
		family = 4;
	else if (strcmp(type, "IPv6") == 0)
		family = 6;
	else
		return 0;	/* FQDN slices name no pod: none of ours */
	eps = json_object_get(obj, "endpoints");
	if (eps == NULL || json_is_null(eps))
		return 0;	/* a slice with no endpoints omits the key */
	if (!json_is_array(eps)) {
		snprintf(why, whylen, "slice %s: endpoints is not an array",
		    name);
		return CAIRN_ERR_PROTO;
	}
	if (json_array_size(eps) > max_nodes) {
		snprintf(why, whylen, "slice %s: %zu endpoints, over the cap "
		    "of %zu", name, json_array_size(eps), max_nodes);
		return CAIRN_ERR_LIMIT;
	}
	if ((s->nodes = calloc(json_array_size(eps) + 1,
	    sizeof(*s->nodes))) == NULL)
		return CAIRN_ERR_NOMEM;
	json_array_foreach(eps, i, ep) {
		/* ready: "nil should be interpreted as true" (the API's
		 * own words); not-ready and terminating pods are out. */
		cond = json_object_get(ep, "conditions");
		ready = json_object_get(cond, "ready");
		if (json_is_false(ready))
			continue;
		addrs = json_object_get(ep, "addresses");
		/* "clients may choose to only use the first element" */
		a = json_string_value(json_array_get(addrs, 0));
		host = json_object_get(ep, "hostname");
		h = json_string_value(host);
		rc = k8s_node_name(nm, family, a, h, node, sizeof(node));
		if (rc != 0)
			continue;	/* not nameable: skipped */
		for (k = 0; k < s->n; k++)
			if (strcmp(s->nodes[k], node) == 0)
				break;
		if (k < s->n)
			continue;
		if ((s->nodes[s->n] = strdup(node)) == NULL)
			return CAIRN_ERR_NOMEM;
		s->n++;
	}
	qsort(s->nodes, s->n, sizeof(*s->nodes), k8s_strcmp);
	return 0;
}

static json_t *
k8s_load(const char *text, size_t len, char *why, size_t whylen)
{
	json_error_t je;
	json_t *j;

	/* Depth is bounded by jansson (JSON_PARSER_MAX_DEPTH, 2048). */
	if ((j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		snprintf(why, whylen, "bad JSON at line %d column %d: %s",
		    je.line, je.column, je.text);
	return j;
}

static int
k8s_copy_rv(json_t *obj, char *rv)
{
	const char *v;

	v = json_string_value(json_object_get(json_object_get(obj,
	    "metadata"), "resourceVersion"));
	if (v == NULL || v[0] == '\0' || strlen(v) >= K8S_MAX_RV)
		return CAIRN_ERR_PROTO;
	/* Opaque, but it goes into a URL: keep it to safe characters. */
	if (strspn(v, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") != strlen(v))
		return CAIRN_ERR_PROTO;
	memcpy(rv, v, strlen(v) + 1);
	return 0;
}

int
k8s_slices_list(struct k8s_slices *t, const struct k8s_naming *nm,
    const char *body, size_t len, char *rv, char *why, size_t whylen)
{
	struct k8s_slices nt;
	json_t *j, *items, *it;
	char nrv[K8S_MAX_RV];
	size_t i;
	int rc;

	if ((j = k8s_load(body, len, why, whylen)) == NULL)
		return CAIRN_ERR_PROTO;
	items = json_object_get(j, "items");
	if (k8s_copy_rv(j, nrv) != 0 ||
	    !(json_is_array(items) || json_is_null(items))) {
		snprintf(why, whylen, "not an EndpointSliceList (no items or "
		    "metadata.resourceVersion)");
		json_decref(j);
		return CAIRN_ERR_PROTO;
	}
	if (json_array_size(items) > t->max_slices) {
		snprintf(why, whylen, "%zu EndpointSlices, over the cap of "
		    "%zu", json_array_size(items), t->max_slices);
		json_decref(j);
		return CAIRN_ERR_LIMIT;
	}
	memset(&nt, 0, sizeof(nt));
	nt.max_slices = t->max_slices;
	nt.max_nodes = t->max_nodes;
	if ((nt.v = calloc(json_array_size(items) + 1, sizeof(*nt.v))) ==
	    NULL) {
		json_decref(j);
		return CAIRN_ERR_NOMEM;
	}
	rc = 0;
	json_array_foreach(items, i, it) {
		rc = k8s_slice_parse(nm, it, t->max_nodes - nt.nodes,
		    &nt.v[nt.n], why, whylen);
		nt.n++;
		if (rc != 0)
			break;
		nt.nodes += nt.v[nt.n - 1].n;
	}
	json_decref(j);
	if (rc != 0) {
		k8s_slices_clear(&nt);
		return rc;
	}
	k8s_slices_clear(t);
	t->v = nt.v;
	t->n = nt.n;
	t->nodes = nt.nodes;
	memcpy(rv, nrv, sizeof(nrv));
	return 0;
}

static ssize_t
k8s_find(const struct k8s_slices *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int
k8s_same(const struct k8s_slice *a, const struct k8s_slice *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->nodes[i], b->nodes[i]) != 0)
			return 0;
	return 1;
}

static int
k8s_apply(struct k8s_slices *t, const struct k8s_naming *nm, int del,
    json_t *obj, char *why, size_t whylen)
{
	struct k8s_slice s, *nv;
	ssize_t at;
	size_t others;
	int rc, same;

	rc = k8s_slice_parse(nm, obj, t->max_nodes, &s, why, whylen);
	if (rc != 0) {
		k8s_slice_clear(&s);
		return rc;
	}
	at = k8s_find(t, s.name);
	if (del) {
		k8s_slice_clear(&s);
		if (at < 0)
			return K8S_EV_SAME;
		same = t->v[at].n == 0;
		t->nodes -= t->v[at].n;
		k8s_slice_clear(&t->v[at]);
		t->v[at] = t->v[--t->n];
		return same ? K8S_EV_SAME : K8S_EV_CHANGED;
	}
	others = t->nodes - (at >= 0 ? t->v[at].n : 0);
	if (s.n > t->max_nodes - others || (at < 0 &&
	    t->n >= t->max_slices)) {
		snprintf(why, whylen, "slice %s: over the cap of %zu slices "
		    "and %zu endpoints", s.name, t->max_slices, t->max_nodes);
		k8s_slice_clear(&s);
		return CAIRN_ERR_LIMIT;
	}
	if (at >= 0) {
		same = k8s_same(&t->v[at], &s);
		k8s_slice_clear(&t->v[at]);
		t->v[at] = s;
		t->nodes = others + s.n;
		return same ? K8S_EV_SAME : K8S_EV_CHANGED;
	}
	if ((nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) == NULL) {
		k8s_slice_clear(&s);
		return CAIRN_ERR_NOMEM;
	}
	t->v = nv;
	t->v[t->n++] = s;
	t->nodes = others + s.n;
	return s.n > 0 ? K8S_EV_CHANGED : K8S_EV_SAME;
}

int
k8s_slices_event(struct k8s_slices *t, const struct k8s_naming *nm,
    const char *line, size_t len, char *rv, char *why, size_t whylen)
{
	json_t *j, *obj;
	const char *type, *msg;
	char nrv[K8S_MAX_RV];
	json_int_t code;
	int rc;

	if ((j = k8s_load(line, len, why, whylen)) == NULL)
		return CAIRN_ERR_PROTO;
	type = json_string_value(json_object_get(j, "type"));
	obj = json_object_get(j, "object");
	if (type == NULL || !json_is_object(obj)) {
		snprintf(why, whylen, "not a watch event (no type or object)");
		json_decref(j);
		return CAIRN_ERR_PROTO;
	}
	if (strcmp(type, "ERROR") == 0) {
		/* A Status: 410 Gone when our version has expired. */
		code = json_integer_value(json_object_get(obj, "code"));
		msg = json_string_value(json_object_get(obj, "message"));
		snprintf(why, whylen, "watch error %lld: %.200s",
		    (long long)code, msg != NULL ? msg : "(no message)");
		json_decref(j);
		return code == 410 ? K8S_EV_GONE : K8S_EV_ERROR;
	}
	if (k8s_copy_rv(obj, nrv) != 0) {
		snprintf(why, whylen, "%s event without a valid "
		    "metadata.resourceVersion", type);
		json_decref(j);
		return CAIRN_ERR_PROTO;
	}
	if (strcmp(type, "BOOKMARK") == 0)
		rc = K8S_EV_BOOKMARK;
	else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		rc = k8s_apply(t, nm, 0, obj, why, whylen);
	else if (strcmp(type, "DELETED") == 0)
		rc = k8s_apply(t, nm, 1, obj, why, whylen);
	else {
		snprintf(why, whylen, "unknown watch event type");
		rc = CAIRN_ERR_PROTO;
	}
	json_decref(j);
	/* The version moves only with an event that was applied. */
	if (rc >= 0)
		memcpy(rv, nrv, sizeof(nrv));
	return rc;
}

int
k8s_slices_nodes(const struct k8s_slices *t, char ***out, size_t *nout)
{
	char **tmp, **v, *p;
	size_t i, k, n = 0, bytes = 0, u;

	*out = NULL;
	*nout = 0;
	if ((tmp = calloc(t->nodes + 1, sizeof(*tmp))) == NULL)
		return CAIRN_ERR_NOMEM;
	for (i = 0; i < t->n; i++)
		for (k = 0; k < t->v[i].n; k++)
			tmp[n++] = t->v[i].nodes[k];
	qsort(tmp, n, sizeof(*tmp), k8s_strcmp);
	for (i = 0, u = 0; i < n; i++)
		if (u == 0 || strcmp(tmp[u - 1], tmp[i]) != 0)
			tmp[u++] = tmp[i];
	for (i = 0; i < u; i++)
		bytes += strlen(tmp[i]) + 1;
	if ((v = malloc((u + 1) * sizeof(*v) + bytes)) == NULL) {
		free(tmp);
		return CAIRN_ERR_NOMEM;
	}
	p = (char *)(v + u + 1);
	for (i = 0; i < u; i++) {
		v[i] = p;
		memcpy(p, tmp[i], strlen(tmp[i]) + 1);
		p += strlen(tmp[i]) + 1;
	}
	v[u] = NULL;
	free(tmp);
	*out = v;
	*nout = u;
	return 0;
}
