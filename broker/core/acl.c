/*
 * ACL: mosquitto's acl_file (format and check order in acl.h).  A
 * section is an array of rules; the user sections are sorted by name
 * once the file is read, for bsearch() at check time.  Rules keep file
 * order, but the order never changes a result: a matching deny always
 * wins over a matching grant in the same section (mosquitto puts deny
 * rules first), so a check makes one pass for denies and one for grants.
 */
#include "broker/core/acl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/mqtt/mqtt_topic.h"
#include "common/err.h"
#include "common/file.h"

/* Patterns whose substitution fits here are matched without malloc. */
#define ACL_SUBST_STACK		256

struct acl_rule {
	char		*ar_topic;	/* a filter; for patterns, %c and %u */
	size_t		 ar_len;
	int		 ar_access;	/* ACL_READ | ACL_WRITE, 0 for deny */
	int		 ar_user;	/* a pattern with %u */
};

struct acl_section {
	char		*as_user;	/* NULL: anonymous or patterns */
	size_t		 as_order;	/* first `user` line, for merging */
	struct acl_rule	*as_rules;
	size_t		 as_n;
	size_t		 as_cap;
};

struct acl {
	struct acl_section	 a_anon;
	struct acl_section	 a_patterns;
	struct acl_section	*a_users;	/* sorted by name once loaded */
	size_t			 a_nusers;
	size_t			 a_capusers;
};

static void	acl_errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
acl_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
acl_section_fini(struct acl_section *as)
{
	size_t i;

	for (i = 0; i < as->as_n; i++)
		free(as->as_rules[i].ar_topic);
	free(as->as_rules);
	free(as->as_user);
}

void
acl_free(struct acl *acl)
{
	size_t i;

	if (acl == NULL)
		return;
	acl_section_fini(&acl->a_anon);
	acl_section_fini(&acl->a_patterns);
	for (i = 0; i < acl->a_nusers; i++)
		acl_section_fini(&acl->a_users[i]);
	free(acl->a_users);
	free(acl);
}

/* Appends a rule for topic t[0..len) to as: 0 or CAIRN_ERR_NOMEM. */
static int
acl_add_rule(struct acl_section *as, const char *t, size_t len, int access,
    int pattern)
{
	struct acl_rule *r;
	size_t cap;

	if (as->as_n == as->as_cap) {
		cap = as->as_cap > 0 ? as->as_cap * 2 : 8;
		if ((r = reallocarray(as->as_rules, cap, sizeof(*r))) == NULL)
			return CAIRN_ERR_NOMEM;
		as->as_rules = r;
		as->as_cap = cap;
	}
	r = &as->as_rules[as->as_n];
	if ((r->ar_topic = strndup(t, len)) == NULL)
		return CAIRN_ERR_NOMEM;
	r->ar_len = len;
	r->ar_access = access;
	r->ar_user = pattern && memmem(t, len, "%u", 2) != NULL;
	as->as_n++;
	return 0;
}

/* Starts a section for user u[0..len); its index in *idx. */
static int
acl_add_user(struct acl *acl, const char *u, size_t len, size_t *idx)
{
	struct acl_section *s;
	size_t cap;

	if (acl->a_nusers == acl->a_capusers) {
		cap = acl->a_capusers > 0 ? acl->a_capusers * 2 : 8;
		if ((s = reallocarray(acl->a_users, cap, sizeof(*s))) == NULL)
			return CAIRN_ERR_NOMEM;
		acl->a_users = s;
		acl->a_capusers = cap;
	}
	s = &acl->a_users[acl->a_nusers];
	memset(s, 0, sizeof(*s));
	if ((s->as_user = strndup(u, len)) == NULL)
		return CAIRN_ERR_NOMEM;
	s->as_order = acl->a_nusers;
	*idx = acl->a_nusers++;
	return 0;
}

static int
acl_cmp_section(const void *a, const void *b)
{
	const struct acl_section *x = a, *y = b;
	int c;

	if ((c = strcmp(x->as_user, y->as_user)) != 0)
		return c;
	return x->as_order < y->as_order ? -1 : x->as_order > y->as_order;
}

/*
 * Sorts the user sections and merges repeated names into the first one,
 * as mosquitto's add__acl() appends to an existing user: 0 or
 * CAIRN_ERR_NOMEM (the acl is still whole and can be freed).
 */
