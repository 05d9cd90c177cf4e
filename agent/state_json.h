/*
 * state_json.h - snisync 0.1's state.json, read (state_json.c) for its
 * one import into the state database (migrate.c).
 */
#ifndef SNISYNC_STATE_JSON_H
#define SNISYNC_STATE_JSON_H

#include "state.h"

/* state_json_load(path, &st): reads a state.json of snisync 0.1
 * (formats 1 and 2) into st. 0 with st filled (empty when path is
 * missing or unreadable as a state: logged), -1 when it cannot be
 * read. */
int	state_json_load(const char *path, struct state *st);

#endif
