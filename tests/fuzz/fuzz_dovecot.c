/*
 * fuzz_dovecot.c - libFuzzer target for plan_build() + dovecot_render().
 *
 * Input: byte 0 picks the store directory, byte 1 the flags (bit i: pair
 * i is a last-good pair; bit 4: pair 3 serves the same files as pair 0),
 * byte 2 two bits of notBefore per pair (ties are common on purpose),
 * then '\n'-separated records: the first byte picks one of four pairs
 * (mod 4), the rest is a name. Only names that name_normalize() accepts
 * are claimed, normalised, as cert.c hands them over (sorted, unique).
 *
 * The plan is rendered for Dovecot 2.3 and 2.4 and read back by a small
 * parser written here: '#' comment lines, then blocks
 *	local_name NAME {	(2.3 also: local_name "NAME NAME ..." {)
 *	  <cert setting> = PATH	(2.3: "ssl_cert = <PATH")
 *	  <key setting> = PATH
 *	  <alt cert setting> =
 *	  <alt key setting> =
 *	}
 * NAME and PATH must be single plain tokens (nothing Dovecot would read
 * as quoting, a variable, a block or a comment); only 2.3 may quote a
 * list of names, separated by one space, all exact or all wildcards. The
 * blocks must give back exactly the plan: each name once,
 * store/CHAIN_ID.pem and store/KEY_ID.pem of the pair that won it, and
 * an order in which the exact name wins (2.3, first match: no exact name
 * after a wildcard; 2.4, last match: no wildcard after an exact name);
 * 2.3 packs: no two blocks of the same kind name the same files. Any
 * mismatch traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "fuzz.h"
#include "name.h"
#include "plan.h"

#define NPAIRS		4
#define MAX_NAMES	512

static const char *const stores[] = {
	"/var/lib/snisync/store",
	"//store",
	"/srv/a+b@c_d-e.f/store",
};
#define NSTORES	(sizeof(stores) / sizeof(stores[0]))

struct block {
	const char	*name, *cert, *key;	/* name: the list of names */
	size_t		 namelen, certlen, keylen;
	int		 seen;		/* settings found, one bit each */
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
plain_path(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || p[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || strchr("/._-+@", p[i])))
			return 0;
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs from both ends of [*p, *p + *n). */
static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_space(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*p)[*n - 1]))
		(*n)--;
}

static int
word_is(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(p, w, n) == 0;
}

/* One name of a block's list: a name as name.h defines it, nothing
 * more. */
static void
check_name(const char *p, size_t n)
{
	char norm[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 1];

	FUZZ_CHECK(n >= 1 && n <= NAME_MAX_LEN);
	memcpy(name, p, n);
	name[n] = '\0';
	FUZZ_CHECK(name_normalize(name, n, norm) == NULL);
	FUZZ_CHECK(strcmp(norm, name) == 0);
}

/* "local_name NAME {" or (2.3) "local_name "NAME NAME" {": fills
 * b->name with the names, or traps. */
static void
parse_open(const char *l, size_t n, enum dovecot_syntax syn,
    struct block *b)
{
	size_t i = 0, start, j, k;
	int quoted;

	FUZZ_CHECK(n > 10 && memcmp(l, "local_name", 10) == 0);
	i = 10;
	FUZZ_CHECK(is_space(l[i]));
	while (i < n && is_space(l[i]))
		i++;
	quoted = i < n && l[i] == '"';
	FUZZ_CHECK(!quoted || syn == DOVECOT_23);
	if (quoted) {
		start = ++i;
		while (i < n && l[i] != '"')
			i++;
		FUZZ_CHECK(i < n);
		b->name = l + start;
		b->namelen = i - start;
		i++;
	} else {
		start = i;
		while (i < n && !is_space(l[i]))
			i++;
		b->name = l + start;
		b->namelen = i - start;
	}
	while (i < n && is_space(l[i]))
		i++;
	FUZZ_CHECK(i + 1 == n && l[i] == '{');
	/* A quoted list holds at least two names, one space apart. */
	for (j = 0, k = 0; j <= b->namelen; j++)
		if (j == b->namelen || b->name[j] == ' ') {
			check_name(b->name + k, j - k);
			k = j + 1;
		}
	FUZZ_CHECK(!quoted || memchr(b->name, ' ', b->namelen) != NULL);
}

/* One "key = value" line inside a block. */
static void
parse_setting(const char *l, size_t n, enum dovecot_syntax syn,
    struct block *b)
{
	static const char *const k23[] = { "ssl_cert", "ssl_key",
	    "ssl_alt_cert", "ssl_alt_key" };
	static const char *const k24[] = { "ssl_server_cert_file",
	    "ssl_server_key_file", "ssl_server_alt_cert_file",
	    "ssl_server_alt_key_file" };
	const char *const *keys = syn == DOVECOT_23 ? k23 : k24;
	const char *eq, *k = l, *v;
	size_t kn, vn;
	int i;

