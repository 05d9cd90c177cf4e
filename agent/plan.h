/*
 * plan.h - validated pairs -> desired state: which pair serves each name.
 * Pure: no I/O, no logging.
 */
#ifndef SNISYNC_PLAN_H
#define SNISYNC_PLAN_H

#include <stddef.h>

#include "pair.h"

/* No alt pair (plan_entry.alt). */
#define PLAN_NO_ALT	((size_t)-1)

struct plan_entry {
	char		*name;		/* "mail.example.com", "*.example.com" */
	size_t		 pair;		/* index into the pairs array */
	size_t		 alt;		/* the RSA pair beside an ECDSA
					   pair, or PLAN_NO_ALT */
};

/* A name claimed by several lineages, and who lost it (winner: the pair
 * of its class that serves it). */
struct plan_conflict {
	char		*name;
	size_t		 winner, loser;
};

struct plan {
	struct plan_entry	*e;	/* sorted by name */
	size_t			 n;
	struct plan_conflict	*c;
	size_t			 nc;
};

/*
 * plan_build(pairs, n, &plan): every name of every pair maps to one
 * pair, or to an ECDSA pair (entry.pair) and an RSA pair (entry.alt)
 * when lineages of both classes claim it. Within a class, the pair with
 * the latest notBefore wins; on a tie a fresh pair beats a last-good one,
 * then the smaller lineage name wins. When ECDSA and RSA do not both
 * claim a name, the class winners (one of them and an Ed25519 pair)
 * compete by the same rule. Every losing claim is listed in plan.c.
 * Always succeeds.
 */
void	plan_build(const struct pair *pairs, size_t n, struct plan *plan);
void	plan_free(struct plan *plan);

/* plan_find(plan, name): the entry for name, or NULL. */
const struct plan_entry *plan_find(const struct plan *plan, const char *name);

/*
 * plan_entry_pairs(e, out): the pairs serving e, primary first: 1 or 2
 * indexes into out[2].
 */
size_t	plan_entry_pairs(const struct plan_entry *e, size_t out[2]);

/* plan_entry_serves(e, pairs, lineage): 1 when a pair of lineage serves e. */
int	plan_entry_serves(const struct plan_entry *e,
	    const struct pair *pairs, const char *lineage);

#endif
