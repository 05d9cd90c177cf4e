/*
 * fuzz_dovecot.c - libFuzzer target for plan_build() + dovecot_render().
 *
 * Input: byte 0 picks the served directory, byte 1 the flags (bit i:
 * pair i is a last-good pair; bit 4: pair 3 holds the same key and chain
 * as pair 0, yet has a file of its own: files go by lineage; bits 5-7:
 * the pairs' key types, one row of algs[]), byte 2 two bits of notBefore
 * per pair (ties are common on purpose), then '\n'-separated records:
 * the first byte picks one of four pairs (mod 4); below 0x80 the rest is
 * a name, from 0x80 on it is the pair's lineage name, any bytes (up to a
 * NUL), unless another pair has it (lineages are directories: unique).
 * Two of the default lineage names already take store_file_name()'s
 * hashed form. Only names that name_normalize() accepts are claimed,
 * normalised, as cert.c hands them over (sorted, unique).
 *
 * The plan is rendered for Dovecot 2.3 and 2.4 and read back by a small
 * parser written here: '#' comment lines, then blocks
 *	local_name NAME {	(2.3 also: local_name "NAME NAME ..." {)
 *	  <cert setting> = PATH	(2.3: "ssl_cert = <PATH")
 *	  <key setting> = PATH
 *	  <alt cert setting> = PATH, or nothing
 *	  <alt key setting> = PATH, or nothing
 *	}
 * NAME and PATH must be single plain tokens (nothing Dovecot would read
 * as quoting, a variable, a block or a comment): PATH is the served
 * directory, "/" and a file name of [A-Za-z0-9._~-] only. Only 2.3 may
 * quote a list of names, separated by one space, all exact or all
 * wildcards. The blocks must give back exactly the plan: each name once;
 * cert and key both SERVED/store_file_name(lineage) of the pair that won
 * it, the alt settings that of its alt pair (or empty when it has none);
 * and an order in which the exact name wins (2.3, first match: no exact
 * name after a wildcard; 2.4, last match: no wildcard after an exact
 * name). 2.3 packs: no two blocks of the same kind name the same files
 * (lineage and alt lineage). The text must stay the same when every pair
 * renews (new key, chain, serial), and dovecot_refs(), dovecot_blocks()
 * and dovecot_lacking() must read it back as the plan. Any mismatch
 * traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "fuzz.h"
#include "name.h"
#include "plan.h"
#include "store.h"

#define NPAIRS		4
#define MAX_NAMES	512
#define KEPT		200	/* lineage characters a file name keeps
				   (store.h) */
#define LINEAGE_MAX	300	/* room past that cut */

static const char *const served_dirs[] = {
	"/var/lib/snisync/served",
	"//served",
	"/srv/a+b@c_d-e.f/served",
};
#define NSERVED	(sizeof(served_dirs) / sizeof(served_dirs[0]))

/* Default lineage names: plain ones, and two that store_file_name()
 * must hash (':' and '%' are not kept). */
static const char *const lineages[NPAIRS] = {
	"a.test", "b", "mail:example.com", "100%",
};

/* Key types per pair (pair_alg() reads the prefix; "" is "other"). Row 0
 * is one class: no alt pair; the others mix ECDSA, RSA and Ed25519 so
 * that names get alt pairs, and lose them to another class. */
static const char *const algs[8][NPAIRS] = {
	{ "", "", "", "" },
	{ "ECDSA P-256", "RSA 2048", "", "" },
	{ "ECDSA P-256", "RSA 2048", "ECDSA P-384", "RSA 4096" },
	{ "RSA 2048", "ECDSA P-256", "Ed25519", "ECDSA P-384" },
	{ "ECDSA P-256", "Ed25519", "RSA 3072", "RSA 2048" },
	{ "Ed25519", "RSA 2048", "ECDSA P-256", "Ed25519" },
	{ "RSA 2048", "RSA 4096", "ECDSA P-256", "" },
	{ "ECDSA P-256", "ECDSA P-384", "ECDSA P-521", "RSA 2048" },
};

/* Settings of a block, in the order k23[] and k24[] name them. */
#define S_CERT		0
#define S_KEY		1
#define S_ALT_CERT	2
#define S_ALT_KEY	3
#define NSETTINGS	4