static int
acl_merge_users(struct acl *acl)
{
	struct acl_section *a, *b;
	struct acl_rule *r;
	size_t i, j;

	if (acl->a_nusers == 0)
		return 0;
	qsort(acl->a_users, acl->a_nusers, sizeof(*acl->a_users),
	    acl_cmp_section);
	for (i = 0, j = 1; j < acl->a_nusers; j++) {
		a = &acl->a_users[i];
		b = &acl->a_users[j];
		if (strcmp(a->as_user, b->as_user) != 0) {
			acl->a_users[++i] = *b;
			continue;
		}
		if (b->as_n > 0) {
			if ((r = reallocarray(a->as_rules, a->as_n + b->as_n,
			    sizeof(*r))) == NULL) {
				/* Keep the rest whole so acl_free() works. */
				memmove(&acl->a_users[i + 1], b,
				    (acl->a_nusers - j) * sizeof(*b));
				acl->a_nusers = i + 1 + acl->a_nusers - j;
				return CAIRN_ERR_NOMEM;
			}
			memcpy(r + a->as_n, b->as_rules, b->as_n * sizeof(*r));
			a->as_rules = r;
			a->as_n += b->as_n;
			a->as_cap = a->as_n;
		}
		free(b->as_rules);
		free(b->as_user);
	}
	acl->a_nusers = i + 1;
	return 0;
}

static int
acl_isblank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* The next word of [*p, end): its start and length; *p moves past it. */
static size_t
acl_word(const char **p, const char *end, const char **word)
{
	const char *s = *p;

	while (s < end && acl_isblank(*s))
		s++;
	*word = s;
	while (s < end && !acl_isblank(*s))
		s++;
	*p = s;
	return (size_t)(s - *word);
}

static int
acl_word_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(w, s, len) == 0;
}

/*
 * Parses one line p[0..len) (no newline) into acl; *cur is the current
 * section: SIZE_MAX for the anonymous one, else an index in a_users.
 * NULL on success, else what is wrong; *nomem tells allocation failure.
 */
static const char *
acl_parse_line(struct acl *acl, const char *p, size_t len, size_t *cur,
    int *nomem)
{
	const char *end = p + len, *kw, *acc, *t;
	size_t kwlen, acclen, tlen;
	struct acl_section *as;
	int access, pattern;

	if (memchr(p, '\0', len) != NULL)
		return "NUL byte in line";
	while (end > p && acl_isblank(end[-1]))
		end--;
	if ((kwlen = acl_word(&p, end, &kw)) == 0 || kw[0] == '#')
		return NULL;
	if (acl_word_is(kw, kwlen, "user")) {
		t = p;
		while (t < end && acl_isblank(*t))
			t++;
		if (t == end)
			return "missing user name";
		if (acl_add_user(acl, t, (size_t)(end - t), cur) != 0)
			goto nomem;
		return NULL;
	}
	pattern = acl_word_is(kw, kwlen, "pattern");
	if (!pattern && !acl_word_is(kw, kwlen, "topic"))
		return "unknown keyword (topic, pattern or user)";
	if ((acclen = acl_word(&p, end, &acc)) == 0)
		return "empty topic";
	t = p;
	while (t < end && acl_isblank(*t))
		t++;
	if (t == end) {
		/* One word: it is the topic, read and write. */
		t = acc;
		tlen = acclen;
		access = ACL_READ | ACL_WRITE;
	} else {
		tlen = (size_t)(end - t);
		if (acl_word_is(acc, acclen, "read"))
			access = ACL_READ;
		else if (acl_word_is(acc, acclen, "write"))
			access = ACL_WRITE;
		else if (acl_word_is(acc, acclen, "readwrite"))
			access = ACL_READ | ACL_WRITE;
		else if (acl_word_is(acc, acclen, "deny"))
			access = 0;
		else
			return "unknown access (read, write, readwrite or deny)";
	}
	if (!mqtt_topic_filter_valid(bytes_view_of(t, tlen)))
		return "invalid topic filter";
	if (pattern)
		as = &acl->a_patterns;
	else if (*cur == SIZE_MAX)
		as = &acl->a_anon;
	else
		as = &acl->a_users[*cur];
	if (acl_add_rule(as, t, tlen, access, pattern) != 0)
		goto nomem;
	return NULL;
nomem:
	*nomem = 1;
	return "out of memory";
}

