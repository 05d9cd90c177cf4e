/*
 * pair.c - one validated key + full chain (pair.h): freeing it, comparing
 * its files, the class of its key (pure).
 */
#include <stdlib.h>
#include <string.h>

#include "pair.h"
#include "util.h"

void
pair_free(struct pair *p)
{
	size_t i;

	if (p == NULL)
		return;
	util_free_wiped(p->key, p->keylen);
	free(p->chain);
	if (!p->borrowed) {
		free(p->lineage);
		for (i = 0; i < p->nnames; i++)
			free(p->names[i]);
		free(p->names);
		free(p->src_key);
		free(p->src_chain);
	}
	memset(p, 0, sizeof(*p));
}

int
pair_same_files(const struct pair *a, const struct pair *b)
{
	return strcmp(a->key_id, b->key_id) == 0 &&
	    strcmp(a->chain_id, b->chain_id) == 0;
}

enum pair_alg
pair_alg(const struct pair *p)
{
	if (strncmp(p->key_desc, "ECDSA", 5) == 0)
		return PAIR_ALG_ECDSA;
	if (strncmp(p->key_desc, "RSA", 3) == 0)
		return PAIR_ALG_RSA;
	return PAIR_ALG_OTHER;
}

const char *
pair_alg_name(enum pair_alg a)
{
	static const char *const names[PAIR_ALG__MAX] = { "ECDSA", "RSA",
	    "other" };

	return a < PAIR_ALG__MAX ? names[a] : "other";
}