struct block {
	const char	*name;		/* the list of names */
	size_t		 namelen;
	const char	*path[NSETTINGS];	/* NULL: empty */
	size_t		 pathlen[NSETTINGS];
	int		 order[NSETTINGS];	/* settings in text order */
	int		 seen;		/* settings found, one bit each */
	int		 nseen;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A served file name's characters (store.h): nothing a Dovecot line
 * would read as more than part of a path. */
static int
file_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
	    c == '-';
}

static int
hex_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* served "/" then one file name: no more directories, nothing but
 * file_char() after the served directory. */
static int
plain_path(const char *p, size_t n, const char *served)
{
	size_t sl = strlen(served), i;

	if (n < sl + 2 || memcmp(p, served, sl) != 0 || p[sl] != '/')
		return 0;
	for (i = sl + 1; i < n; i++)
		if (!file_char((unsigned char)p[i]))
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
    const char *served, struct block *b)
{
	static const char *const k23[NSETTINGS] = { "ssl_cert", "ssl_key",
	    "ssl_alt_cert", "ssl_alt_key" };
	static const char *const k24[NSETTINGS] = { "ssl_server_cert_file",
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
	for (i = 0; i < NSETTINGS; i++)
		if (word_is(k, kn, keys[i]))
			break;
	FUZZ_CHECK(i < NSETTINGS);
	FUZZ_CHECK((b->seen & (1 << i)) == 0);
	b->seen |= 1 << i;
	b->order[b->nseen++] = i;
	/* Only the alt settings may be empty, and then explicitly so: no
	 * global alt certificate is inherited. */
	if (vn == 0) {
		FUZZ_CHECK(i == S_ALT_CERT || i == S_ALT_KEY);
		return;
	}
	if (syn == DOVECOT_23) {
		FUZZ_CHECK(v[0] == '<');	/* read the file */
		v++;
		vn--;
	}
	FUZZ_CHECK(plain_path(v, vn, served));
	b->path[i] = v;
	b->pathlen[i] = vn;
}

/* Reads the rendered text back into at most max blocks; traps on any
 * line it does not expect. Returns the number of blocks. */
static size_t
parse(const char *text, size_t len, enum dovecot_syntax syn,
    const char *served, struct block *blocks, size_t max)
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
			/* The alt cert and key come as a pair or not at
			 * all. */
			FUZZ_CHECK((blocks[nb].path[S_ALT_CERT] == NULL) ==
			    (blocks[nb].path[S_ALT_KEY] == NULL));
			nb++;
			inside = 0;
		} else {
			FUZZ_CHECK(n > 0 && l[0] != '#');
			parse_setting(l, n, syn, served, &blocks[nb]);
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

/* p is served "/" file. */
static int
is_file(const char *p, size_t n, const char *served, const char *file)
{
	size_t sl = strlen(served), fl = strlen(file);

	return p != NULL && n == sl + 1 + fl && memcmp(p, served, sl) == 0 &&
	    p[sl] == '/' && memcmp(p + sl + 1, file, fl) == 0;
}

/* Two settings name the same file, or are both empty. */
static int
same_path(const struct block *x, const struct block *y, int s)
{
	if (x->path[s] == NULL || y->path[s] == NULL)
		return x->path[s] == y->path[s];
	return x->pathlen[s] == y->pathlen[s] &&
	    memcmp(x->path[s], y->path[s], x->pathlen[s]) == 0;
}

/*
 * The served file names of the pairs' lineages, as store.h promises
 * them: file_char() only, not hidden, ".pem", the lineage itself when it
 * is plain, else "~" and 16 hex digits before ".pem"; and one file per
 * lineage, without which 2.3 would pack names of different lineages into
 * one block.
 */
static void
file_names(const struct pair *pairs, char files[NPAIRS][STORE_NAME_MAX])
{
	size_t i, j, n, fl;
	int plain;

	for (i = 0; i < NPAIRS; i++) {
		store_file_name(pairs[i].lineage, files[i]);
		n = strlen(pairs[i].lineage);
		fl = strnlen(files[i], STORE_NAME_MAX);
		FUZZ_CHECK(fl > 4 && fl < STORE_NAME_MAX);
		FUZZ_CHECK(files[i][0] != '.');
		FUZZ_CHECK(strcmp(files[i] + fl - 4, ".pem") == 0);
		for (j = 0; j < fl; j++)
			FUZZ_CHECK(file_char((unsigned char)files[i][j]));
		/* '~' is a file name character, never a kept lineage
		 * one: a plain name cannot look hashed. */
		plain = n > 0 && n <= KEPT && pairs[i].lineage[0] != '.';
		for (j = 0; plain && j < n; j++)
			plain = pairs[i].lineage[j] != '~' &&
			    file_char((unsigned char)pairs[i].lineage[j]);
		if (plain) {
			FUZZ_CHECK(fl == n + 4);
			FUZZ_CHECK(memcmp(files[i], pairs[i].lineage, n) == 0);
		} else {
			FUZZ_CHECK(fl == (n < KEPT ? n : KEPT) + 21);
			FUZZ_CHECK(files[i][fl - 21] == '~');
			for (j = fl - 20; j < fl - 4; j++)
				FUZZ_CHECK(hex_char((unsigned char)files[i][j]));
		}
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(files[j], files[i]) != 0);
	}
}

