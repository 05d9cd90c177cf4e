/*
 * sync.h - the pipeline: scan -> validate -> plan -> render -> commit ->
 * reload, once (resync), or without writing (check, --dry-run).
 */
#ifndef SNISYNC_SYNC_H
#define SNISYNC_SYNC_H

#include <stddef.h>

#include "conf.h"
#include "exit.h"
#include "opts.h"

void	sync_result_free(struct sync_result *r);

/* sync_resync(conf, opts): one pipeline run; returns an enum sync_exit. */
int	sync_resync(const struct conf *c, const struct sync_opts *o);

/*
 * sync_release(conf, names, n): `snisync release NAME...`: serves the new
 * key that dane.hold_key_change held back for each name's lineage (a
 * resync of those lineages). Returns an enum sync_exit; 1 also when a
 * name has no held key change.
 */
int	sync_release(const struct conf *c, char **names, size_t n);

/* sync_forget(): drops the state the daemon keeps between runs. */
void	sync_forget(void);

/* sync_check(conf, json): validate and report, write nothing. */
int	sync_check(const struct conf *c, int json);

#endif
