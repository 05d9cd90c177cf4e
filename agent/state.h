/*
 * state.h - what snisync applied and why, in an LMDB environment
 * (state_dir/state.lmdb, through db.c): one record per lineage (its
 * applied pair, its rejection, its failure count, its held key change)
 * and one run record (the map's identity, pending reloads, reload
 * counts, Dovecot's side), so a renewal rewrites one record, in one
 * write transaction per save; a save that changes nothing writes no
 * byte. The state itself is defined in statedef.h, its records'
 * encoding in staterec.h; 0.1's state.json is imported by migrate.c.
 */
#ifndef SNISYNC_STATE_H
#define SNISYNC_STATE_H

#include <stddef.h>

#include "statedef.h"

#define STATE_DB	"state.lmdb"	/* under state_dir */
#define STATE_JSON	"state.json"	/* 0.1's, imported once */

/*
 * state_load(dir, peek, &st): the state of state_dir dir: its database;
 * empty when there is none (migrate.c imports 0.1's state.json first).
 * peek: the caller holds snisync's lock (no writer runs), so the
 * database is read without its lock file: nothing is written. A
 * record that cannot be decoded is logged and left out (the next sync
 * writes it again). 0, or -1 (logged) when the state exists but cannot
 * be read.
 */
int	state_load(const char *dir, int peek, struct state *st);

/*
 * state_load_some(dir, lineages, n, &st): state_load() of the run record
 * and the records of these lineages alone (a renewal: read what it
 * changes, not the tree), always under snisync's lock (peek). A lineage
 * without a record is simply absent. st->mirror holds just those
 * records, so state_save(dir, st, view) writes and deletes no other.
 * 0, or -1 (logged).
 */
int	state_load_some(const char *dir, char *const *lineages, size_t n,
	    struct state *st);

/* state_has_run(st): the run record was read (or saved) into st. */
int	state_has_run(const struct state *st);

/*
 * state_save(dir, base, st): makes the database hold st, in one write
 * transaction that puts the records that differ from base's mirror
 * (what the database holds: base is the state loaded at the start of
 * the run, or st itself) and deletes those of lineages st no longer
 * has; updates base's mirror. Nothing differs: nothing is opened for
 * writing. After the first save, a 0.1 state.json is renamed to
 * state.json.old (logged). 0, or -1 (logged; the database is as it was).
 */
int	state_save(const char *dir, struct state *base, const struct state *st);

/*
 * state_save_run(dir, base, st): state_save() for a change of the run
 * fields alone (pending reloads, reload counts, Dovecot's side, the map's
 * identity): st's lineages must be those base's mirror holds (the state
 * loaded, or last saved, in this run). Writes the run record, or
 * nothing.
 */
int	state_save_run(const char *dir, struct state *base,
	    const struct state *st);

void	state_free(struct state *st);

/* The services, as svc[] and reload_pending[] index them: "postfix",
 * "dovecot". */
extern const char *const state_svc_names[2];

/* state_hold_name(h): "none", "does not fit", "no handshake". */
const char *state_hold_name(enum dovecot_hold h);

/* state_sort_pairs(st): st's pairs in lineage order (one each).
 * state_pair_of(st, lineage): then, the lineage's pair, or NULL. */
void	state_sort_pairs(struct state *st);
const struct pair *state_pair_of(const struct state *st,
	    const char *lineage);

/* state_hold_of(st, lineage): the lineage's held key change, or NULL. */
const struct state_hold *state_hold_of(const struct state *st,
	    const char *lineage);

/* state_error_of(st, lineage): the lineage's recorded error, or NULL. */
const struct state_error *state_error_of(const struct state *st,
	    const char *lineage);

#endif
