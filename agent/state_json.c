/*
 * state_json.c - the one-time import of a snisync 0.1 state.json
 * (formats 1 and 2) into a struct state (state_json_load(),
 * state_json.h);
 * with conf.c and report.c, one of the three files that include
 * <jansson.h>.
 *
 * migrate.c calls it when state_dir has no database yet, saves what it
 * read into the database and then keeps the file as state.json.old:
 * this file only reads (at most 64 MiB, through fsio_read()); it never
 * writes, renames or removes anything. It trusts nothing in the file: a
 * pair without a lineage, or whose store ids are not 64 hex digits, is
 * left out, as are an error without a lineage or a message, a hold
 * whose key is not 64 hex digits and a failure count that is not a
 * positive integer; a missing number reads as 0. A file that jansson
 * cannot parse, or of another format, is logged and read as an empty
 * state (everything is rebuilt); only a file that exists and cannot be
 * read is -1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fsio.h"
#include "log.h"
#include "plan.h"
#include "state.h"
#include "state_json.h"
#include "util.h"

static void
id_from_json(json_t *o, struct fsio_id *id)
{
	id->dev = (unsigned long long)json_integer_value(
	    json_object_get(o, "dev"));
	id->ino = (unsigned long long)json_integer_value(
	    json_object_get(o, "ino"));
	id->size = (unsigned long long)json_integer_value(
	    json_object_get(o, "size"));
	id->mtime_ns = json_integer_value(json_object_get(o, "mtime_ns"));
}

/* What both state formats hold alike: lineage, store ids, names. */
static int
pair_head(struct pair *p, const char *lineage, const char *key,
    const char *chain, json_t *names)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	if (lineage == NULL || key == NULL || chain == NULL ||
	    !json_is_array(names) || !util_hex64_ok(key) ||
	    !util_hex64_ok(chain))
		return -1;
	p->lineage = xstrdup(lineage);
	memcpy(p->key_id, key, 65);
	memcpy(p->chain_id, chain, 65);
	p->names = xcalloc(json_array_size(names) + 1, sizeof(char *));
	for (i = 0; i < json_array_size(names); i++) {
		const char *n = json_string_value(json_array_get(names, i));

		if (n != NULL)
			p->names[p->nnames++] = xstrdup(n);
	}
	return 0;
}

static int
pair_from_json(json_t *o, struct pair *p)
{
	json_t *names = json_object_get(o, "names");
	const char *lineage = json_string_value(json_object_get(o, "lineage"));
	const char *key = json_string_value(json_object_get(o, "key"));
	const char *chain = json_string_value(json_object_get(o, "chain"));
	json_t *src;

	if (pair_head(p, lineage, key, chain, names) == -1)
		return -1;
	p->not_before = json_integer_value(json_object_get(o, "not_before"));
	p->not_after = json_integer_value(json_object_get(o, "not_after"));
	snprintf(p->key_desc, sizeof(p->key_desc), "%s",
	    json_string_value(json_object_get(o, "key_type")) ?: "");
	snprintf(p->serial, sizeof(p->serial), "%s",
	    json_string_value(json_object_get(o, "serial")) ?: "");
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%s",
	    json_string_value(json_object_get(o, "fingerprint")) ?: "");
	p->last_good = json_is_true(json_object_get(o, "last_good"));
	p->since = json_integer_value(json_object_get(o, "since"));
	src = json_object_get(o, "source");
	if (json_is_object(src) &&
	    json_string_value(json_object_get(src, "key")) != NULL &&
	    json_string_value(json_object_get(src, "chain")) != NULL) {
		p->src_key = xstrdup(json_string_value(json_object_get(src,
		    "key")));
		p->src_chain = xstrdup(json_string_value(json_object_get(src,
		    "chain")));
		id_from_json(json_object_get(src, "key_id"), &p->src_key_id);
		id_from_json(json_object_get(src, "chain_id"),
		    &p->src_chain_id);
	}
	return 0;
}

