/*
 * diff.c - what a run changes against the applied state, computed once.
 *
 * diff_build() walks this run's plan beside the applied one, name by
 * name, and lists the names whose entry changes (added, removed, or
 * served from other files), each pair of them that changes (one line
 * each: a name served by one pair before and after compares those two,
 * one served by two, ECDSA and RSA, is compared by key algorithm), the
 * lineages that now serve another key (one DANE notice each), and the
 * pairs whose served files this run writes, with how many of those serve
 * a name. Everything that depends on the change reads that one diff:
 * diff_log() (the log lines, or what --dry-run prints), the map entries
 * changed in place (commit.c), the served files written and the reload
 * decisions (sync.c). Pure but for asking whether a served file is on
 * disk (validate.c, with the run's listing); writes nothing, logs only
 * in diff_log().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"
#include "util.h"
#include "work.h"

/* What the diff reads, and the listing it may fill. */
struct dview {
	const struct work_ctx	*x;
	const struct loaded	*ld;
	struct store_list	*ls;
};

static int
rejected(struct dview *dv, const char *lineage)
{
	size_t i;

	for (i = 0; i < dv->ld->v.nerrs; i++)
		if (strcmp(dv->ld->v.errs[i].lineage, lineage) == 0)
			return 1;
	return 0;
}

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
static int
entry_same_files(const struct dview *dv, const struct plan_entry *oe,
    const struct plan_entry *e)
{
	if ((oe->alt == PLAN_NO_ALT) != (e->alt == PLAN_NO_ALT) ||
	    !pair_same_files(&dv->ld->old.pairs[oe->pair],
	    &dv->ld->v.pairs[e->pair]))
		return 0;
	return e->alt == PLAN_NO_ALT ||
	    pair_same_files(&dv->ld->old.pairs[oe->alt],
	    &dv->ld->v.pairs[e->alt]);
}

/*
 * One pair of a name that changes: op the old one (NULL: added), np the
 * new one (NULL: removed). A line unless neither is there or both serve
 * the same files; a key change when the lineage's key is another.
 */
static void
diff_pair(struct diff *d, const char *name, const struct pair *op,
    const struct pair *np)
{
	if ((op == NULL && np == NULL) ||
	    (op != NULL && np != NULL && pair_same_files(op, np)))
		return;
	if (op != NULL && np != NULL && strcmp(op->key_id, np->key_id) != 0)
		note_key(&d->kc, &d->nkc, np->lineage, name);
	d->lines = xgrow(d->lines, d->nlines, sizeof(*d->lines));
	d->lines[d->nlines++] = (struct diff_line){ name, op, np };
}

/*
 * One name: a name served by one pair before and after compares those
 * two (a renewal that changes the key type is "renewed"); when either
 * side serves two (ECDSA and RSA), pairs are compared by key algorithm.
 */
static void
diff_entry(struct dview *dv, struct diff *d, const char *name,
    const struct plan_entry *oe, const struct plan_entry *e)
{
	const struct pair *o[2] = { NULL, NULL }, *n[2] = { NULL, NULL };
	size_t ix[2], no = 0, nn = 0, k;
	int a;

	if (oe != NULL)
		for (no = plan_entry_pairs(oe, ix), k = 0; k < no; k++)
			o[k] = &dv->ld->old.pairs[ix[k]];
	if (e != NULL)
		for (nn = plan_entry_pairs(e, ix), k = 0; k < nn; k++)
			n[k] = &dv->ld->v.pairs[ix[k]];
	if (no < 2 && nn < 2) {
		diff_pair(d, name, o[0], n[0]);
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
		diff_pair(d, name, op, np);
	}
}

/* Whether p's served file must be written: its lineage applied no pair
 * or another one before, or the file is missing. Only lineages this run
 * looked at (the others are as they were applied), except on a host
 * that still has the legacy store. */
static int
needs_file(struct dview *dv, const struct pair *p)
{
	const struct pair *op;

	if (!scan_has(&dv->ld->sc, p->lineage) && dv->x->legacy == NULL)
		return 0;	/* upgraded: every pair gets its file */
	op = state_pair_of(&dv->ld->old, p->lineage);
	return op == NULL || !pair_same_files(op, p) ||
	    !validate_served_has(dv->x, dv->ls, p->lineage);
}

/* The pairs whose served files this run writes, and how many of them
 * serve a name (the others' files are named by no output: no reload for
 * them). */
static void
diff_stage(struct dview *dv, struct diff *d)
{
	unsigned char *named = xcalloc(dv->ld->v.npairs + 1, 1);
	size_t i, k, ix[2];

	for (i = 0; i < dv->ld->plan.n; i++)
		for (k = plan_entry_pairs(&dv->ld->plan.e[i], ix); k > 0; k--)
			named[ix[k - 1]] = 1;
	d->stage = xcalloc(dv->ld->v.npairs + 1, sizeof(*d->stage));
	for (i = 0; i < dv->ld->v.npairs; i++)
		if (needs_file(dv, &dv->ld->v.pairs[i])) {
			d->stage[d->nstage++] = i;
			d->nserving += named[i];
		}
	free(named);
}

