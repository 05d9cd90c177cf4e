/*
 * dovecot.c - local_name rendering (pure: struct -> bytes).
 *
 * Only names that passed name_normalize() get here, served file names
 * are made of [A-Za-z0-9._~-] (store.h) and state_dir is checked by the
 * config loader, so nothing in the output can break out
 * of its line or block. 2.3 syntax reads files with "<path"; 2.4 takes
 * plain paths in ssl_server_*_file (a "<" there would be read as file
 * contents). Dovecot's cost is per block (its config process holds each
 * block's settings), so 2.3 gets one block per set of names served by
 * the same files (pair and alt pair), the names quoted and
 * space-separated; 2.4.1 refuses several names in a block: one name per
 * block there. Exact names and wildcards never share a block, so the
 * exact blocks can come first in 2.3 (first match wins) and last in 2.4
 * (last match wins). A
 * dual-algorithm name's RSA pair goes in the alt settings; every other
 * block sets them empty, so the global alt certificate is never
 * inherited.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "name.h"
#include "store.h"
#include "util.h"

/* One block for entries ix[0..n), all served by the same files. */
static void
block(struct buf *b, const struct plan *plan, const size_t *ix, size_t n,
    const struct pair *pairs, const char *dir, enum dovecot_syntax syn)
{
	const struct plan_entry *e = &plan->e[ix[0]];
	const struct pair *p = &pairs[e->pair];
	const struct pair *alt = e->alt == PLAN_NO_ALT ? NULL : &pairs[e->alt];
	int v23 = syn == DOVECOT_23;
	char f[STORE_NAME_MAX];
	size_t i;

	if (n == 1)
		buf_addf(b, "local_name %s {\n", e->name);
	else {
		buf_adds(b, "local_name \"");
		for (i = 0; i < n; i++)
			buf_addf(b, "%s%s", i > 0 ? " " : "",
			    plan->e[ix[i]].name);
		buf_adds(b, "\" {\n");
	}
	/* One file holds the key and the full chain: both settings name it
	 * (FACTS.md). */
	store_file_name(p->lineage, f);
	buf_addf(b, "  %s = %s%s/%s\n  %s = %s%s/%s\n",
	    v23 ? "ssl_cert" : "ssl_server_cert_file", v23 ? "<" : "", dir, f,
	    v23 ? "ssl_key" : "ssl_server_key_file", v23 ? "<" : "", dir, f);
	if (alt != NULL) {
		store_file_name(alt->lineage, f);
		buf_addf(b, "  %s = %s%s/%s\n  %s = %s%s/%s\n",
		    v23 ? "ssl_alt_cert" : "ssl_server_alt_cert_file",
		    v23 ? "<" : "", dir, f,
		    v23 ? "ssl_alt_key" : "ssl_server_alt_key_file",
		    v23 ? "<" : "", dir, f);
	} else
		buf_addf(b, "  %s =\n  %s =\n",
		    v23 ? "ssl_alt_cert" : "ssl_server_alt_cert_file",
		    v23 ? "ssl_alt_key" : "ssl_server_alt_key_file");
	buf_adds(b, "}\n");
}

/* Entries are served by the same files: the same lineage's file and the
 * same alt lineage's file (or none). By lineage, not by content: the
 * include stays the same when a lineage renews. */
struct files_ctx {
	const struct plan	*plan;
	const struct pair	*pairs;
};

static int
cmp_files(const struct files_ctx *c, size_t a, size_t b)
{
	const struct plan_entry *x = &c->plan->e[a], *y = &c->plan->e[b];
	int r;

	if ((r = strcmp(c->pairs[x->pair].lineage,
	    c->pairs[y->pair].lineage)) != 0)
		return r;
	if ((x->alt == PLAN_NO_ALT) != (y->alt == PLAN_NO_ALT))
		return x->alt == PLAN_NO_ALT ? -1 : 1;
	if (x->alt == PLAN_NO_ALT)
		return 0;
	return strcmp(c->pairs[x->alt].lineage, c->pairs[y->alt].lineage);
}