int
acl_parse(const char *text, size_t len, const char *name, struct acl **out,
    char *err, size_t errlen)
{
	struct acl *acl;
	const char *p = text, *end = text + len, *nl, *why;
	size_t line = 0, cur = SIZE_MAX;
	int nomem = 0;

	if ((acl = calloc(1, sizeof(*acl))) == NULL) {
		acl_errf(err, errlen, "%s: out of memory", name);
		return CAIRN_ERR_NOMEM;
	}
	while (p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		why = acl_parse_line(acl, p, (size_t)(nl - p), &cur, &nomem);
		if (why != NULL) {
			acl_errf(err, errlen, "%s:%zu: %s", name, line, why);
			goto fail;
		}
		p = nl < end ? nl + 1 : end;
	}
	if (acl_merge_users(acl) != 0) {
		nomem = 1;
		acl_errf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	*out = acl;
	return 0;
fail:
	acl_free(acl);
	return nomem ? CAIRN_ERR_NOMEM : CAIRN_ERR_PROTO;
}

int
acl_load(const char *path, struct acl **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	/* A regular file only, and capped (common/file.h). */
	if ((rc = file_read_all(path, ACL_MAX_FILE, 0, &buf, &len, err,
	    errlen)) != 0)
		return rc;
	rc = acl_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

static int
acl_cmp_user(const void *key, const void *elem)
{
	const struct acl_section *as = elem;

	return strcmp(key, as->as_user);
}

/*
 * 1 if a rule of as with the given kind (deny: access 0; grant: access
 * has the asked bit) matches topic.  Patterns are expanded first.  A
 * pattern that cannot be expanded (no memory) matches a deny and no
 * grant, so a failure denies.
 */
static int
acl_section_match(const struct acl_section *as, int pattern, int deny,
    const char *client_id, const char *username, struct bytes_view topic,
    int access)
{
	char stack[ACL_SUBST_STACK], *buf;
	size_t i, j, k, n, clen = strlen(client_id);
	size_t ulen = username != NULL ? strlen(username) : 0;
	const struct acl_rule *r;
	int m;

	for (i = 0; i < as->as_n; i++) {
		r = &as->as_rules[i];
		if (deny ? r->ar_access != 0 : (r->ar_access & access) == 0)
			continue;
		if (!pattern) {
			if (mqtt_topic_match(bytes_view_of(r->ar_topic,
			    r->ar_len), topic))
				return 1;
			continue;
		}
		if (r->ar_user && username == NULL)
			continue;
		/* Length first, as mosquitto sizes its buffer. */
		for (j = 0, n = 0; j < r->ar_len; j++) {
			if (j + 1 < r->ar_len && r->ar_topic[j] == '%' &&
			    (r->ar_topic[j + 1] == 'c' ||
			    (r->ar_topic[j + 1] == 'u' && username != NULL))) {
				n += r->ar_topic[j + 1] == 'c' ? clen : ulen;
				j++;
			} else
				n++;
		}
		buf = stack;
		if (n > sizeof(stack) && (buf = malloc(n)) == NULL) {
			if (deny)
				return 1;
			continue;
		}
		for (j = 0, k = 0; j < r->ar_len; j++) {
			if (j + 1 < r->ar_len && r->ar_topic[j] == '%' &&
			    r->ar_topic[j + 1] == 'c') {
				memcpy(buf + k, client_id, clen);
				k += clen;
				j++;
			} else if (j + 1 < r->ar_len && r->ar_topic[j] == '%' &&
			    r->ar_topic[j + 1] == 'u' && username != NULL) {
				memcpy(buf + k, username, ulen);
				k += ulen;
				j++;
			} else
				buf[k++] = r->ar_topic[j];
		}
		/* An id or name with '/' adds levels; it stays a filter. */
		m = mqtt_topic_filter_valid(bytes_view_of(buf, k)) &&
		    mqtt_topic_match(bytes_view_of(buf, k), topic);
		if (buf != stack)
			free(buf);
		if (m)
			return 1;
	}
	return 0;
}

int
acl_check(const struct acl *acl, const char *client_id, const char *username,
    struct bytes_view topic, int access)
{
	static const char sys_state[] = "$SYS/broker/connection/+/state";
	const struct acl_section *as;

	if ((access != ACL_READ && access != ACL_WRITE) || client_id == NULL ||
	    !mqtt_topic_name_valid(topic))
		return 0;
	/* mosquitto's acl__check_dollar(), with or without a file. */
	if (topic.len >= 4 && memcmp(topic.p, "$SYS", 4) == 0) {
		if (access == ACL_WRITE && !mqtt_topic_match(
		    bytes_view_of(sys_state, sizeof(sys_state) - 1), topic))
			return 0;
	} else if (topic.len >= 6 && memcmp(topic.p, "$share", 6) == 0)
		return 0;
	if (acl == NULL)
		return 1;

	if (username == NULL)
		as = &acl->a_anon;
	else if (acl->a_nusers == 0)
		as = NULL;
	else
		as = bsearch(username, acl->a_users, acl->a_nusers,
		    sizeof(*acl->a_users), acl_cmp_user);
	if (as != NULL) {
		if (acl_section_match(as, 0, 1, client_id, username, topic,
		    access))
			return 0;
		if (acl_section_match(as, 0, 0, client_id, username, topic,
		    access))
			return 1;
	}
	if (acl->a_patterns.as_n == 0)
		return 0;
	/* A '+' or '#' in an id or name would widen every pattern. */
	if (strpbrk(client_id, "+#") != NULL ||
	    (username != NULL && strpbrk(username, "+#") != NULL))
		return 0;
	if (acl_section_match(&acl->a_patterns, 1, 1, client_id, username,
	    topic, access))
		return 0;
	return acl_section_match(&acl->a_patterns, 1, 0, client_id, username,
	    topic, access);
}
