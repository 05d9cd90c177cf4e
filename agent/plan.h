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
	int		  sole;		/* it alone serves each of its names,
					   unchallenged (the last full
					   plan's; state.h) */
	int		  borrowed;	/* lineage, names and the source
					   paths belong to another pair,
					   which outlives this one (the
					   applied state's); key and chain
					   bytes are always its own */
};

/* No alt pair (plan_entry.alt). */
#define PLAN_NO_ALT	((size_t)-1)

struct plan_entry {
	char		*name;		/* "mail.example.com", "*.example.com" */
	size_t		 pair;		/* index into the pairs array */
	size_t		 alt;		/* the RSA pair beside an ECDSA
					   pair, or PLAN_NO_ALT */
};

/*
 * Key algorithm classes: a name can be served by one pair of each of
 * ECDSA and RSA at once (dual algorithm); pairs of one class, and pairs
 * of any other key type, compete for a name.
 */
enum pair_alg {
	PAIR_ALG_ECDSA,
	PAIR_ALG_RSA,
	PAIR_ALG_OTHER,		/* Ed25519, or unknown */
	PAIR_ALG__MAX
};

/* pair_alg(p): the class of p's key, from its key_desc ("RSA 2048"). */
enum pair_alg pair_alg(const struct pair *p);

/* pair_alg_name(a): "ECDSA", "RSA", "other". */
const char *pair_alg_name(enum pair_alg a);

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

/* pair_free(p): frees (and wipes the key bytes of) one pair's members. */
void	pair_free(struct pair *p);

/* pair_same_files(a, b): both serve the same key and chain bytes. */
int	pair_same_files(const struct pair *a, const struct pair *b);

#endif
