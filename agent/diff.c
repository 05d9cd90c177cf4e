/*
 * diff.c - what a run changes against the applied state: this run's plan
 * against the applied one.
 *
 * diff_names() logs each pair of a name that is added, removed or served
 * from other files (prints it, --dry-run), and once per lineage that now
 * serves another key the DANE notice; plan_stage() picks the pairs whose
 * served files this run writes. Pure but for asking whether a served
 * file is on disk; writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"
#include "util.h"
#include "work.h"

static int
rejected(struct work *w, const char *lineage)
{
	size_t i;

	for (i = 0; i < w->nerrs; i++)
		if (strcmp(w->errs[i].lineage, lineage) == 0)
			return 1;
	return 0;
}

/* Names whose lineage now serves another key, by lineage. */
struct key_change {
	const char	*lineage;
	const char	*name;		/* the first */
	size_t		 n;
};

static void
note_key(struct key_change **kc, size_t *n, const char *lineage,
    const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*kc)[i].lineage, lineage) == 0) {
			(*kc)[i].n++;
			return;
		}
	*kc = xreallocarray(*kc, *n + 1, sizeof(**kc));
	(*kc)[(*n)++] = (struct key_change){ lineage, name, 1 };
}

/* 1 when the old and the new entry serve the same files (alt too). */
int
entry_same_files(const struct work *w, const struct plan_entry *oe,
    const struct plan_entry *e)
{
	if ((oe->alt == PLAN_NO_ALT) != (e->alt == PLAN_NO_ALT) ||
	    !pair_same_files(&w->old.pairs[oe->pair], &w->pairs[e->pair]))
		return 0;
	return e->alt == PLAN_NO_ALT ||
	    pair_same_files(&w->old.pairs[oe->alt], &w->pairs[e->alt]);
}

/* What diff_names() is collecting. */
struct diff {
	int			 print;
	size_t			 changes;
	struct key_change	*kc;
	size_t			 nkc;
};

/*
 * One pair of a name that changes: op the old one (NULL: added), np the
 * new one (NULL: removed). Prints (dry run) or logs the line.
 */
static void
diff_pair(struct work *w, struct diff *d, const char *name,
    const struct pair *op, const struct pair *np)
{
	char line[1024];

	if (op == NULL && np == NULL)
		return;
	if (op == NULL)
		snprintf(line, sizeof(line), "+ %s: lineage %s "
		    "(serial %s, %s, expires %s)", name, log_esc(np->lineage),
		    np->serial, np->key_desc, fmt_utc(np->not_after));
	else if (np == NULL)
		snprintf(line, sizeof(line), "- %s: lineage %s %s", name,
		    log_esc(op->lineage), rejected(w, op->lineage) ?
		    "rejected, last good pair expired or unavailable" :
		    in_scan(w, op->lineage) ? "no longer names it" :
		    "deleted");
	else if (pair_same_files(op, np))
		return;
	else {
		if (strcmp(op->lineage, np->lineage) != 0)
			snprintf(line, sizeof(line), "~ %s: moves from lineage "
			    "%s to lineage %s (serial %s)", name,
			    log_esc(op->lineage), log_esc(np->lineage),
			    np->serial);
		else
			snprintf(line, sizeof(line), "~ %s: lineage %s renewed "
			    "(serial %s -> %s)", name, log_esc(np->lineage),
			    op->serial, np->serial);
		if (!d->print && strcmp(op->key_id, np->key_id) != 0)
			note_key(&d->kc, &d->nkc, np->lineage, name);
	}
	d->changes++;
	if (d->print)
		printf("%s\n", line);
	else
		log_info("%s", line);
}

/*
 * One name: a name served by one pair before and after compares those
 * two (a renewal that changes the key type is "renewed"); when either
 * side serves two (ECDSA and RSA), pairs are compared by key algorithm.
 */
static void
diff_entry(struct work *w, struct diff *d, const char *name,
    const struct plan_entry *oe, const struct plan_entry *e)
{
	const struct pair *o[2] = { NULL, NULL }, *n[2] = { NULL, NULL };
	size_t ix[2], no = 0, nn = 0, k;
	int a;

	if (oe != NULL)
		for (no = plan_entry_pairs(oe, ix), k = 0; k < no; k++)
			o[k] = &w->old.pairs[ix[k]];
	if (e != NULL)
		for (nn = plan_entry_pairs(e, ix), k = 0; k < nn; k++)
			n[k] = &w->pairs[ix[k]];
	if (no < 2 && nn < 2) {
		diff_pair(w, d, name, o[0], n[0]);
		return;
	}
	for (a = 0; a < PAIR_ALG__MAX; a++) {
		const struct pair *op = NULL, *np = NULL;

		for (k = 0; k < 2; k++) {
			if (o[k] != NULL && (int)pair_alg(o[k]) == a)
				op = o[k];
			if (n[k] != NULL && (int)pair_alg(n[k]) == a)
				np = n[k];
		}
		diff_pair(w, d, name, op, np);
	}
}

/* Prints (dry run) or logs each name that changes; returns how many
 * pairs of names change. */
size_t
diff_names(struct work *w, int print)
{
	struct diff d = { print, 0, NULL, 0 };
	const struct plan *a = &w->oldplan, *b = &w->plan;
	size_t i = 0, j = 0;
	char line[64];

	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 :
		    strcmp(a->e[i].name, b->e[j].name);

		diff_entry(w, &d, c <= 0 ? a->e[i].name : b->e[j].name,
		    c <= 0 ? &a->e[i] : NULL, c >= 0 ? &b->e[j] : NULL);
		i += c <= 0;
		j += c >= 0;
	}
	/* One DANE notice per lineage whose key changed. */
	for (i = 0; i < d.nkc; i++) {
		const struct key_change *k = &d.kc[i];

		if (k->n > 1)
			snprintf(line, sizeof(line), " and %zu more", k->n - 1);
		log_warn("lineage %s: served with a new key for %s%s: DANE "
		    "TLSA 3 1 1 records that pin the old key no longer match "
		    "(`snisync tlsa %s` prints the new ones; certbot "
		    "--reuse-key keeps a key)", log_esc(k->lineage),
		    k->name, k->n > 1 ? line : "", k->name);
	}
	free(d.kc);
	return d.changes;
}

/* Whether p's served file must be written: its lineage applied no pair
 * or another one before, or the file is missing. Only lineages this run
 * looked at (the others are as they were applied), except on a host
 * that still has the legacy store. */
static int
needs_file(struct work *w, const struct pair *p)
{
	const struct pair *op;

	if (!in_scan(w, p->lineage) && w->legacy == NULL)
		return 0;	/* upgraded: every pair gets its file */
	op = old_pair(w, p->lineage);
	return op == NULL || !pair_same_files(op, p) ||
	    !served_has(w, p->lineage);
}

/* The pairs whose served files this run writes, into w->stage; how many
 * of them serve a name (the others' files are named by no output: no
 * reload for them). */
size_t
plan_stage(struct work *w)
{
	unsigned char *named = xcalloc(w->npairs + 1, 1);
	size_t i, k, ix[2], nserving = 0;

	for (i = 0; i < w->plan.n; i++)
		for (k = plan_entry_pairs(&w->plan.e[i], ix); k > 0; k--)
			named[ix[k - 1]] = 1;
	w->stage = xcalloc(w->npairs + 1, sizeof(*w->stage));
	for (i = 0; i < w->npairs; i++)
		if (needs_file(w, &w->pairs[i])) {
			w->stage[w->nstage++] = i;
			nserving += named[i];
		}
	free(named);
	return nserving;
}
