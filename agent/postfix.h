/*
 * postfix.h - the Postfix SNI map: its source text and its LMDB file, in
 * the format `postmap -F lmdb:MAP` writes.
 */
#ifndef SNISYNC_POSTFIX_H
#define SNISYNC_POSTFIX_H

#include <stddef.h>

#include "plan.h"

#define POSTFIX_MAP_SIZE	(16UL * 1024 * 1024)

/*
 * postfix_source(plan, pairs, store_dir, &len): the map's source text, one
 * line "KEY KEYFILE CHAINFILE" per name in map order, the same lines an
 * admin would feed to `postmap -F`. KEY is the name, or ".example.com"
 * for "*.example.com". Pure; returns malloc'd text.
 */
char	*postfix_source(const struct plan *plan, const struct pair *pairs,
	    const char *store_dir, size_t *len);

/*
 * postfix_write_lmdb(path, plan, pairs): writes the map into the empty
 * file at path (a temp file the caller renames): unnamed main DB,
 * MDB_NOSUBDIR|MDB_NOLOCK, 16 MiB map size doubled on MDB_MAP_FULL; key =
 * map key + NUL, value = base64(key bytes "\n" chain bytes) + NUL, in
 * map order. Every pair used must have its bytes loaded. Returns 0 or -1
 * (logged).
 */
int	postfix_write_lmdb(const char *path, const struct plan *plan,
	    const struct pair *pairs);

/* postfix_base64(in, len, &outlen): standard alphabet, '=' padding, no
 * line breaks, NUL-terminated. Pure. */
char	*postfix_base64(const unsigned char *in, size_t len, size_t *outlen);

/* postfix_value(pair, &len): base64(key "\n" chain), NUL-terminated. */
char	*postfix_value(const struct pair *p, size_t *len);

#endif