static void
id_from_array(json_t *a, struct fsio_id *id)
{
	id->dev = (unsigned long long)json_integer_value(json_array_get(a, 0));
	id->ino = (unsigned long long)json_integer_value(json_array_get(a, 1));
	id->size = (unsigned long long)json_integer_value(json_array_get(a, 2));
	id->mtime_ns = json_integer_value(json_array_get(a, 3));
}

/* Format 2: the array w_pair() writes. */
static int
pair_from_array(json_t *a, struct pair *p)
{
	const char *lineage = json_string_value(json_array_get(a, 0));
	const char *key = json_string_value(json_array_get(a, 1));
	const char *chain = json_string_value(json_array_get(a, 2));
	const char *sk = json_string_value(json_array_get(a, 11));
	const char *sc = json_string_value(json_array_get(a, 13));
	json_t *names = json_array_get(a, 3);

	memset(p, 0, sizeof(*p));
	if ((json_array_size(a) != 15 && json_array_size(a) != 16) ||
	    pair_head(p, lineage, key, chain, names) == -1)
		return -1;
	p->not_before = json_integer_value(json_array_get(a, 4));
	p->not_after = json_integer_value(json_array_get(a, 5));
	snprintf(p->key_desc, sizeof(p->key_desc), "%s",
	    json_string_value(json_array_get(a, 6)) ?: "");
	snprintf(p->serial, sizeof(p->serial), "%s",
	    json_string_value(json_array_get(a, 7)) ?: "");
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%s",
	    json_string_value(json_array_get(a, 8)) ?: "");
	p->last_good = json_is_true(json_array_get(a, 9));
	p->since = json_integer_value(json_array_get(a, 10));
	p->key_since = json_integer_value(json_array_get(a, 15));
	if (sk != NULL && sc != NULL) {
		p->src_key = xstrdup(sk);
		p->src_chain = xstrdup(sc);
		id_from_array(json_array_get(a, 12), &p->src_key_id);
		id_from_array(json_array_get(a, 14), &p->src_chain_id);
	}
	return 0;
}

static int
cmp_count(const void *a, const void *b)
{
	return strcmp(((const struct lineage_count *)a)->lineage,
	    ((const struct lineage_count *)b)->lineage);
}

static void
counts_from_json(json_t *o, struct state *st)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return;
	st->counts = xcalloc(json_object_size(o) + 1, sizeof(*st->counts));
	json_object_foreach(o, k, v)
		if (json_is_integer(v) && json_integer_value(v) > 0)
			st->counts[st->ncounts++] = (struct lineage_count){
			    xstrdup(k), json_integer_value(v) };
	qsort(st->counts, st->ncounts, sizeof(*st->counts), cmp_count);
}

static void
holds_from_json(json_t *a, struct state *st)
{
	json_t *h;
	size_t i;

	st->holds = xcalloc(json_array_size(a) + 1, sizeof(*st->holds));
	json_array_foreach(a, i, h) {
		const char *l = json_string_value(json_object_get(h, "lineage"));
		const char *k = json_string_value(json_object_get(h, "key"));
		const char *sn = json_string_value(json_object_get(h, "serial"));
		const char *sp = json_string_value(json_object_get(h, "spki"));
		struct state_hold *sh;

		if (l == NULL || k == NULL || !util_hex64_ok(k))
			continue;
		sh = &st->holds[st->nholds++];
		sh->lineage = xstrdup(l);
		memcpy(sh->key_id, k, 65);
		snprintf(sh->serial, sizeof(sh->serial), "%s", sn ? sn : "");
		snprintf(sh->spki, sizeof(sh->spki), "%s", sp ? sp : "");
		sh->since = json_integer_value(json_object_get(h, "since"));
	}
}

