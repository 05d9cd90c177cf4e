/*
 * pair.h - a key and its full chain, validated together from one
 * lineage version: what the plan chooses among and the state records.
 * Pure: no I/O, no logging.
 */
#ifndef SNISYNC_PAIR_H
#define SNISYNC_PAIR_H

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

/* pair_free(p): frees (and wipes the key bytes of) one pair's members. */
void	pair_free(struct pair *p);

/* pair_same_files(a, b): both serve the same key and chain bytes. */
int	pair_same_files(const struct pair *a, const struct pair *b);

#endif
