/*
 * migrate.h - the applied state, with the one-time step from snisync
 * 0.1's state.json to the state database (migrate.c).
 */
#ifndef SNISYNC_MIGRATE_H
#define SNISYNC_MIGRATE_H

#include "state.h"

/*
 * migrate_load(dir, peek, write, &st): state_load(dir, peek, &st), but
 * when state_dir holds 0.1's state.json and no database yet, st is read
 * from that file; with write (a resync, under snisync's lock) it is saved
 * as the database at once and the file kept as state.json.old (one info
 * line), then read back from the database. 0, or -1 (logged).
 */
int	migrate_load(const char *dir, int peek, int write, struct state *st);

#endif