static void
svc_from_json(json_t *o, struct state *st)
{
	int i;

	for (i = 0; i < 2; i++) {
		json_t *s = json_object_get(o, state_svc_names[i]);

		st->svc[i].reloads = json_integer_value(json_object_get(s,
		    "total"));
		st->svc[i].failures = json_integer_value(json_object_get(s,
		    "failed"));
		st->svc[i].last_reload = json_integer_value(json_object_get(s,
		    "last"));
	}
}

static long long
jint(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v < 0 ? 0 : (long long)v;
}

static void
dovecot_from_json(json_t *o, struct dovecot_state *d)
{
	const char *h = json_string_value(json_object_get(o, "held"));
	int i;

	d->blocks = (size_t)jint(o, "blocks");
	d->need = jint(o, "need");
	d->limit = jint(o, "limit");
	d->measured = jint(o, "measured");
	for (i = 1; h != NULL && i < DOVECOT_HOLD__MAX; i++)
		if (strcmp(h, state_hold_name((enum dovecot_hold)i)) == 0)
			d->held = (enum dovecot_hold)i;
	if (d->held == DOVECOT_HOLD_NONE)
		return;
	d->held_since = jint(o, "held_since");
	d->held_limit = jint(o, "held_limit");
	d->held_blocks = (size_t)jint(o, "held_blocks");
	d->lacking = (size_t)jint(o, "lacking");
}

int
state_json_load(const char *path, struct state *st)
{
	unsigned char *text = NULL;
	json_error_t jerr;
	json_t *root, *arr, *lm;
	char why[256];
	size_t len, i;
	json_int_t format;

	memset(st, 0, sizeof(*st));
	if (fsio_read(path, 64 * 1024 * 1024, &text, &len, NULL, why,
	    sizeof(why)) == -1) {
		struct stat sb;

		if (lstat(path, &sb) == -1 && errno == ENOENT)
			return 0;
		log_err("%s: %s", log_esc(path), why);
		return -1;
	}
	root = json_loadb((const char *)text, len, 0, &jerr);
	free(text);
	format = root ? json_integer_value(json_object_get(root, "format")) : 0;
	if (format != 1 && format != 2) {
		log_warn("%s: unreadable state (%s); rebuilding everything",
		    log_esc(path), root ? "unknown format" :
		    log_esc(jerr.text));
		json_decref(root);
		return 0;
	}
	arr = json_object_get(root, "pairs");
	st->pairs = xcalloc(json_array_size(arr) + 1, sizeof(*st->pairs));
	for (i = 0; i < json_array_size(arr); i++)
		if ((format == 2 ? pair_from_array : pair_from_json)(
		    json_array_get(arr, i), &st->pairs[st->n]) == 0)
			st->n++;
	arr = json_object_get(root, "errors");
	st->errs = xcalloc(json_array_size(arr) + 1, sizeof(*st->errs));
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		const char *l = json_string_value(json_object_get(e, "lineage"));
		const char *f = json_string_value(json_object_get(e, "file"));
		const char *m = json_string_value(json_object_get(e, "error"));

		if (l == NULL || m == NULL)
			continue;
		st->errs[st->nerrs++] = (struct state_error){ xstrdup(l),
		    f ? xstrdup(f) : NULL, xstrdup(m),
		    json_integer_value(json_object_get(e, "since")) };
	}
	counts_from_json(json_object_get(root, "error_counts"), st);
	holds_from_json(json_object_get(root, "holds"), st);
	svc_from_json(json_object_get(root, "reloads"), st);
	lm = json_object_get(root, "reload_pending");
	st->reload_pending[0] = json_is_true(json_object_get(lm, "postfix"));
	st->reload_pending[1] = json_is_true(json_object_get(lm, "dovecot"));
	dovecot_from_json(json_object_get(root, "dovecot"), &st->dovecot);
	lm = json_object_get(root, "postfix_lmdb");
	if (json_is_object(lm)) {
		st->have_lmdb = 1;
		id_from_json(lm, &st->lmdb);
	}
	json_decref(root);
	return 0;
}
