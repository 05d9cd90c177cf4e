/*
 * status.h - `snisync status`: what is served, from the state file alone.
 */
#ifndef SNISYNC_STATUS_H
#define SNISYNC_STATUS_H

#include "conf.h"
#include "plan.h"
#include "state.h"

/* Stamp files in state_dir: their mtimes are the end of the last sync,
 * of the last sync in which every valid lineage was applied (outputs
 * written, checked and reloaded; rejected lineages aside) and of the last
 * one in which, besides, nothing was rejected. */
#define STAMP_LAST_SYNC		"last-sync"
#define STAMP_LAST_APPLIED	"last-applied"
#define STAMP_LAST_SUCCESS	"last-success"

/*
 * status_run(conf, json): prints the served names (table or JSON) from
 * the state (state.h) and the stamp files; reads no certificate, writes
 * nothing, takes no lock (LMDB readers never wait for the writer). Returns 0, 1 (a lineage fails, Dovecot is held
 * back at an earlier include, or a name expires
 * within watch.expiry_warn_days) or 4 (state unreadable).
 */
int	status_run(const struct conf *c, int json);

/*
 * status_load(conf, &st, &plan): the applied state (state.h, empty
 * before the first sync) and the plan of its names, quietly (no
 * info lines). 0, or -1 when the file cannot be read (logged).
 */
int	status_load(const struct conf *c, struct state *st, struct plan *plan);

/*
 * status_find(plan, arg): the plan entry of a name typed by the user (any
 * case, a trailing dot allowed), or NULL with "ARG: not a name snisync
 * serves" logged.
 */
const struct plan_entry *status_find(const struct plan *plan,
	    const char *arg);

/* Above this share of the config service's limit, status and setup say
 * what to raise it to. */
#define DOVECOT_ADVISE_PCT	80

/*
 * status_print_dovecot(d, names): Dovecot's lines of `snisync status`
 * (and setup): held back since when and how many of the names it lacks;
 * the blocks of the include last checked, the memory they need and the
 * limit, and what to raise above DOVECOT_ADVISE_PCT of it.
 */
void	status_print_dovecot(const struct dovecot_state *d, size_t names);

#endif
