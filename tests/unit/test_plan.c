/* test_plan.c - plan_build(): one pair per name (or an ECDSA and an RSA
 * pair), deterministic winners. */
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

static struct pair
mkk(const char *lineage, const char *key, long long nb, int last_good,
    char **names, size_t n)
{
	struct pair p = mk(lineage, nb, last_good, names, n);

	snprintf(p.key_desc, sizeof(p.key_desc), "%s", key);
	return p;
}

static const char *
alt(const struct plan *pl, const struct pair *pairs, const char *name)
{
	const struct plan_entry *e = plan_find(pl, name);

	return e && e->alt != PLAN_NO_ALT ? pairs[e->alt].lineage : NULL;
}

/* "lineage" or "ecdsa+rsa" for a name: what serves it, in one string. */
static const char *
served(const struct plan *pl, const struct pair *pairs, const char *name)
{
	static char buf[128];
	const struct plan_entry *e = plan_find(pl, name);

	if (e == NULL)
		return "-";
	snprintf(buf, sizeof(buf), "%s%s%s", pairs[e->pair].lineage,
	    e->alt != PLAN_NO_ALT ? "+" : "",
	    e->alt != PLAN_NO_ALT ? pairs[e->alt].lineage : "");
	return buf;
}

/* Dual algorithm: an ECDSA and an RSA pair serve a name together. */
static void
dual(void)
{
	char *ec_n[] = { "a.example", "b.example", "*.example" };
	char *rsa_n[] = { "a.example", "c.example", "*.example" };
	char *rsa2_n[] = { "a.example" };
	char *ec2_n[] = { "b.example" };
	char *ed_n[] = { "a.example", "c.example", "d.example" };
	char *ec3_n[] = { "d.example" };
	struct pair p[6];
	struct plan pl;
	size_t ix[2];

	p[0] = mkk("x", "ECDSA P-256", 100, 0, ec_n, 3);
	p[1] = mkk("x-rsa", "RSA 2048", 90, 0, rsa_n, 3);
	plan_build(p, 2, &pl);
	UNIT_STREQ(served(&pl, p, "a.example"), "x+x-rsa",
	    "same name, ECDSA and RSA: ECDSA primary, RSA alt");
	UNIT_STREQ(served(&pl, p, "*.example"), "x+x-rsa",
	    "wildcard claimed by both: dual");
	UNIT_STREQ(served(&pl, p, "b.example"), "x",
	    "partial overlap: ECDSA only, no alt");
	UNIT_STREQ(served(&pl, p, "c.example"), "x-rsa",
	    "partial overlap: RSA only, RSA primary, no alt");
	UNIT_INTEQ(pl.nc, 0, "dual names are no conflicts");
	UNIT_INTEQ(plan_entry_pairs(plan_find(&pl, "a.example"), ix), 2,
	    "plan_entry_pairs: two for a dual name");
	UNIT_INTEQ(plan_entry_pairs(plan_find(&pl, "b.example"), ix), 1,
	    "plan_entry_pairs: one otherwise");
	UNIT_OK(plan_entry_serves(plan_find(&pl, "a.example"), p, "x-rsa") &&
	    !plan_entry_serves(plan_find(&pl, "b.example"), p, "x-rsa"),
	    "plan_entry_serves: the alt's lineage too");
	plan_free(&pl);

	/* Newer RSA does not take the primary place: the choice is by
	 * class, not date. */
	p[1].not_before = 500;
	plan_build(p, 2, &pl);
	UNIT_STREQ(served(&pl, p, "a.example"), "x+x-rsa",
	    "a newer RSA pair is still the alt");
	plan_free(&pl);
	p[1].not_before = 90;

	/* Same class still conflicts, exactly as before. */
	p[2] = mkk("x-rsa-0001", "RSA 4096", 95, 0, rsa2_n, 1);
	p[3] = mkk("x-0001", "ECDSA P-384", 80, 0, ec2_n, 1);
	plan_build(p, 4, &pl);
	UNIT_STREQ(served(&pl, p, "a.example"), "x+x-rsa-0001",
	    "two RSA lineages: the newer is the alt");
	UNIT_STREQ(served(&pl, p, "b.example"), "x",
	    "two ECDSA lineages: the newer wins, no alt");
	UNIT_INTEQ(pl.nc, 2, "same-class losers reported");
	UNIT_STREQ(pl.nc > 0 ? p[pl.c[0].loser].lineage : NULL, "x-rsa",
	    "a.example: x-rsa loses to x-rsa-0001");
	UNIT_STREQ(pl.nc > 0 ? p[pl.c[0].winner].lineage : NULL,
	    "x-rsa-0001", "the winner named is the same class's");
	plan_free(&pl);

	/* A last good pair in one class: it stays the alt beside a fresh
	 * ECDSA pair, and loses its class to a newer fresh RSA pair. */
	p[1].last_good = 1;
	plan_build(p, 2, &pl);
	UNIT_STREQ(served(&pl, p, "a.example"), "x+x-rsa",
	    "a last good RSA pair stays the alt");
	plan_free(&pl);
	p[2].not_before = 90;	/* tie with the last good one: fresh wins */
	plan_build(p, 3, &pl);
	UNIT_STREQ(served(&pl, p, "a.example"), "x+x-rsa-0001",
	    "on a tie in its class the last good pair loses");
	plan_free(&pl);
	p[1].last_good = 0;

	/* Ed25519 is a class of its own but never an alt. */
	p[4] = mkk("ed", "Ed25519", 300, 0, ed_n, 3);
	p[5] = mkk("d-ec", "ECDSA P-256", 200, 0, ec3_n, 1);
	{
		struct pair q[4] = { p[0], p[1], p[4], p[5] };

		plan_build(q, 4, &pl);
		UNIT_STREQ(served(&pl, q, "a.example"), "x+x-rsa",
		    "ECDSA + RSA + a newer Ed25519: the dual pair serves");
		UNIT_STREQ(served(&pl, q, "c.example"), "ed",
		    "RSA + a newer Ed25519: the newer wins alone");
		UNIT_STREQ(served(&pl, q, "d.example"), "ed",
		    "ECDSA + a newer Ed25519: the newer wins alone");
		UNIT_INTEQ(pl.nc, 3, "the Ed25519 and the others' losses "
		    "reported");
		plan_free(&pl);
		/* Any input order: the same plan. */
		{
			struct pair r[4] = { q[3], q[2], q[1], q[0] };

			plan_build(r, 4, &pl);
			UNIT_STREQ(served(&pl, r, "a.example"), "x+x-rsa",
			    "order of lineages does not matter (dual)");
			UNIT_STREQ(alt(&pl, r, "c.example"), NULL,
			    "order of lineages does not matter (no alt)");
			plan_free(&pl);
		}
	}
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
	UNIT_STREQ(served(&pl, pairs, "a.example"), "one-0001",
	    "pairs without a key type never pair up");
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
	dual();
	plan_free(&pl);
	return unit_status();
}