/* dovecot_refs() finds the files the blocks name, in text order. */
static void
check_refs(const char *text, size_t len, const char *served,
    const struct block *b, size_t nb)
{
	char **refs;
	size_t nr, r = 0, i, sl = strlen(served);
	int k, s;

	refs = dovecot_refs(text, len, served, &nr);
	for (i = 0; i < nb; i++)
		for (k = 0; k < b[i].nseen; k++) {
			s = b[i].order[k];
			if (b[i].path[s] == NULL)
				continue;
			FUZZ_CHECK(r < nr);
			FUZZ_CHECK(strlen(refs[r]) == b[i].pathlen[s] - sl - 1);
			FUZZ_CHECK(memcmp(refs[r], b[i].path[s] + sl + 1,
			    b[i].pathlen[s] - sl - 1) == 0);
			r++;
		}
	FUZZ_CHECK(r == nr);
	for (r = 0; r < nr; r++)
		free(refs[r]);
	free(refs);
}

static void
check_render(const struct plan *pl, const struct pair *pairs,
    const char *served, enum dovecot_syntax syn)
{
	struct pair renewed[NPAIRS];
	struct block *b;
	char files[NPAIRS][STORE_NAME_MAX];
	char *text, *again, name[NAME_MAX_LEN + 1];
	unsigned char *seen;
	size_t len = 0, againlen = 0, nb, i, names = 0;
	int wild_seen = 0, exact_seen = 0;

	file_names(pairs, files);
	text = dovecot_render(pl, pairs, served, syn, &len);
	FUZZ_CHECK(text != NULL);
	b = calloc(pl->n + 1, sizeof(*b));
	seen = calloc(pl->n + 1, 1);
	FUZZ_CHECK(b != NULL && seen != NULL);
	nb = parse(text, len, syn, served, b, pl->n);
	for (i = 0; i < nb; i++) {
		const struct plan_entry *e;
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
			/* One file holds key and chain: both name it. */
			FUZZ_CHECK(is_file(b[i].path[S_CERT],
			    b[i].pathlen[S_CERT], served, files[e->pair]));
			FUZZ_CHECK(is_file(b[i].path[S_KEY],
			    b[i].pathlen[S_KEY], served, files[e->pair]));
			if (e->alt == PLAN_NO_ALT)
				FUZZ_CHECK(b[i].path[S_ALT_CERT] == NULL);
			else {
				FUZZ_CHECK(is_file(b[i].path[S_ALT_CERT],
				    b[i].pathlen[S_ALT_CERT], served,
				    files[e->alt]));
				FUZZ_CHECK(is_file(b[i].path[S_ALT_KEY],
				    b[i].pathlen[S_ALT_KEY], served,
				    files[e->alt]));
			}
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
		 * same files (its names would belong here). */
		for (j = 0; syn == DOVECOT_23 && j < i; j++)
			FUZZ_CHECK(!same_path(&b[j], &b[i], S_CERT) ||
			    !same_path(&b[j], &b[i], S_ALT_CERT) ||
			    name_is_wildcard_list(&b[j]) != wild);
	}
	FUZZ_CHECK(names == pl->n);
	FUZZ_CHECK(dovecot_blocks(text, len) == nb);
	FUZZ_CHECK(dovecot_lacking(text, len, pl) == 0);
	check_refs(text, len, served, b, nb);

	/* A renewal changes a pair's bytes, not its lineage: the include
	 * must not change (Dovecot is not reloaded for it). */
	memcpy(renewed, pairs, sizeof(renewed));
	for (i = 0; i < NPAIRS; i++) {
		snprintf(renewed[i].key_id, sizeof(renewed[i].key_id),
		    "%064zx", 0xe0 + i);
		snprintf(renewed[i].chain_id, sizeof(renewed[i].chain_id),
		    "%064zx", 0xf0 + i);
		snprintf(renewed[i].serial, sizeof(renewed[i].serial),
		    "%zx", 0x100 + i);
	}
	again = dovecot_render(pl, renewed, served, syn, &againlen);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(againlen == len && memcmp(again, text, len) == 0);
	free(again);
	free(seen);
	free(b);
	free(text);
}