void
diff_build(const struct work_ctx *x, const struct loaded *ld,
    struct store_list *ls, struct diff *d)
{
	struct dview view = { x, ld, ls }, *dv = &view;
	const struct plan *a = &dv->ld->oldplan, *b = &dv->ld->plan;
	size_t i = 0, j = 0;

	memset(d, 0, sizeof(*d));
	diff_stage(dv, d);
	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 :
		    strcmp(a->e[i].name, b->e[j].name);
		const struct plan_entry *oe = c <= 0 ? &a->e[i] : NULL;
		const struct plan_entry *e = c >= 0 ? &b->e[j] : NULL;

		i += c <= 0;
		j += c >= 0;
		/* The same files, alt too: no pair of it changes either
		 * (an entry holds one pair per key algorithm at most). */
		if (oe != NULL && e != NULL && entry_same_files(dv, oe, e))
			continue;
		d->names = xgrow(d->names, d->nnames, sizeof(*d->names));
		d->names[d->nnames++] = (struct diff_name){
		    oe != NULL ? oe->name : e->name, oe, e };
		diff_entry(dv, d, d->names[d->nnames - 1].name, oe, e);
	}
}

/* The line of one pair that changes. */
static void
diff_line(struct dview *dv, const struct diff_line *l, char *line,
    size_t sz)
{
	const struct pair *op = l->op, *np = l->np;

	if (op == NULL)
		snprintf(line, sz, "+ %s: lineage %s (serial %s, %s, expires "
		    "%s)", l->name, log_esc(np->lineage), np->serial,
		    np->key_desc, fmt_utc(np->not_after));
	else if (np == NULL)
		snprintf(line, sz, "- %s: lineage %s %s", l->name,
		    log_esc(op->lineage), rejected(dv, op->lineage) ?
		    "rejected, last good pair expired or unavailable" :
		    scan_has(&dv->ld->sc, op->lineage) ? "no longer names it" :
		    "deleted");
	else if (strcmp(op->lineage, np->lineage) != 0)
		snprintf(line, sz, "~ %s: moves from lineage %s to lineage %s "
		    "(serial %s)", l->name, log_esc(op->lineage),
		    log_esc(np->lineage), np->serial);
	else
		snprintf(line, sz, "~ %s: lineage %s renewed (serial %s -> "
		    "%s)", l->name, log_esc(np->lineage), op->serial,
		    np->serial);
}

/* The first of lineage's names (its new pair's) that publishes TLSA
 * records (conf_dane_name()), or NULL. */
static const char *
dane_name_of(const struct dview *dv, const char *lineage)
{
	size_t i, k;

	for (i = 0; i < dv->ld->v.npairs; i++) {
		const struct pair *p = &dv->ld->v.pairs[i];

		if (p->last_good || strcmp(p->lineage, lineage) != 0)
			continue;
		for (k = 0; k < p->nnames; k++)
			if (conf_dane_name(dv->x->c, p->names[k]))
				return p->names[k];
	}
	return NULL;
}

void
diff_log(const struct work_ctx *x, const struct loaded *ld,
    const struct diff *d, int print)
{
	struct dview view = { x, ld, NULL }, *dv = &view;
	char line[1024], more[64];
	size_t i;

	for (i = 0; i < d->nlines; i++) {
		diff_line(dv, &d->lines[i], line, sizeof(line));
		if (print)
			printf("%s\n", line);
		else
			log_info("%s", line);
	}
	if (print)
		return;
	/*
	 * One DANE notice per lineage whose key changed: a warning when the
	 * configuration says one of its names publishes TLSA records
	 * (dane.hold_key_change, dane.published), naming it; else
	 * information: a new key at each renewal is certbot's default, and
	 * with 45-day and 160-hour certificates a host that publishes no
	 * TLSA would log a warning several times a day.
	 */
	for (i = 0; i < d->nkc; i++) {
		const struct key_change *k = &d->kc[i];
		const char *dn = dane_name_of(dv, k->lineage);

		if (k->n > 1)
			snprintf(more, sizeof(more), " and %zu more", k->n - 1);
		snprintf(line, sizeof(line), "lineage %s: served with a new "
		    "key for %s%s: DANE TLSA 3 1 1 records that pin the old "
		    "key no longer match (`snisync tlsa %s` prints the new "
		    "ones; certbot --reuse-key keeps a key)",
		    log_esc(k->lineage), dn ? dn : k->name,
		    k->n > 1 ? more : "", dn ? dn : k->name);
		if (dn != NULL)
			log_warn("%s", line);
		else
			log_info("%s", line);
	}
}

void
diff_free(struct diff *d)
{
	if (d == NULL)
		return;
	free(d->names);
	free(d->lines);
	free(d->kc);
	free(d->stage);
	memset(d, 0, sizeof(*d));
}