/* Sorts entry indexes by (files, name order): a block's names are
 * adjacent. */
static int
cmp_by_files(const void *a, const void *b, void *arg)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = cmp_files(arg, x, y);

	if (r != 0)
		return r;
	return x < y ? -1 : x > y;
}

/* Names of one kind (wildcards or exact) in entry order; for 2.3 sorted
 * so that names served by the same files are adjacent. Returns n. */
static size_t
select_names(const struct files_ctx *c, int want_wild, int pack, size_t *ix)
{
	size_t i, n = 0;

	for (i = 0; i < c->plan->n; i++)
		if (name_is_wildcard(c->plan->e[i].name) == want_wild)
			ix[n++] = i;
	if (pack && n > 1)
		qsort_r(ix, n, sizeof(*ix), cmp_by_files, (void *)c);
	return n;
}

/* A block: ix[start..start+n), ordered by its first name, so the text
 * depends on the names and files only, not on the pairs' order. */
struct group {
	size_t	start, n, first;
};

static int
cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

char *
dovecot_render(const struct plan *plan, const struct pair *pairs,
    const char *served_dir, enum dovecot_syntax syn, size_t *len)
{
	struct buf b = { 0 };
	size_t *ix = xcalloc(plan->n + 1, sizeof(*ix));
	struct group *g = xcalloc(plan->n + 1, sizeof(*g));
	struct files_ctx fc = { plan, pairs };
	size_t i, j, n, ng;
	int pass, pack = syn == DOVECOT_23;

	buf_addf(&b, "# Written by snisync for Dovecot %s. Do not edit: "
	    "every sync replaces this file.\n# Exact names come %s "
	    "wildcards, so an exact name always gets its own certificate.\n",
	    syn == DOVECOT_23 ? "2.3" : "2.4",
	    syn == DOVECOT_23 ? "before" : "after");
	/* 2.3: first match wins -> exact first; 2.4: last match wins. */
	for (pass = 0; pass < 2; pass++) {
		int want_wild = (syn == DOVECOT_23) ? pass == 1 : pass == 0;

		n = select_names(&fc, want_wild, pack, ix);
		for (ng = 0, i = 0; i < n; i = j, ng++) {
			for (j = i + 1; pack && j < n &&
			    cmp_files(&fc, ix[i], ix[j]) == 0; j++)
				;
			g[ng].start = i;
			g[ng].n = j - i;
			g[ng].first = ix[i];
		}
		if (pack)
			qsort(g, ng, sizeof(*g), cmp_group);
		for (i = 0; i < ng; i++)
			block(&b, plan, ix + g[i].start, g[i].n, pairs,
			    served_dir, syn);
	}
	free(g);
	free(ix);
	*len = b.len;
	return b.p;
}

size_t
dovecot_blocks(const char *text, size_t len)
{
	static const char tag[] = "\nlocal_name ";
	size_t n = 0, k = sizeof(tag) - 1;
	const char *p = text, *end = text + len, *q;

	while ((q = memmem(p, (size_t)(end - p), tag, k)) != NULL) {
		n++;
		p = q + k;
	}
	return n;
}

long long
dovecot_parse_size(const char *text)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (text == NULL || *text < '0' || *text > '9')
		return 0;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return 0;
	while (*end == ' ')
		end++;
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case 'B': case '\0': case '\n': break;
	default: return 0;
	}
	if (v == 0 || v > (1ULL << 62) >> shift)
		return 0;
	return (long long)(v << shift);
}

enum dovecot_syntax
dovecot_parse_version(const char *text)
{
	int major = 0, minor = 0;

	if (text == NULL || sscanf(text, "%d.%d", &major, &minor) != 2)
		return DOVECOT_AUTO;
	if (major == 2 && minor == 3)
		return DOVECOT_23;
	if ((major == 2 && minor >= 4) || major > 2)
		return DOVECOT_24;
	return DOVECOT_AUTO;
}

