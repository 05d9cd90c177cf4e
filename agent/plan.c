/*
 * plan.c - lineages -> desired state (pure).
 *
 * Several lineages can claim a name (certbot's name-0001, a renamed
 * lineage not deleted yet, a failing lineage's last good pair, an RSA
 * lineage beside the default ECDSA one). Claims are grouped by key
 * algorithm class (ECDSA, RSA, other). Within a class the choice is
 * deterministic: latest notBefore, then fresh over last good, then the
 * smaller lineage name. An ECDSA winner and an RSA winner both serve the
 * name (ECDSA as the primary pair, RSA as the alt pair: Postfix gets both
 * groups, Dovecot ssl_cert and ssl_alt_cert); otherwise the class winners
 * compete by the same rule. Losers are reported, never dropped silently.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "util.h"

size_t
plan_entry_pairs(const struct plan_entry *e, size_t out[2])
{
	out[0] = e->pair;
	out[1] = e->alt;
	return e->alt == PLAN_NO_ALT ? 1 : 2;
}

int
plan_entry_serves(const struct plan_entry *e, const struct pair *pairs,
    const char *lineage)
{
	return strcmp(pairs[e->pair].lineage, lineage) == 0 ||
	    (e->alt != PLAN_NO_ALT &&
	    strcmp(pairs[e->alt].lineage, lineage) == 0);
}

/* 1 when pair a should serve a name rather than pair b. */
static int
better(const struct pair *a, const struct pair *b)
{
	if (a->not_before != b->not_before)
		return a->not_before > b->not_before;
	if (a->last_good != b->last_good)
		return !a->last_good;
	return strcmp(a->lineage, b->lineage) < 0;
}

struct claim {
	const char	*name;
	size_t		 pair;
};

static int
cmp_claim(const void *x, const void *y)
{
	const struct claim *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return a->pair < b->pair ? -1 : a->pair > b->pair;
}

static void
lose(struct plan *plan, const char *name, size_t winner, size_t loser)
{
	plan->c[plan->nc++] = (struct plan_conflict){ xstrdup(name), winner,
	    loser };
}

/* One name's claims cl[0..n): its entry, and its losers. */
static void
plan_name(const struct pair *pairs, const struct claim *cl, size_t n,
    struct plan *plan)
{
	size_t win[PAIR_ALG__MAX], k, prim = PLAN_NO_ALT, alt = PLAN_NO_ALT;
	int a;

	for (a = 0; a < PAIR_ALG__MAX; a++)
		win[a] = PLAN_NO_ALT;
	for (k = 0; k < n; k++) {
		a = pair_alg(&pairs[cl[k].pair]);
		if (win[a] == PLAN_NO_ALT ||
		    better(&pairs[cl[k].pair], &pairs[win[a]]))
			win[a] = cl[k].pair;
	}
	for (k = 0; k < n; k++) {
		a = pair_alg(&pairs[cl[k].pair]);
		if (cl[k].pair != win[a])
			lose(plan, cl[0].name, win[a], cl[k].pair);
	}
	if (win[PAIR_ALG_ECDSA] != PLAN_NO_ALT &&
	    win[PAIR_ALG_RSA] != PLAN_NO_ALT) {
		prim = win[PAIR_ALG_ECDSA];
		alt = win[PAIR_ALG_RSA];
	} else
		for (a = 0; a < PAIR_ALG__MAX; a++)
			if (win[a] != PLAN_NO_ALT && (prim == PLAN_NO_ALT ||
			    better(&pairs[win[a]], &pairs[prim])))
				prim = win[a];
	for (a = 0; a < PAIR_ALG__MAX; a++)
		if (win[a] != PLAN_NO_ALT && win[a] != prim && win[a] != alt)
			lose(plan, cl[0].name, prim, win[a]);
	plan->e[plan->n++] = (struct plan_entry){ xstrdup(cl[0].name), prim,
	    alt };
}

void
plan_build(const struct pair *pairs, size_t n, struct plan *plan)
{
	struct claim *cl;
	size_t ncl = 0, i, j, k;

	memset(plan, 0, sizeof(*plan));
	for (i = 0; i < n; i++)
		ncl += pairs[i].nnames;
	cl = xcalloc(ncl ? ncl : 1, sizeof(*cl));
	for (i = 0, k = 0; i < n; i++)
		for (j = 0; j < pairs[i].nnames; j++)
			cl[k++] = (struct claim){ pairs[i].names[j], i };
	qsort(cl, ncl, sizeof(*cl), cmp_claim);
	plan->e = xcalloc(ncl ? ncl : 1, sizeof(*plan->e));
	plan->c = xcalloc(ncl ? ncl : 1, sizeof(*plan->c));
	for (i = 0; i < ncl; i = j) {
		for (j = i + 1; j < ncl && strcmp(cl[j].name, cl[i].name) == 0;
		    j++)
			;
		plan_name(pairs, &cl[i], j - i, plan);
	}
	free(cl);
}

static int
cmp_entry_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct plan_entry *)elem)->name);
}

const struct plan_entry *
plan_find(const struct plan *plan, const char *name)
{
	if (plan->n == 0)
		return NULL;
	return bsearch(name, plan->e, plan->n, sizeof(*plan->e),
	    cmp_entry_name);
}

void
plan_free(struct plan *plan)
{
	size_t i;

	if (plan == NULL)
		return;
	for (i = 0; i < plan->n; i++)
		free(plan->e[i].name);
	for (i = 0; i < plan->nc; i++)
		free(plan->c[i].name);
	free(plan->e);
	free(plan->c);
	memset(plan, 0, sizeof(*plan));
}