	eq = memchr(l, '=', n);
	FUZZ_CHECK(eq != NULL);
	kn = (size_t)(eq - l);
	v = eq + 1;
	vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	for (i = 0; i < 4; i++)
		if (word_is(k, kn, keys[i]))
			break;
	FUZZ_CHECK(i < 4);
	FUZZ_CHECK((b->seen & (1 << i)) == 0);
	b->seen |= 1 << i;
	if (i >= 2) {
		FUZZ_CHECK(vn == 0);	/* alt cert/key explicitly empty */
		return;
	}
	if (syn == DOVECOT_23) {
		FUZZ_CHECK(vn >= 1 && v[0] == '<');	/* read the file */
		v++;
		vn--;
	}
	FUZZ_CHECK(plain_path(v, vn));
	if (i == 0) {
		b->cert = v;
		b->certlen = vn;
	} else {
		b->key = v;
		b->keylen = vn;
	}
}

/* Reads the rendered text back into at most max blocks; traps on any
 * line it does not expect. Returns the number of blocks. */
static size_t
parse(const char *text, size_t len, enum dovecot_syntax syn,
    struct block *blocks, size_t max)
{
	const char *p = text, *end = text + len, *nl;
	size_t nb = 0;
	int inside = 0;

	FUZZ_CHECK(strlen(text) == len);
	FUZZ_CHECK(len > 0 && text[len - 1] == '\n');
	for (; p < end; p = nl + 1) {
		const char *l = p;
		size_t n;

		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)(nl - p);
		trim(&l, &n);
		if (!inside) {
			if (n == 0 || l[0] == '#')
				continue;
			FUZZ_CHECK(nb < max);
			memset(&blocks[nb], 0, sizeof(blocks[nb]));
			parse_open(l, n, syn, &blocks[nb]);
			inside = 1;
		} else if (n == 1 && l[0] == '}') {
			FUZZ_CHECK(blocks[nb].seen == 0xf);
			nb++;
			inside = 0;
		} else {
			FUZZ_CHECK(n > 0 && l[0] != '#');
			parse_setting(l, n, syn, &blocks[nb]);
		}
	}
	FUZZ_CHECK(!inside);
	return nb;
}

/* A block's kind: its first name is a wildcard (all are: checked). */
static int
name_is_wildcard_list(const struct block *b)
{
	return b->namelen >= 2 && b->name[0] == '*' && b->name[1] == '.';
}

static int
same(const char *p, size_t n, const char *store, const char *id)
{
	size_t sl = strlen(store), il = strlen(id);

	return n == sl + 1 + il + 4 && memcmp(p, store, sl) == 0 &&
	    p[sl] == '/' && memcmp(p + sl + 1, id, il) == 0 &&
	    memcmp(p + sl + 1 + il, ".pem", 4) == 0;
}

static void
check_render(const struct plan *pl, const struct pair *pairs,
    const char *store, enum dovecot_syntax syn)
{
	struct block *b;
	char *text, name[NAME_MAX_LEN + 1];
	unsigned char *seen;
	size_t len = 0, nb, i, names = 0;
	int wild_seen = 0, exact_seen = 0;

	text = dovecot_render(pl, pairs, store, syn, &len);
	FUZZ_CHECK(text != NULL);
	b = calloc(pl->n + 1, sizeof(*b));
	seen = calloc(pl->n + 1, 1);
	FUZZ_CHECK(b != NULL && seen != NULL);
	nb = parse(text, len, syn, b, pl->n);
	for (i = 0; i < nb; i++) {
		const struct plan_entry *e;
		const struct pair *p = NULL;
		size_t j, k;
		int wild = -1, w;

		for (j = 0, k = 0; j <= b[i].namelen; j++) {
			if (j < b[i].namelen && b[i].name[j] != ' ')
				continue;
			memcpy(name, b[i].name + k, j - k);
			name[j - k] = '\0';
			k = j + 1;
			e = plan_find(pl, name);
			FUZZ_CHECK(e != NULL);
			FUZZ_CHECK(!seen[e - pl->e]);	/* each name once */
			seen[e - pl->e] = 1;
			names++;
			p = &pairs[e->pair];
			FUZZ_CHECK(same(b[i].cert, b[i].certlen, store,
			    p->chain_id));
			FUZZ_CHECK(same(b[i].key, b[i].keylen, store,
			    p->key_id));
			/* A block is all wildcards or all exact names. */
			w = name_is_wildcard(name);
			FUZZ_CHECK(wild == -1 || wild == w);
			wild = w;
		}
		if (syn == DOVECOT_23)
			FUZZ_CHECK(wild || !wild_seen);
		else
			FUZZ_CHECK(!wild || !exact_seen);
		wild_seen |= wild;
		exact_seen |= !wild;
		/* 2.3 packs: an earlier block of this kind never names the
		 * same files. */
		for (j = 0; syn == DOVECOT_23 && j < i; j++)
			FUZZ_CHECK(b[j].certlen != b[i].certlen ||
			    b[j].keylen != b[i].keylen ||
			    memcmp(b[j].cert, b[i].cert, b[i].certlen) != 0 ||
			    memcmp(b[j].key, b[i].key, b[i].keylen) != 0 ||
			    name_is_wildcard_list(&b[j]) != wild);
	}
	FUZZ_CHECK(names == pl->n);
	free(seen);
	free(b);
	free(text);
}