/* A name of a local_name line, as a slice of the text. */
struct slice {
	const char	*p;
	size_t		 n;
};

static int
cmp_slice(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;
	int r = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	if (r != 0)
		return r;
	return x->n < y->n ? -1 : x->n > y->n;
}

size_t
dovecot_lacking(const char *text, size_t len, const struct plan *plan)
{
	static const char tag[] = "\nlocal_name ";
	const size_t k = sizeof(tag) - 1;
	const char *p = text, *end = text + len, *q, *eol;
	struct slice *v = NULL, key;
	size_t nv = 0, cap = 0, i, lacking = 0;

	while (text != NULL &&
	    (q = memmem(p, (size_t)(end - p), tag, k)) != NULL) {
		q += k;
		if ((eol = memchr(q, '\n', (size_t)(end - q))) == NULL)
			eol = end;
		/* "a b c" { or a { : names end at '"', ' ' or '{'. */
		while (q < eol && *q != '{') {
			const char *s;

			while (q < eol && (*q == ' ' || *q == '"'))
				q++;
			for (s = q; q < eol && *q != ' ' && *q != '"' &&
			    *q != '{'; q++)
				;
			if (q > s) {
				if (nv == cap) {
					cap = cap ? cap * 2 : 64;
					v = xreallocarray(v, cap, sizeof(*v));
				}
				v[nv++] = (struct slice){ s, (size_t)(q - s) };
			}
		}
		p = eol;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_slice);
	for (i = 0; i < plan->n; i++) {
		key.p = plan->e[i].name;
		key.n = strlen(key.p);
		if (nv == 0 || bsearch(&key, v, nv, sizeof(*v),
		    cmp_slice) == NULL)
			lacking++;
	}
	free(v);
	return lacking;
}

char **
dovecot_refs(const char *text, size_t len, const char *dir, size_t *n)
{
	size_t sl = strlen(dir), cap = 0, k;
	const char *p = text, *end = text + len, *q;
	char **v = NULL;

	*n = 0;
	while (text != NULL && sl > 0 &&
	    (q = memmem(p, (size_t)(end - p), dir, sl)) != NULL) {
		q += sl;
		p = q;
		if (q >= end || *q != '/' || (q > text + sl &&
		    q[-(ptrdiff_t)sl - 1] != '<' && q[-(ptrdiff_t)sl - 1] != ' '))
			continue;
		for (k = 1; q + k < end && q[k] != '\n' && q[k] != ' ' &&
		    q[k] != '/'; k++)
			;
		if (k < 6 || (q + k < end && q[k] == '/') ||
		    memcmp(q + k - 4, ".pem", 4) != 0)
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = xstrndup(q + 1, k - 1);
		p = q + k;
	}
	return v;
}

long long
dovecot_check_limit(enum dovecot_syntax syn, long long limit)
{
	if (limit <= 0)
		return 0;
	if (syn == DOVECOT_24)
		return limit > LLONG_MAX / DOVECOT24_CHECK_TIMES ? 0 :
		    limit * DOVECOT24_CHECK_TIMES;
	return limit / 100 * DOVECOT_USABLE_PCT;
}

long long
dovecot_need(enum dovecot_syntax syn, long long peak)
{
	if (syn == DOVECOT_24)
		return (DOVECOT24_BASE + peak / 100 * DOVECOT24_PER_RSS_PCT) /
		    100 * (100 + DOVECOT24_MARGIN_PCT);
	return peak / DOVECOT_USABLE_PCT * 100;
}

void
dovecot_vsz_advice(long long need, char *buf, size_t sz)
{
	long long mb = 512, need_mb = need >> 20;

	while (mb < need_mb * 3 / 2)
		mb *= 2;
	if (mb >= 1024)
		snprintf(buf, sz, "%lldG", mb / 1024);
	else
		snprintf(buf, sz, "%lldM", mb);
}
