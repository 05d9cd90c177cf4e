/* test_plan.c - plan_build(): one pair per name, deterministic winner. */
#include <stdlib.h>

#include "plan.h"
#include "unit.h"

static struct pair
mk(const char *lineage, long long nb, int last_good, char **names, size_t n)
{
	struct pair p;

	memset(&p, 0, sizeof(p));
	p.lineage = (char *)lineage;
	p.names = names;
	p.nnames = n;
	p.not_before = nb;
	p.last_good = last_good;
	snprintf(p.key_id, sizeof(p.key_id), "k-%s", lineage);
	snprintf(p.chain_id, sizeof(p.chain_id), "c-%s", lineage);
	return p;
}

static const char *
winner(const struct plan *pl, const struct pair *pairs, const char *name)
{
	const struct plan_entry *e = plan_find(pl, name);

	return e ? pairs[e->pair].lineage : NULL;
}

int
main(void)
{
	char *a_names[] = { "a.example", "b.example", "*.example" };
	char *b_names[] = { "a.example" };
	char *c_names[] = { "b.example", "c.example" };
	char *d_names[] = { "c.example" };
	struct pair pairs[4];
	struct plan pl;

	pairs[0] = mk("one", 100, 0, a_names, 3);
	pairs[1] = mk("one-0001", 200, 0, b_names, 1);	/* newer: wins a */
	pairs[2] = mk("two", 100, 1, c_names, 2);	/* tie with one, last good */
	pairs[3] = mk("zz", 50, 0, d_names, 1);		/* older: loses c */
	plan_build(pairs, 4, &pl);
	UNIT_INTEQ(pl.n, 4, "four distinct names");
	UNIT_STREQ(pl.e[0].name, "*.example", "entries sorted by name");
	UNIT_STREQ(winner(&pl, pairs, "a.example"), "one-0001",
	    "latest notBefore wins");
	UNIT_STREQ(winner(&pl, pairs, "b.example"), "one",
	    "on a tie a fresh pair beats a last good one");
	UNIT_STREQ(winner(&pl, pairs, "c.example"), "two",
	    "an older fresh pair loses to a newer last good one");
	UNIT_STREQ(winner(&pl, pairs, "*.example"), "one", "wildcard kept");
	UNIT_STREQ(winner(&pl, pairs, "d.example"), NULL, "unknown name");
	UNIT_INTEQ(pl.nc, 3, "three losing claims reported");
	plan_free(&pl);

	/* Same input, other order: same result. */
	{
		struct pair rev[4] = { pairs[3], pairs[2], pairs[1], pairs[0] };

		plan_build(rev, 4, &pl);
		UNIT_STREQ(winner(&pl, rev, "a.example"), "one-0001",
		    "order of lineages does not matter (a)");
		UNIT_STREQ(winner(&pl, rev, "b.example"), "one",
		    "order of lineages does not matter (b)");
		plan_free(&pl);
	}
	/* Equal everything: the smaller lineage name wins. */
	{
		char *n1[] = { "x.example" };
		struct pair eq[2] = { mk("b", 1, 0, n1, 1), mk("a", 1, 0, n1, 1) };

		plan_build(eq, 2, &pl);
		UNIT_STREQ(winner(&pl, eq, "x.example"), "a",
		    "full tie: smaller lineage name");
		plan_free(&pl);
	}
	plan_build(NULL, 0, &pl);
	UNIT_INTEQ(pl.n, 0, "empty plan");
	plan_free(&pl);
	return unit_status();
}