/* Every accepted claim is in the plan, served by a pair that claims it. */
static void
check_plan(const struct plan *pl, const struct pair *pairs)
{
	size_t i, j, k;

	for (i = 0; i < pl->n; i++) {
		const struct pair *w = &pairs[pl->e[i].pair];

		FUZZ_CHECK(pl->e[i].pair < NPAIRS);
		if (i > 0)
			FUZZ_CHECK(strcmp(pl->e[i - 1].name, pl->e[i].name) < 0);
		for (k = 0; k < w->nnames; k++)
			if (strcmp(w->names[k], pl->e[i].name) == 0)
				break;
		FUZZ_CHECK(k < w->nnames);
	}
	for (i = 0; i < NPAIRS; i++)
		for (j = 0; j < pairs[i].nnames; j++)
			FUZZ_CHECK(plan_find(pl, pairs[i].names[j]) != NULL);
}

/* Sorts a pair's names and drops repeats (cert.c's promise). */
static void
sort_unique(struct pair *p)
{
	size_t i, n = 0;

	if (p->nnames == 0)
		return;
	qsort(p->names, p->nnames, sizeof(char *), cmp_str);
	for (i = 0; i < p->nnames; i++) {
		if (n > 0 && strcmp(p->names[n - 1], p->names[i]) == 0) {
			free(p->names[i]);
			continue;
		}
		p->names[n++] = p->names[i];
	}
	p->nnames = n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const lineage[NPAIRS] = { "a", "b", "c", "d" };
	struct pair pairs[NPAIRS];
	struct plan pl;
	char norm[NAME_MAX_LEN + 1];
	const char *store, *p, *end, *nl;
	size_t i, j, total = 0;

	if (size < 3)
		return 0;
	store = stores[data[0] % NSTORES];
	memset(pairs, 0, sizeof(pairs));
	for (i = 0; i < NPAIRS; i++) {
		pairs[i].lineage = (char *)lineage[i];
		pairs[i].last_good = (data[1] >> i) & 1;
		pairs[i].not_before = (data[2] >> (2 * i)) & 3;
		snprintf(pairs[i].key_id, sizeof(pairs[i].key_id),
		    "%064zx", 0xa0 + i);
		snprintf(pairs[i].chain_id, sizeof(pairs[i].chain_id),
		    "%064zx", 0xc0 + i);
		pairs[i].names = calloc(MAX_NAMES, sizeof(char *));
		FUZZ_CHECK(pairs[i].names != NULL);
	}
	if (data[1] & 0x10) {
		memcpy(pairs[3].key_id, pairs[0].key_id, 65);
		memcpy(pairs[3].chain_id, pairs[0].chain_id, 65);
	}
	p = (const char *)data + 3;
	end = (const char *)data + size;
	for (; p < end && total < MAX_NAMES; p = nl + 1) {
		struct pair *pr;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl - p < 2)
			continue;
		if (name_normalize(p + 1, (size_t)(nl - p - 1), norm) != NULL)
			continue;
		pr = &pairs[(unsigned char)p[0] % NPAIRS];
		pr->names[pr->nnames] = strdup(norm);
		FUZZ_CHECK(pr->names[pr->nnames] != NULL);
		pr->nnames++;
		total++;
	}
	for (i = 0; i < NPAIRS; i++)
		sort_unique(&pairs[i]);

	plan_build(pairs, NPAIRS, &pl);
	check_plan(&pl, pairs);
	check_render(&pl, pairs, store, DOVECOT_23);
	check_render(&pl, pairs, store, DOVECOT_24);
	plan_free(&pl);
	for (i = 0; i < NPAIRS; i++) {
		for (j = 0; j < pairs[i].nnames; j++)
			free(pairs[i].names[j]);
		free(pairs[i].names);
	}
	return 0;
}
