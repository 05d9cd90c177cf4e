/*
 * status.h - `snisync status`: what is served, from the state file alone.
 */
#ifndef SNISYNC_STATUS_H
#define SNISYNC_STATUS_H

#include "json.h"

/*
 * status_run(conf, json): prints the served names (table or JSON) from
 * state_dir/state.json and the stamp files; reads no certificate, writes
 * nothing, takes no lock. Returns 0, 1 (a lineage fails or a name expires
 * within watch.expiry_warn_days) or 4 (state unreadable).
 */
int	status_run(const struct conf *c, int json);

#endif
