/*
 * sync.h - the pipeline: scan -> validate -> plan -> render -> commit ->
 * reload, once (resync), or without writing (check, --dry-run).
 */
#ifndef SNISYNC_SYNC_H
#define SNISYNC_SYNC_H

#include <stddef.h>

#include "exit.h"
#include "conf.h"

/* What a run reports back to its caller (the daemon). */
struct sync_result {
	int	  changed;	/* some service's files were replaced */
	int	  reload_failed; /* a reload ran and failed: still due */
	int	  reloaded;	/* a reload ran and succeeded */
	int	  reload_held;	/* a reload is due but was held back */
	int	  dovecot_held;	/* the only failure: Dovecot is held back
				   at an earlier include (retried after
				   SIGHUP, not on a timer) */
	char	**deferred;	/* lineages whose failure was not */
	size_t	  ndeferred;	/* reported (maybe mid-swap) */
	size_t	  nlineages, nnames, nrejected;
};

struct sync_opts {
	int			  dry_run;
	char			**only;		/* lineage names (--lineage) */
	size_t			  nonly;
	int			  daemon;	/* snisync watch: failures a
						   certbot swap in progress
						   explains are deferred (not
						   reported, counted or saved),
						   "nothing changed" is debug */
	char			**quiet;	/* lineages whose every
						   failure is deferred */
	size_t			  nquiet;
	char			**loud;		/* lineages whose failures are
						   reported now, whatever the
						   above says */
	size_t			  nloud;
	char			**release;	/* lineages whose held key
						   change is released now */
	size_t			  nrelease;
	int			  hold_reloads;	/* write, but leave reloads
						   pending (rate limit) */
	int			  defer_reload;	/* resync --defer-reload: as
						   hold_reloads, and the
						   default certificates are
						   not asked (reload.c) */
	int			  retry_held;	/* the daemon tries a new
						   Dovecot include even when
						   Dovecot is held back and
						   its limit did not change
						   (start, SIGHUP) */
	struct sync_result	 *result;	/* filled when non-NULL */
};

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
