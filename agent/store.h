/*
 * store.h - the served files: what Dovecot and the Postfix map source
 * name. One file per lineage, at a path that depends on the lineage's
 * name only (state_dir/served/<name>.pem), holding its applied pair: the
 * key, "\n", the full chain (what `postmap -F` makes of the two files on
 * one line). A renewal replaces its content by rename; the include and
 * the map source that name it stay byte-identical.
 */
#ifndef SNISYNC_STORE_H
#define SNISYNC_STORE_H

#include <stddef.h>

#include "plan.h"

#define STORE_SERVED	"served"	/* under state_dir */
#define STORE_STAGING	"staging"	/* under state_dir: served files
					   being written (what a killed
					   run left, the next removes) */
#define STORE_LEGACY	"store"		/* before 0.2: files named by the
					   SHA-256 of their content */

/* Room for a file name store_file_name() writes (NUL included). */
#define STORE_NAME_MAX	256

/*
 * store_file_name(lineage, out): the served file's name for a lineage:
 * "<lineage>.pem" when the name is made of [A-Za-z0-9._-], does not
 * start with "." and has at most 200 characters; else those characters
 * kept, every other one as "_", cut at 200, then "~" and 16 hex digits
 * of the SHA-256 of the name (no two lineages share a file; nothing in a
 * path can break a Dovecot or map source line). out has STORE_NAME_MAX
 * bytes.
 */
void	store_file_name(const char *lineage, char out[STORE_NAME_MAX]);

/* store_path(dir, lineage): dir "/" store_file_name(); malloc'd. */
char	*store_path(const char *dir, const char *lineage);

/* store_content(p, &len): p's key, "\n", p's chain (bytes loaded);
 * malloc'd, the caller wipes it. */
unsigned char *store_content(const struct pair *p, size_t *len);

/*
 * store_load(served, legacy, p, why, whysz): loads p's key and chain
 * bytes (p->key, p->chain) from its served file, split where its chain
 * starts and checked against p->key_id and p->chain_id; when that file
 * is missing, from the legacy store (legacy may be NULL) where each
 * file is named by its SHA-256. 0, or -1 with why (not logged: the
 * caller names the lineage).
 */
int	store_load(const char *served, const char *legacy, struct pair *p,
	    char *why, size_t whysz);

#endif
