/*
 * schedule.c - when `snisync watch` runs the pipeline (schedule.h).
 *
 * Events only mark lineages dirty; a settle window (settle_ms of quiet,
 * at most settle_max_ms after the first event) batches a burst into one
 * run, deferred while certbot holds its lock (at most certbot_wait_s). A
 * lineage that fails right after an event may be mid-swap: it is looked
 * at again quietly and reported only if still broken report_after_s
 * later. A failed step is retried with backoff (5 s, doubling, at most
 * 600 s); two reloads are at least reload_min_interval_s apart (a change
 * inside that time is written at once and its reload held until then).
 * A full resync runs every resync_interval_s. Decides only: the caller
 * runs the pipeline and says what came of it.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "schedule.h"
#include "util.h"

void
schedule_free(struct schedule *s)
{
	size_t i;

	for (i = 0; i < s->ndirty; i++)
		free(s->dirty[i]);
	free(s->dirty);
	for (i = 0; i < s->npend; i++)
		free(s->pend[i].name);
	free(s->pend);
	free(s->quiet);
	free(s->loud);
	memset(s, 0, sizeof(*s));
}

static void
settle(struct schedule *s, const struct watch_conf *wc, long long now)
{
	if (s->first_event == 0)
		s->first_event = now;
	s->settle_at = now + wc->settle_ms;
	if (s->settle_at > s->first_event + wc->settle_max_ms)
		s->settle_at = s->first_event + wc->settle_max_ms;
}

static void
add_dirty(struct schedule *s, const char *name)
{
	if (strv_has(s->dirty, s->ndirty, name))
		return;
	s->dirty = xreallocarray(s->dirty, s->ndirty + 1, sizeof(char *));
	s->dirty[s->ndirty++] = xstrdup(name);
}

void
schedule_mark(struct schedule *s, const struct watch_conf *wc, const char *name,
    long long now)
{
	size_t i;

	for (i = 0; i < s->npend; i++)
		if (strcmp(s->pend[i].name, name) == 0)
			s->pend[i].since = now;		/* still changing */
	settle(s, wc, now);
	add_dirty(s, name);
}

void
schedule_mark_full(struct schedule *s, const struct watch_conf *wc,
    long long now)
{
	s->full = 1;
	settle(s, wc, now);
}

void
schedule_recheck(struct schedule *s, long long now)
{
	if (s->settle_at != 0)
		s->settle_at = now;
}

long long
schedule_deadline(const struct schedule *s)
{
	long long d = s->next_full;

	if (s->settle_at != 0 && s->settle_at < d)
		d = s->settle_at;
	if (s->retry_at != 0 && s->retry_at < d)
		d = s->retry_at;
	if (s->reload_retry_at != 0 && s->reload_retry_at < d)
		d = s->reload_retry_at;
	if (s->reload_due_at != 0 && s->reload_due_at < d)
		d = s->reload_due_at;
	return d;
}

int
schedule_due(struct schedule *s, long long now, int *full)
{
	if (s->settle_at != 0 && now < s->settle_at)
		return 0;
	*full = s->full || (s->reload_retry_at != 0 &&
	    now >= s->reload_retry_at) || now >= s->next_full ||
	    (s->reload_due_at != 0 && now >= s->reload_due_at);
	return s->settle_at != 0 || *full ||
	    (s->retry_at != 0 && now >= s->retry_at);
}

int
schedule_certbot(struct schedule *s, const struct watch_conf *wc, long long now,
    int full)
{
	if (s->certbot_since == 0) {
		s->certbot_since = now;
		log_info("watch: certbot is running; syncing when it is done");
	}
	if (now - s->certbot_since >= (long long)wc->certbot_wait_s * 1000)
		return 0;
	s->full = full;
	s->settle_at = now + 1000;	/* look again */
	return 1;
}

static struct schedule_pending *
pend_find(struct schedule *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->npend; i++)
		if (strcmp(s->pend[i].name, name) == 0)
			return &s->pend[i];
	return NULL;
}

