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
 * postfix_source(plan, pairs, served_dir, &len): the map's source text,
 * one line "KEY FILE [ALTFILE]" per name in map order, each FILE a served
 * file (store.h: key, "\n", full chain, so `postmap -F` makes the same
 * value of it as of the key and chain files on one line), the same lines
 * an admin would feed to `postmap -F`. KEY is the
 * name, or ".example.com" for "*.example.com". Pure; returns malloc'd
 * text.
 */
char	*postfix_source(const struct plan *plan, const struct pair *pairs,
	    const char *served_dir, size_t *len);

/*
 * postfix_write_lmdb(path, plan, pairs): writes the map into the empty
 * file at path (a temp file the caller renames): unnamed main DB,
 * MDB_NOSUBDIR|MDB_NOLOCK, 16 MiB map size doubled on MDB_MAP_FULL (from
 * the first doubling that can hold the entries: the size postmap ends
 * at); key =
 * map key + NUL, value = postfix_value() + NUL, in map order. Every pair
 * used (alt pairs too) must have its bytes loaded. Returns 0 or -1
 * (logged).
 */
int	postfix_write_lmdb(const char *path, const struct plan *plan,
	    const struct pair *pairs);

/* One entry an in-place update changes: pair NULL removes the key. */
struct pf_change {
	const char		*name;	/* plan name ("*.example.com" too) */
	const struct pair	*pair;	/* bytes loaded */
	const struct pair	*alt;	/* second group, bytes loaded; or
					   NULL */
};

/*
 * postfix_update_lmdb(path, changes, n): changes the map at path in place,
 * in one LMDB transaction, under an exclusive fcntl lock on the file
 * (what postmap does; Postfix readers hold shared locks and see the new
 * entries in their next transaction). Waits at most lock_wait_ms for the
 * lock. Returns 0 done, or 1 not done (lock busy, map full, not a map
 * we can open, a failed write: the transaction is aborted and the map
 * unchanged; debug-logged): the caller rebuilds the map whole.
 */
int	postfix_update_lmdb(const char *path, const struct pf_change *changes,
	    size_t n, int lock_wait_ms);

/* postfix_base64(in, len, &outlen): standard alphabet, '=' padding, no
 * line breaks, NUL-terminated. Pure. */
char	*postfix_base64(const unsigned char *in, size_t len, size_t *outlen);

/* postfix_value(pair, alt, &len): base64(key "\n" chain), or with an alt
 * pair base64(key "\n" chain "\n" altkey "\n" altchain): one group per
 * algorithm, as postmap -F joins the files of a line. NUL-terminated. */
char	*postfix_value(const struct pair *p, const struct pair *alt,
	    size_t *len);

#endif
