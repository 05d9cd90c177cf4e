/*
 * db.c - the only file that includes <lmdb.h> (db.h).
 *
 * One environment, one transaction on its unnamed database, for the
 * life of a struct db: the Postfix map is written in one transaction
 * (whole into a temp file, or a few entries in place) and so is each
 * save of the state. A commit is synced to disk before db_close()
 * returns, so a crash leaves the previous transaction or this one.
 * MDB_MAP_FULL comes back as DB_FULL: the caller reopens with a larger
 * map size and does it again (nothing was committed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "db.h"
#include "util.h"

struct db {
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	char		 why[200];
};

static char close_why[200];

static int
fail(struct db *db, const char *what, int rc)
{
	snprintf(db->why, sizeof(db->why), "%s: %s", what, mdb_strerror(rc));
	return rc == MDB_MAP_FULL ? DB_FULL : -1;
}

int
db_open(const char *path, enum db_kind kind, size_t mapsize, int write,
    struct db **dbp, char *why, size_t whysz)
{
	struct db *db = xcalloc(1, sizeof(*db));
	unsigned flags = MDB_NOSUBDIR;
	int rc;
	const char *step = "create";

	if (kind == DB_MAP || kind == DB_STATE_PEEK)
		flags |= MDB_NOLOCK;
	if (!write)
		flags |= MDB_RDONLY;
	*dbp = NULL;
	if ((rc = mdb_env_create(&db->env)) != 0 ||
	    (mapsize > 0 && (step = "map size",
	    rc = mdb_env_set_mapsize(db->env, mapsize)) != 0) ||
	    (step = "open", rc = mdb_env_open(db->env, path, flags,
	    0600)) != 0 ||
	    (step = "begin", rc = mdb_txn_begin(db->env, NULL,
	    write ? 0 : MDB_RDONLY, &db->txn)) != 0 ||
	    (step = "open database", rc = mdb_dbi_open(db->txn, NULL, 0,
	    &db->dbi)) != 0) {
		snprintf(why, whysz, "lmdb %s: %s", step, rc == ENOENT ?
		    strerror(ENOENT) : mdb_strerror(rc));
		if (db->txn != NULL)
			mdb_txn_abort(db->txn);
		if (db->env != NULL)
			mdb_env_close(db->env);
		free(db);
		return -1;
	}
	*dbp = db;
	return 0;
}

int
db_put(struct db *db, const void *key, size_t klen, const void *val,
    size_t vlen, int nooverwrite)
{
	MDB_val k = { klen, (void *)key }, d = { vlen, (void *)val };
	int rc = mdb_put(db->txn, db->dbi, &k, &d,
	    nooverwrite ? MDB_NOOVERWRITE : 0);

	return rc == 0 ? 0 : fail(db, "put", rc);
}

int
db_del(struct db *db, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(db->txn, db->dbi, &k, NULL);

	return rc == 0 || rc == MDB_NOTFOUND ? 0 : fail(db, "delete", rc);
}

int
db_get(struct db *db, const void *key, size_t klen, const void **val,
    size_t *vlen)
{
	MDB_val k = { klen, (void *)key }, d;
	int rc = mdb_get(db->txn, db->dbi, &k, &d);

	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return fail(db, "get", rc);
	*val = d.mv_data;
	*vlen = d.mv_size;
	return 0;
}

size_t
db_count(struct db *db)
{
	MDB_stat st;

	return mdb_stat(db->txn, db->dbi, &st) == 0 ? st.ms_entries : 0;
}

int
db_each(struct db *db, int (*fn)(void *, const void *, size_t, const void *,
    size_t), void *arg)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(db->txn, db->dbi, &cur)) != 0)
		return fail(db, "cursor", rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && r == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		r = fn(arg, k.mv_data, k.mv_size, d.mv_data, d.mv_size);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return fail(db, "read", rc);
	return r;
}

int
db_close(struct db *db, int commit)
{
	int rc = 0;

	close_why[0] = '\0';
	if (db == NULL)
		return 0;
	if (commit) {
		rc = mdb_txn_commit(db->txn);
		if (rc == 0)
			rc = mdb_env_sync(db->env, 1);
		if (rc != 0)
			snprintf(close_why, sizeof(close_why), "commit: %s",
			    mdb_strerror(rc));
	} else
		mdb_txn_abort(db->txn);
	mdb_env_close(db->env);
	free(db);
	return rc == 0 ? 0 : rc == MDB_MAP_FULL ? DB_FULL : -1;
}

const char *
db_close_why(void)
{
	return close_why;
}

const char *
db_error(const struct db *db)
{
	return db->why;
}