/* 1 when pair w claims name. */
static int
claims(const struct pair *w, const char *name)
{
	size_t k;

	for (k = 0; k < w->nnames; k++)
		if (strcmp(w->names[k], name) == 0)
			return 1;
	return 0;
}

/* Every accepted claim is in the plan, served by a pair that claims it;
 * an alt pair is an RSA pair claiming it beside an ECDSA pair. */
static void
check_plan(const struct plan *pl, const struct pair *pairs)
{
	size_t i, j;

	for (i = 0; i < pl->n; i++) {
		const struct plan_entry *e = &pl->e[i];

		FUZZ_CHECK(e->pair < NPAIRS);
		if (i > 0)
			FUZZ_CHECK(strcmp(pl->e[i - 1].name, e->name) < 0);
		FUZZ_CHECK(claims(&pairs[e->pair], e->name));
		if (e->alt == PLAN_NO_ALT)
			continue;
		FUZZ_CHECK(e->alt < NPAIRS && e->alt != e->pair);
		FUZZ_CHECK(claims(&pairs[e->alt], e->name));
		FUZZ_CHECK(pair_alg(&pairs[e->pair]) == PAIR_ALG_ECDSA);
		FUZZ_CHECK(pair_alg(&pairs[e->alt]) == PAIR_ALG_RSA);
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

/* A lineage record: pair pr's lineage becomes [p, p + n) up to a NUL,
 * unless that is empty or another pair's (certbot's lineages are
 * directory names: never empty, never two alike). */
static void
set_lineage(char lin[NPAIRS][LINEAGE_MAX], size_t pr, const char *p,
    size_t n)
{
	char l[LINEAGE_MAX];
	size_t i;

	if (n > LINEAGE_MAX - 1)
		n = LINEAGE_MAX - 1;
	memcpy(l, p, n);
	l[n] = '\0';
	if (l[0] == '\0')
		return;
	for (i = 0; i < NPAIRS; i++)
		if (i != pr && strcmp(lin[i], l) == 0)
			return;
	memcpy(lin[pr], l, n + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char lin[NPAIRS][LINEAGE_MAX];
	struct pair pairs[NPAIRS];
	struct plan pl;
	char norm[NAME_MAX_LEN + 1];
	const char *served, *p, *end, *nl;
	size_t i, j, total = 0;

	if (size < 3)
		return 0;
	served = served_dirs[data[0] % NSERVED];
	memset(pairs, 0, sizeof(pairs));
	for (i = 0; i < NPAIRS; i++) {
		snprintf(lin[i], sizeof(lin[i]), "%s", lineages[i]);
		pairs[i].lineage = lin[i];
		pairs[i].last_good = (data[1] >> i) & 1;
		pairs[i].not_before = (data[2] >> (2 * i)) & 3;
		snprintf(pairs[i].key_desc, sizeof(pairs[i].key_desc), "%s",
		    algs[data[1] >> 5][i]);
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
		size_t k;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl - p < 2)
			continue;
		k = (unsigned char)p[0] % NPAIRS;
		if ((unsigned char)p[0] >= 0x80) {
			set_lineage(lin, k, p + 1, (size_t)(nl - p - 1));
			continue;
		}
		if (name_normalize(p + 1, (size_t)(nl - p - 1), norm) != NULL)
			continue;
		pr = &pairs[k];
		pr->names[pr->nnames] = strdup(norm);
		FUZZ_CHECK(pr->names[pr->nnames] != NULL);
		pr->nnames++;
		total++;
	}
	for (i = 0; i < NPAIRS; i++)
		sort_unique(&pairs[i]);

	plan_build(pairs, NPAIRS, &pl);
	check_plan(&pl, pairs);
	check_render(&pl, pairs, served, DOVECOT_23);
	check_render(&pl, pairs, served, DOVECOT_24);
	plan_free(&pl);
	for (i = 0; i < NPAIRS; i++) {
		for (j = 0; j < pairs[i].nnames; j++)
			free(pairs[i].names[j]);
		free(pairs[i].names);
	}
	return 0;
}
