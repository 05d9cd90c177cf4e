/*
 * schedule.h - when `snisync watch` runs the pipeline (schedule.c): the
 * dirty lineages, the settle window, lineages whose failure waits to be
 * reported, the retry backoff, the reload rate limit, the periodic full
 * resync and certbot's lock. No I/O: the caller (watch.c) passes the
 * time, what certbot is doing and each run's result. All times are
 * CLOCK_MONOTONIC milliseconds.
 */
#ifndef SNISYNC_SCHEDULE_H
#define SNISYNC_SCHEDULE_H

#include <stddef.h>

#include "conf.h"
#include "opts.h"

/* A lineage that failed right after an event (maybe mid-swap): looked at
 * quietly until report_after_s after its last event. */
struct schedule_pending {
	char		*name;
	long long	 since;		/* first failure, or last event */
};

struct schedule {
	char			**dirty;
	size_t			  ndirty;
	int			  full;
	long long		  first_event, settle_at;
	struct schedule_pending	 *pend;
	size_t			  npend;
	long long		  retry_at;	/* pending lineages: look */
	long long		  next_full;
	long long		  reload_retry_at;
	int			  backoff_s;
	long long		  last_reload, reload_due_at; /* rate limit */
	long long		  certbot_since;
	long long		  run_start;	/* schedule_begin's now */
	char			**quiet, **loud;	/* the run's */
};

/* schedule_free(s): frees what s holds (s starts zeroed). */
void	schedule_free(struct schedule *s);

/* schedule_mark(s, wc, name, now): an event for lineage name: it is dirty
 * and the settle window starts or grows. schedule_mark_full(s, wc, now):
 * every lineage is. schedule_recheck(s, now): certbot's lock changed: a
 * settling run looks again at once. */
void	schedule_mark(struct schedule *s, const struct watch_conf *wc,
	    const char *name, long long now);
void	schedule_mark_full(struct schedule *s, const struct watch_conf *wc,
	    long long now);
void	schedule_recheck(struct schedule *s, long long now);

/* schedule_deadline(s): the next instant something may be due. */
long long schedule_deadline(const struct schedule *s);

/*
 * schedule_due(s, now, &full): 1 when a run is due now (full: the whole
 * tree), 0 when a burst still settles or nothing is due. A settled
 * burst runs first; then a failed step's retry, the pending lineages,
 * the periodic full resync and a held reload. schedule_certbot(s, wc, now,
 * full): certbot holds its lock: 1 the run waits (one info line when the
 * wait starts; looked at again in a second), 0 it runs anyway
 * (certbot_wait_s is over).
 */
int	schedule_due(struct schedule *s, long long now, int *full);
int	schedule_certbot(struct schedule *s, const struct watch_conf *wc,
	    long long now, int full);

/*
 * schedule_begin(s, wc, full, now, &o): the run's options (o zeroed by the
 * caller): the dirty and pending lineages (none when full), those still
 * quiet and those to report now, whether its reloads wait for the rate
 * limit. They point into s until schedule_end(). schedule_end(s, wc, full,
 * now, res, failed): what the run left: pending lineages, the backoff
 * after a failed step (failed: the run's exit status asks for a retry),
 * a reload held by the rate limit, the next full resync (now: the run's
 * end); the dirty set is emptied.
 */
void	schedule_begin(struct schedule *s, const struct watch_conf *wc,
	    int full, long long now, struct sync_opts *o);
void	schedule_end(struct schedule *s, const struct watch_conf *wc, int full,
	    long long now, const struct sync_result *res, int failed);

#endif
