/*
 * Fuzz target for what the kubernetes and rancher strategies read from
 * the network: the HTTP/1.1 response reader (strategies/http_resp), its
 * line splitter, and each line as a Kubernetes watch event into an
 * EndpointSlice table (strategies/k8s_slices, over jansson); the whole
 * body also as a Rancher metadata answer (strategies/rancher_meta).
 *
 * The first input byte picks how the rest is cut into reads (1 to 256
 * bytes each), so framing that straddles reads is covered.  Invariants:
 * the reader never takes more than it was given, a completed response
 * stays complete, the table stays within its caps and its node list is
 * sorted without duplicates; the whole body, as a list response, either
 * replaces the table or leaves it as it was.
 *
 * Seeds in t/fuzz/corpus/http/: responses as kube-apiserver and the
 * Rancher metadata service send them (a list with Content-Length, a
 * chunked watch stream with ADDED, MODIFIED, DELETED, BOOKMARK and a 410
 * ERROR, a 403 Status) and refused framings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "strategies/http_resp.h"
#include "strategies/k8s_slices.h"
#include "strategies/rancher_meta.h"
#include "t/fuzz/fuzz_assert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_SLICES	8
#define FUZZ_MAX_NODES	16

struct fuzz {
	struct http_lines	 lines;
	struct k8s_slices	*t;
	struct bytes_w		 body;
	char			 rv[K8S_MAX_RV];
};

static const struct k8s_naming fuzz_nm[3] = {
	{ K8S_MODE_IP, "app", "svc", "ns", "cluster.local" },
	{ K8S_MODE_DNS, "app", "svc", "ns", "cluster.local" },
	{ K8S_MODE_HOSTNAME, "app", "svc", "ns", "cluster.local" },
};
static int fuzz_mode;

static void
fuzz_check_table(struct k8s_slices *t)
{
	char **v;
	size_t n, i;

	FUZZ_ASSERT(k8s_slices_count(t) <= FUZZ_MAX_SLICES);
	if (k8s_slices_nodes(t, &v, &n) != 0)
		return;
	FUZZ_ASSERT(n <= FUZZ_MAX_NODES);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(strncmp(v[i], "app@", 4) == 0);
		if (i > 0)
			FUZZ_ASSERT(strcmp(v[i - 1], v[i]) < 0);
	}
	FUZZ_ASSERT(v[n] == NULL);
	free(v);
}

static int
fuzz_line(void *arg, char *line, size_t len)
{
	struct fuzz *f = arg;
	char why[256];

	FUZZ_ASSERT(strlen(line) == len);
	(void)k8s_slices_event(f->t, &fuzz_nm[fuzz_mode], line, len, f->rv,
	    why, sizeof(why));
	fuzz_check_table(f->t);
	return 0;
}

static int
fuzz_body(void *arg, const uint8_t *p, size_t n)
{
	struct fuzz *f = arg;

	(void)bytes_put(&f->body, p, n);
	return http_lines_feed(&f->lines, p, n, fuzz_line, f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_resp r;
	struct fuzz f;
	char why[256], **before, **after;
	size_t off, step, n, used, nb, na, i, k;
	int rc = CAIRN_ERR_NEED_MORE, done = 0;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	fuzz_mode = data[0] % 3;
	data++;
	size--;
	memset(&f, 0, sizeof(f));
	http_lines_init(&f.lines, 4096);
	bytes_w_init(&f.body, 1 << 20);
	if ((f.t = k8s_slices_new(FUZZ_MAX_SLICES, FUZZ_MAX_NODES)) == NULL)
		return 0;
	http_resp_init(&r, fuzz_body, &f);
	for (off = 0; off < size; off += used) {
		n = size - off < step ? size - off : step;
		rc = http_resp_feed(&r, data + off, n, &used);
		FUZZ_ASSERT(used <= n);
		if (rc != CAIRN_ERR_NEED_MORE)
			break;
		FUZZ_ASSERT(used == n);
	}
	if (rc == 0) {
		done = 1;
		FUZZ_ASSERT(r.hr_status >= 200 && r.hr_status <= 599);
		FUZZ_ASSERT(http_resp_eof(&r) == 0);
	} else if (rc == CAIRN_ERR_NEED_MORE)
		done = http_resp_eof(&r) == 0;
	/* The body as a list: replaced whole, or not at all. */
	if (done && f.body.err == 0 &&
	    k8s_slices_nodes(f.t, &before, &nb) == 0) {
		if (k8s_slices_list(f.t, &fuzz_nm[fuzz_mode],
		    (const char *)f.body.buf, f.body.len, f.rv, why,
		    sizeof(why)) != 0 &&
		    k8s_slices_nodes(f.t, &after, &na) == 0) {
			FUZZ_ASSERT(na == nb);
			for (i = 0; i < na; i++)
				FUZZ_ASSERT(strcmp(before[i], after[i]) == 0);
			free(after);
		}
		free(before);
		fuzz_check_table(f.t);
	}
	/* And as a Rancher answer: canonical names, no duplicates. */
	if (done && f.body.err == 0 && rancher_nodes("app",
	    (const char *)f.body.buf, f.body.len, &after, &na, why,
	    sizeof(why)) == 0) {
		for (i = 0; i < na; i++) {
			FUZZ_ASSERT(strncmp(after[i], "app@", 4) == 0);
			for (k = 0; k < i; k++)
				FUZZ_ASSERT(strcmp(after[k], after[i]) != 0);
		}
		rancher_nodes_free(after, na);
	}
	k8s_slices_free(f.t);
	http_lines_fini(&f.lines);
	bytes_w_fini(&f.body);
	return 0;
}
