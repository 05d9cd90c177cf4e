/*
 * opts.h - what a caller asks of one run of the pipeline (struct
 * sync_opts: the daemon, resync, release) and what the run tells it back
 * (struct sync_result). Every stage may read the options; only sync.c
 * fills the result (sync_result_free(), sync.h).
 */
#ifndef SNISYNC_OPTS_H
#define SNISYNC_OPTS_H

#include <stddef.h>

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

#endif
