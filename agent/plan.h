/*
 * plan.h - validated pairs -> desired state: which pair serves each name.
 * Pure: no I/O, no logging.
 */
#ifndef SNISYNC_PLAN_H
#define SNISYNC_PLAN_H

#include <stddef.h>

#include "fsio.h"

/*
 * A key + full chain validated together from one lineage version, that
 * may be served. Its bytes live in snisync's store under the SHA-256 of
 * each file (key_id, chain_id).
 */
struct pair {
	char		*lineage;
	char		 key_id[65], chain_id[65];
	char		**names;	/* normalised, sorted */
	size_t		  nnames;
	long long	  not_before, not_after;
	char		  key_desc[32];
	char		  serial[80];
	char		  fingerprint[96];
	long long	  since;	/* first applied (0: unknown) */
	long long	  key_since;	/* its key first served by this
					   lineage (0: unknown) */
	int		  last_good;	/* lineage failing now; this is the
					   pair applied before */
	unsigned char	*key, *chain;	/* bytes, owned; may be NULL until
					   loaded */
	size_t		  keylen, chainlen;
	char		*src_key, *src_chain;	/* the archive files read */
	struct fsio_id	  src_key_id, src_chain_id;
};

struct plan_entry {
	char		*name;		/* "mail.example.com", "*.example.com" */
	size_t		 pair;		/* index into the pairs array */
};

/* A name claimed by several lineages, and who lost it. */
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
 * plan_build(pairs, n, &plan): every name of every pair maps to exactly
 * one pair: the one with the latest notBefore; on a tie a fresh pair
 * beats a last-good one, then the smaller lineage name wins. Every losing
 * claim is listed in plan.c. Always succeeds.
 */
void	plan_build(const struct pair *pairs, size_t n, struct plan *plan);
void	plan_free(struct plan *plan);

/* plan_find(plan, name): the entry for name, or NULL. */
const struct plan_entry *plan_find(const struct plan *plan, const char *name);

/* pair_free(p): frees (and wipes the key bytes of) one pair's members. */
void	pair_free(struct pair *p);

/* pair_same_files(a, b): both serve the same key and chain bytes. */
int	pair_same_files(const struct pair *a, const struct pair *b);

#endif
