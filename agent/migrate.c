/*
 * migrate.c - the one-time step from snisync 0.1's state (migrate.h).
 *
 * 0.1 kept its state in state_dir/state.json; 0.2 keeps it in an LMDB
 * database (state.c), which knows nothing of the old file. When a run
 * finds the file and no database, the file is read (state_json.c); a
 * resync, holding the lock, saves it as the database before anything
 * else and keeps the file as state.json.old, so every later run reads
 * the database alone. A reader (status, check, a dry run) reads the file
 * and writes nothing. If the save fails the run goes on with what the
 * file held, and the next run tries again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsio.h"
#include "log.h"
#include "migrate.h"
#include "state.h"
#include "state_json.h"
#include "util.h"

int
migrate_load(const char *dir, int peek, int write, struct state *st)
{
	char *db = xasprintf("%s/" STATE_DB, dir);
	char *json = xasprintf("%s/" STATE_JSON, dir);
	char *old = NULL;
	struct state base;
	struct stat sb;
	int rc;

	if (!(lstat(db, &sb) == -1 && errno == ENOENT) ||
	    lstat(json, &sb) == -1) {
		rc = state_load(dir, peek, st);
		goto out;
	}
	memset(st, 0, sizeof(*st));
	if ((rc = state_json_load(json, st)) == -1 || !write)
		goto out;
	memset(&base, 0, sizeof(base));
	if (state_save(dir, &base, st) == -1) {
		state_free(&base);
		goto out;	/* logged; the next run tries again */
	}
	state_free(&base);
	old = xasprintf("%s/" STATE_JSON ".old", dir);
	if (fsio_rename(json, old) == 0)
		log_info("state: %s imported into %s; the old file is kept "
		    "as %s", log_esc(json), log_esc(db), log_esc(old));
	state_free(st);
	rc = state_load(dir, peek, st);
out:
	free(db);
	free(json);
	free(old);
	return rc;
}