static void
pend_drop(struct schedule *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->npend; i++)
		if (strcmp(s->pend[i].name, name) == 0) {
			free(s->pend[i].name);
			s->pend[i] = s->pend[--s->npend];
			return;
		}
}

void
schedule_begin(struct schedule *s, const struct watch_conf *wc, int full,
    long long now, struct sync_opts *o)
{
	size_t nquiet = 0, nloud = 0, i;

	/* Pending lineages are looked at again: quietly while their time
	 * lasts, loudly once it is up. Lineages with fresh events are quiet:
	 * certbot may be mid-swap. */
	for (i = 0; i < s->npend; i++)
		add_dirty(s, s->pend[i].name);
	s->quiet = xcalloc(s->ndirty + 1, sizeof(char *));
	s->loud = xcalloc(s->npend + 1, sizeof(char *));
	for (i = 0; i < s->ndirty; i++) {
		struct schedule_pending *p = pend_find(s, s->dirty[i]);

		if (p != NULL && now - p->since >=
		    (long long)wc->report_after_s * 1000)
			s->loud[nloud++] = s->dirty[i];
		else
			s->quiet[nquiet++] = s->dirty[i];
	}
	s->run_start = now;
	o->daemon = 1;
	o->quiet = s->quiet;
	o->nquiet = nquiet;
	o->loud = s->loud;
	o->nloud = nloud;
	o->hold_reloads = s->last_reload != 0 && now - s->last_reload <
	    (long long)wc->reload_min_interval_s * 1000;
	s->reload_due_at = 0;
	if (!full) {
		o->only = s->dirty;
		o->nonly = s->ndirty;
	}
	log_debug("watch: sync (%s, %zu dirty, %zu quiet, %zu due)",
	    full ? "full" : "partial", s->ndirty, nquiet, nloud);
}

void
schedule_end(struct schedule *s, const struct watch_conf *wc, int full,
    long long now, const struct sync_result *res, int failed)
{
	size_t i;

	/* Deferred failures wait; anything looked at and not deferred is
	 * healed or has been reported. */
	for (i = 0; i < s->npend; ) {
		const char *n = s->pend[i].name;

		if ((full || strv_has(s->dirty, s->ndirty, n)) &&
		    !strv_has(res->deferred, res->ndeferred, n))
			pend_drop(s, n);
		else
			i++;
	}
	for (i = 0; i < res->ndeferred; i++)
		if (pend_find(s, res->deferred[i]) == NULL) {
			s->pend = xreallocarray(s->pend, s->npend + 1,
			    sizeof(*s->pend));
			s->pend[s->npend++] = (struct schedule_pending){
			    xstrdup(res->deferred[i]), s->run_start };
		}
	free(s->quiet);
	free(s->loud);
	s->quiet = s->loud = NULL;
	for (i = 0; i < s->ndirty; i++)
		free(s->dirty[i]);
	free(s->dirty);
	s->dirty = NULL;
	s->ndirty = 0;
	s->full = 0;
	s->first_event = s->settle_at = 0;
	s->certbot_since = 0;
	s->retry_at = s->npend ? now + wc->settle_ms : 0;

	if (res->reloaded)
		s->last_reload = now;
	if (res->reload_held) {
		s->reload_due_at = s->last_reload +
		    (long long)wc->reload_min_interval_s * 1000;
		log_info("watch: reloading in %lld ms (reload_min_interval_s)",
		    s->reload_due_at - now);
	}
	/* Dovecot held back at an earlier include is not a step to retry
	 * on a timer: it waits for SIGHUP or a new limit (guard.c,
	 * guard_still_held). */
	if (res->reload_failed || (failed && !res->dovecot_held)) {
		s->backoff_s = s->backoff_s ? s->backoff_s * 2 : 5;
		if (s->backoff_s > 600)
			s->backoff_s = 600;
		s->reload_retry_at = now + (long long)s->backoff_s * 1000;
		log_warn("watch: will try again in %d s", s->backoff_s);
	} else {
		s->backoff_s = 0;
		s->reload_retry_at = 0;
	}
	if (full)
		s->next_full = now + (long long)wc->resync_interval_s * 1000;
}
