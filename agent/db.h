/*
 * db.h - LMDB environments: the Postfix map and the state. db.c is the
 * only file that includes <lmdb.h>.
 */
#ifndef SNISYNC_DB_H
#define SNISYNC_DB_H

#include <stddef.h>

enum db_kind {
	DB_MAP,		/* Postfix's map: MDB_NOSUBDIR | MDB_NOLOCK, one
			   file, what postmap writes (FACTS.md) */
	DB_STATE,	/* snisync's state: one file and its "-lock" file,
			   so readers (status) and the writer never block
			   or disturb each other */
	DB_STATE_PEEK	/* the state, read-only, without the lock file:
			   only under snisync's own lock (no writer can
			   run), and nothing is written, not even a lock */
};

/* A result that says the map size was too small: reopen larger. */
#define DB_FULL	1

struct db;

/*
 * db_open(path, kind, mapsize, write, &db, why, whysz): opens the
 * environment at path (created when write) and begins a transaction on
 * its unnamed database (write: a write transaction). mapsize 0 keeps
 * LMDB's default. Returns 0, or -1 with why (not logged; ENOENT in why
 * as "No such file or directory" when a read finds no file).
 */
int	db_open(const char *path, enum db_kind kind, size_t mapsize, int write,
	    struct db **db, char *why, size_t whysz);

/* db_put(db, key, klen, val, vlen, nooverwrite): 0, DB_FULL, or -1. */
int	db_put(struct db *db, const void *key, size_t klen, const void *val,
	    size_t vlen, int nooverwrite);

/* db_del(db, key, klen): 0 (also when it was not there), DB_FULL, -1. */
int	db_del(struct db *db, const void *key, size_t klen);

/* db_get(db, key, klen, &val, &vlen): 0 with the value (valid until the
 * transaction ends), 1 when there is no such key, -1 on error. */
int	db_get(struct db *db, const void *key, size_t klen, const void **val,
	    size_t *vlen);

/* db_count(db): the records of the database (0 on error). */
size_t	db_count(struct db *db);

/* db_each(db, fn, arg): calls fn for every record in key order until it
 * returns non-zero (returned). The bytes are valid during the call. */
int	db_each(struct db *db, int (*fn)(void *arg, const void *key,
	    size_t klen, const void *val, size_t vlen), void *arg);

/*
 * db_close(db, commit): commits (and syncs to disk) or aborts the
 * transaction, then closes. Returns 0, DB_FULL (nothing committed) or
 * -1; db_close_why() says why until the next db_open().
 */
int	db_close(struct db *db, int commit);
const char *db_close_why(void);

/* db_error(db): the last error of db's operations, for a log line. */
const char *db_error(const struct db *db);

#endif
