/*
 * plan.c - lineages -> desired state (pure).
 *
 * Several lineages can claim a name (certbot's name-0001, a renamed
 * lineage not deleted yet, a failing lineage's last good pair). The
 * choice is deterministic: latest notBefore, then fresh over last good,
 * then the smaller lineage name. Losers are reported, never dropped
 * silently.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "util.h"

void
pair_free(struct pair *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->lineage);
	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free_wiped(p->key, p->keylen);
	free(p->chain);
	free(p->src_key);
	free(p->src_chain);
	memset(p, 0, sizeof(*p));
}

int
pair_same_files(const struct pair *a, const struct pair *b)
{
	return strcmp(a->key_id, b->key_id) == 0 &&
	    strcmp(a->chain_id, b->chain_id) == 0;
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
		size_t win = cl[i].pair;

		for (j = i + 1; j < ncl && strcmp(cl[j].name, cl[i].name) == 0;
		    j++)
			if (better(&pairs[cl[j].pair], &pairs[win]))
				win = cl[j].pair;
		for (k = i; k < j; k++) {
			if (cl[k].pair == win)
				continue;
			plan->c[plan->nc++] = (struct plan_conflict){
			    xstrdup(cl[i].name), win, cl[k].pair };
		}
		plan->e[plan->n++] = (struct plan_entry){ xstrdup(cl[i].name),
		    win };
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
