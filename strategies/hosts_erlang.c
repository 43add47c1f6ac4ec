/*
 * `.hosts.erlang` parser; see hosts_erlang.h.
 */
#include "strategies/hosts_erlang.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct he_lex {
	const char	*p;
	size_t		 len;
	size_t		 off;
	unsigned	 line;
	unsigned	 col;
};

static int
he_peek(const struct he_lex *l)
{
	return l->off < l->len ? (unsigned char)l->p[l->off] : -1;
}

static void
he_adv(struct he_lex *l)
{
	if (l->off >= l->len)
		return;
	if (l->p[l->off] == '\n') {
		l->line++;
		l->col = 1;
	} else
		l->col++;
	l->off++;
}

/* Skips white space and % comments. */
static void
he_skip(struct he_lex *l)
{
	int c;

	while ((c = he_peek(l)) != -1) {
		if (c == '%') {
			while ((c = he_peek(l)) != -1 && c != '\n')
				he_adv(l);
		} else if (isspace(c))
			he_adv(l);
		else
			break;
	}
}

void
hosts_erlang_free(char **hosts, size_t n)
{
	size_t i;

	if (hosts == NULL)
		return;
	for (i = 0; i < n; i++)
		free(hosts[i]);
	free(hosts);
}

int
hosts_erlang_parse(const char *text, size_t len, char ***hostsp, size_t *np,
    char *err, size_t errlen)
{
	struct he_lex l = { text, len, 0, 1, 1 };
	char atom[HOSTS_ERLANG_MAX_ATOM + 1];
	char **hosts = NULL, **nh;
	size_t n = 0, alen;
	int c, rc = CAIRN_ERR_PROTO;

	*hostsp = NULL;
	*np = 0;
	for (;;) {
		he_skip(&l);
		if ((c = he_peek(&l)) == -1)
			break;
		alen = 0;
		if (c == '\'') {
			he_adv(&l);
			while ((c = he_peek(&l)) != '\'') {
				if (c == -1 || c == '\n') {
					snprintf(err, errlen, "%u:%u: unterminated "
					    "quoted atom", l.line, l.col);
					goto fail;
				}
				if (c == '\\') {
					he_adv(&l);
					if ((c = he_peek(&l)) == -1)
						continue;
				}
				if (alen == HOSTS_ERLANG_MAX_ATOM) {
					snprintf(err, errlen, "%u:%u: atom longer "
					    "than %d characters", l.line, l.col,
					    HOSTS_ERLANG_MAX_ATOM);
					goto fail;
				}
				atom[alen++] = (char)c;
				he_adv(&l);
			}
			he_adv(&l);
		} else if (islower(c)) {
			while ((c = he_peek(&l)) != -1 &&
			    (isalnum(c) || c == '_' || c == '@')) {
				if (alen == HOSTS_ERLANG_MAX_ATOM) {
					snprintf(err, errlen, "%u:%u: atom longer "
					    "than %d characters", l.line, l.col,
					    HOSTS_ERLANG_MAX_ATOM);
					goto fail;
				}
				atom[alen++] = (char)c;
				he_adv(&l);
			}
		} else {
			snprintf(err, errlen, "%u:%u: expected a host name atom "
			    "such as 'db1.example.com'", l.line, l.col);
			goto fail;
		}
		atom[alen] = '\0';
		if (alen == 0) {
			snprintf(err, errlen, "%u:%u: empty host name", l.line,
			    l.col);
			goto fail;
		}
		he_skip(&l);
		if (he_peek(&l) != '.') {
			snprintf(err, errlen, "%u:%u: expected '.' after '%s'",
			    l.line, l.col, atom);
			goto fail;
		}
		he_adv(&l);
		c = he_peek(&l);
		if (c != -1 && !isspace(c) && c != '%') {
			snprintf(err, errlen, "%u:%u: expected white space "
			    "after '.'", l.line, l.col);
			goto fail;
		}
		if (n == HOSTS_ERLANG_MAX_HOSTS) {
			snprintf(err, errlen, "%u:%u: more than %d hosts",
			    l.line, l.col, HOSTS_ERLANG_MAX_HOSTS);
			rc = CAIRN_ERR_LIMIT;
			goto fail;
		}
		if ((nh = realloc(hosts, (n + 1) * sizeof(*nh))) == NULL ||
		    (nh[n] = strdup(atom)) == NULL) {
			if (nh != NULL)
				hosts = nh;
			snprintf(err, errlen, "out of memory");
			rc = CAIRN_ERR_NOMEM;
			goto fail;
		}
		hosts = nh;
		n++;
	}
	*hostsp = hosts;
	*np = n;
	return 0;
fail:
	hosts_erlang_free(hosts, n);
	return rc;
}
