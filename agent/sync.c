/*
 * sync.c - the pipeline of DESIGN.md, once: the orchestrator.
 *
 * sync_resync() reads as the pipeline: load (the renewal path's records,
 * or the whole state: migrate.c, then scan and validate: validate.c,
 * and plan: plan.c) -> diff against the applied state, once (diff.c)
 * -> render (postfix.c, dovecot.c; skipped when the last full plan says
 * what each output holds: renew.c) -> the default certificates
 * (reload.c, asked through services.c) -> commit (served files, the map
 * and the state's intent: commit.c; the include checked, rolled back or
 * held: guard.c) -> save, reload only what changed (reload.c), save what
 * the reloads changed -> remove the served files nothing names
 * (commit.c). Each stage takes the run's context (struct work_ctx) and
 * what the ones before it returned (work.h), and returns its own
 * result; the state to save is built here, from those results
 * (state_to_save), and nowhere else.
 *
 * A lineage's served file has a stable path (store.h): a renewal that
 * keeps its names rewrites that one file, the map entries of its names
 * in place and its state record; the include and the map source stay
 * byte-identical, so no config check runs, and Dovecot is reloaded to
 * read the new file. A bad lineage is reported and keeps its last good
 * pair; it never stops the others. Nothing changed: nothing written,
 * nothing reloaded, and it says so. Returns an enum sync_exit (exit.h).
 * Also `snisync check` (validate and report, write nothing) and
 * `snisync release`.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dovecot.h"
#include "expiry.h"
#include "fsio.h"
#include "log.h"
#include "migrate.h"
#include "plan.h"
#include "postfix.h"
#include "report.h"
#include "scan.h"
#include "services.h"
#include "state.h"
#include "status.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "work.h"

void
sync_result_free(struct sync_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ndeferred; i++)
		free(r->deferred[i]);
	free(r->deferred);
	memset(r, 0, sizeof(*r));
}

int
sync_release(const struct conf *c, char **names, size_t n)
{
	struct sync_opts o = { 0 };
	struct state st;
	struct plan plan;
	int rc = EXIT_SYNCED, bad = 0, held;
	size_t i, ix[2], nix, k;

	if (status_load(c, &st, &plan) == -1)
		return EXIT_APPLY;
	log_set_quiet(0);	/* the resync below speaks as resync does */
	o.only = xcalloc(2 * n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const struct plan_entry *e = status_find(&plan, names[i]);
		const char *lineage;

		if (e == NULL) {
			bad = 1;
			continue;
		}
		/* A dual-algorithm name: the lineage(s) with a hold. */
		nix = plan_entry_pairs(e, ix);
		for (k = 0, held = 0; k < nix; k++) {
			lineage = st.pairs[ix[k]].lineage;
			if (state_hold_of(&st, lineage) == NULL)
				continue;
			held = 1;
			if (!strv_has(o.only, o.nonly, lineage))
				o.only[o.nonly++] = xstrdup(lineage);
		}
		if (!held) {
			log_err("%s: no key change is held back for it "
			    "(lineage %s)", e->name,
			    log_esc(st.pairs[e->pair].lineage));
			bad = 1;
		}
	}
	if (o.nonly > 0) {
		o.release = o.only;
		o.nrelease = o.nonly;
		rc = sync_resync(c, &o);
	}
	for (i = 0; i < o.nonly; i++)
		free(o.only[i]);
	free(o.only);
	plan_free(&plan);
	state_free(&st);
	return rc == EXIT_SYNCED && bad ? EXIT_REJECTED : rc;
}

void
sync_forget(void)
{
	services_forget();
}

static int
take_lock(const struct conf *c)
{
	char *lock = xasprintf("%s/lock", c->state_dir);
	int fd = -1;

	if (fsio_mkdirs(c->state_dir, 0700) == 0)
		fd = fsio_lock(lock, c->lock_timeout);
	free(lock);
	if (fd == -2)
		log_err("another snisync run held the lock for %d s; giving up",
		    c->lock_timeout);
	return fd;
}

/* The names served: the renewal path's plan holds its lineages' alone. */
#define NNAMES(ld)	((ld)->partial ? (ld)->old.nnames : (ld)->plan.n)

/* What this run leaves, as the stages returned it; the state to save is
 * built from it and the load (state_to_save), in one place. */
struct outcome {
	struct map_id		 map;		/* commit_postfix() */
	int			 pending[SVC__MAX]; /* reloads due */
	struct svc_stats	 svc[SVC__MAX];	/* the applied counts, and
						   reload_run()'s */
	struct guard		 g;		/* Dovecot's side (guard.c) */
	struct out_ids		 ids;		/* renew_note_outputs() */
	int			 saved;		/* 1 saved (or found equal),
						   -1 failed, 0 not yet */
	int			 rolled_back;	/* Dovecot kept at the
						   include in service */
};

/* What this run rendered (NULL: nothing, the file on disk stands), and
 * what it read to decide (find_outputs). */
struct rendered {
	int			 same_plan;	/* the last full plan's */
	int			 lmdb_current;	/* the map is the state's */
	int			 pf_current, dc_current; /* the file that plan
						   left, from the same
						   inputs */
	int			 syntax_ok;	/* Dovecot's version known */
	enum dovecot_syntax	 syntax;
	char			*pf_src, *dc_text;
	size_t			 pf_len, dc_len;
};

/* --dry-run: what the run would write and reload, after the lines of
 * the names that change (diff_log). */
static void
print_dry_run(const struct work_ctx *x, const struct diff *d,
    const struct svc_run *sv, const char *lmdb)
{
	const struct conf *c = x->c;
	int i;

	if (sv[SVC_POSTFIX].change)
		printf("postfix: would rewrite %s and %s\n",
		    c->postfix.path, lmdb);
	if (sv[SVC_DOVECOT].change)
		printf("dovecot: would rewrite %s\n", c->dovecot.path);
	else if (sv[SVC_DOVECOT].files)
		printf("dovecot: would reload: served files replaced\n");
	if (d->nstage > 0)
		printf("store: would replace %zu served file%s in %s\n",
		    d->nstage, d->nstage == 1 ? "" : "s", x->served);
	for (i = 0; i < SVC__MAX; i++)
		if (sv[i].for_default && !sv[i].change)
			printf("%s: would reload: its default "
			    "certificate changed\n", sv[i].name);
		else if (sv[i].reload && !sv[i].change)
			printf("%s: would retry a failed reload\n",
			    sv[i].name);
	if (d->nlines == 0 && !sv[0].change && !sv[1].change &&
	    !sv[1].files && !sv[0].reload && !sv[1].reload)
		printf("nothing would change\n");
}

/* The lineages whose failure was not reported (maybe mid-swap): the
 * caller looks at them again. */
static void
note_deferred(const struct validated *v, struct sync_result *r)
{
	size_t i;

	for (i = 0; i < v->nfailing; i++)
		if (v->failing[i].deferred) {
			r->deferred = xreallocarray(r->deferred,
			    r->ndeferred + 1, sizeof(char *));
			r->deferred[r->ndeferred++] =
			    xstrdup(v->failing[i].lineage);
		}
}

/* What the run tells its caller (the daemon). */
static void
fill_result(const struct work_ctx *x, const struct loaded *ld,
    const struct svc_run *sv, int held, int failed, struct sync_result *r)
{
	const struct sync_opts *o = x->o;
	const int *was = ld->old.reload_pending;
	int due = (sv[0].reload || sv[1].reload) && !o->dry_run;

	r->changed = sv[0].written || sv[1].written;
	/* A reload that waits for a default certificate's lineage did not
	 * fail: that lineage's retry runs it. */
	r->reload_failed = !o->dry_run && !o->hold_reloads &&
	    ((sv[0].reload && !sv[0].hold) ||
	    (sv[1].reload && !sv[1].hold));
	r->reload_held = due && o->hold_reloads;
	r->reloaded = !o->hold_reloads && !o->dry_run &&
	    ((sv[0].written && !sv[0].reload) ||
	    (sv[1].written && !sv[1].reload) ||
	    (sv[0].for_default && !sv[0].reload) ||
	    (sv[1].for_default && !sv[1].reload) ||
	    (was[0] && !sv[0].reload) || (was[1] && !sv[1].reload));
	r->dovecot_held = held && !failed;
	r->nlineages = ld->sc.n;
	r->nnames = NNAMES(ld);
	r->nrejected = ld->v.nrejected;
}

/* Scan, validate, plan: ld->old (read) becomes a load. 0, or -1
 * (logged) when the tree cannot be read. */
static int
gather(const struct work_ctx *x, struct loaded *ld, struct store_list *ls)
{
	size_t i;

	state_sort_pairs(&ld->old);
	if (validate_scan(x, &ld->old, ls, &ld->sc) == -1)
		return -1;
	validate_run(x, &ld->old, &ld->sc, ls, &ld->v);
	plan_build(ld->v.pairs, ld->v.npairs, &ld->plan);
	plan_build(ld->old.pairs, ld->old.n, &ld->oldplan);
	for (i = 0; i < ld->plan.nc; i++) {
		const struct plan_conflict *c = &ld->plan.c[i];
		const struct pair *win = &ld->v.pairs[c->winner];
		const struct pair *lose = &ld->v.pairs[c->loser];

		log_info("name %s: lineage %s (issued %s) wins over lineage "
		    "%s (issued %s)", c->name, log_esc(win->lineage),
		    fmt_utc(win->not_before), log_esc(lose->lineage),
		    fmt_utc(lose->not_before));
	}
	return 0;
}

/* Load: the renewal path's records, or the whole state and tree. 0, or
 * -1 (logged) when nothing may change. */
static int
load_run(const struct work_ctx *x, const char *lmdb, struct timing *tm,
    struct loaded *ld, struct store_list *ls)
{
	struct loaded t = { 0 };
	struct store_list tls = { 0 };
	const char *why;

	/* The renewal path is tried on a load of its own: taken, it is this
	 * run's; not taken, it is dropped whole, with what it logged. */
	if ((why = renew_ready(x, lmdb, &t)) == NULL) {
		timing_mark(tm, PH_LOAD);
		log_defer();
		why = gather(x, &t, &tls) == -1 ? "the tree cannot be read" :
		    renew_fits(&t);
		log_defer_end(why == NULL);
		if (why == NULL) {
			renew_take(&t);
			*ld = t;
			*ls = tls;
			return 0;
		}
	}
	if (why[0] != '\0')
		log_debug("renewal path not taken (%s): reading the whole "
		    "state", why);
	work_free_loaded(&t);
	work_free_list(&tls);
	if (migrate_load(x->c->state_dir, !x->o->dry_run, !x->o->dry_run,
	    &ld->old) == -1)
		return -1;
	timing_mark(tm, PH_LOAD);
	return gather(x, ld, ls);
}

/* What the run starts from: the services' counts and Dovecot's side as
 * the state left them, each service's switch and pending reload, the
 * map's identity; temp files a killed run left are removed. */
static void
begin_outputs(const struct work_ctx *x, const struct loaded *ld,
    struct svc_run *sv, const char *lmdb, struct outcome *out)
{
	const struct conf *c = x->c;
	int i;

	out->svc[0] = ld->old.svc[0];
	out->svc[1] = ld->old.svc[1];
	guard_init(&out->g, &ld->old.dovecot);
	log_debug("scan: %zu lineages, %zu read and validated, %zu unchanged "
	    "since they were applied", ld->sc.n, ld->v.nvalidated,
	    ld->sc.n - ld->v.nvalidated);
	if (!x->o->dry_run) {
		/* A killed run may have left temp files; we hold the lock. */
		fsio_clean_temps(c->postfix.path);
		fsio_clean_temps(lmdb);
		fsio_clean_temps(c->dovecot.path);
		fsio_clean_temps_in(x->staging, NULL);
	}
	out->map.have = ld->old.have_lmdb;
	out->map.id = ld->old.lmdb;
	for (i = 0; i < SVC__MAX; i++) {
		sv[i].on = x->on[i];
		if (sv[i].on) {
			sv[i].status = "unchanged";
			sv[i].reload = ld->old.reload_pending[i];
		}
	}
}

/* What rendering depends on besides the plan, read from disk and asked
 * of the services: whether the last full plan's outputs stand, and
 * Dovecot's version. Only what the run needs is looked at. */
static void
find_outputs(const struct work_ctx *x, const struct loaded *ld,
    const struct diff *d, const struct svc_run *sv, const char *lmdb,
    struct rendered *r)
{
	if (ld->partial)
		return;		/* the renewal path renders nothing */
	r->same_plan = renew_plan_unchanged(x, ld, d);
	r->lmdb_current = sv[SVC_POSTFIX].on &&
	    commit_lmdb_current(&ld->old, lmdb);
	r->pf_current = sv[SVC_POSTFIX].on && r->same_plan &&
	    r->lmdb_current && renew_output_current(x, &ld->old, 0,
	    SVC_POSTFIX);
	r->syntax_ok = sv[SVC_DOVECOT].on &&
	    services_syntax(x->c, &r->syntax) == 0;
	r->dc_current = r->syntax_ok && r->same_plan &&
	    renew_output_current(x, &ld->old, r->syntax, SVC_DOVECOT);
}

/* Render: each service's output, unless the renewal path or the last
 * full plan says what it would be. Pure. */
static void
render_outputs(const struct work_ctx *x, const struct loaded *ld,
    const struct svc_run *sv, struct rendered *r)
{
	if (ld->partial)
		return;
	if (sv[SVC_POSTFIX].on && !r->pf_current)
		r->pf_src = postfix_source(&ld->plan, ld->v.pairs, x->served,
		    &r->pf_len);
	if (r->syntax_ok && !r->dc_current)
		r->dc_text = dovecot_render(&ld->plan, ld->v.pairs, x->served,
		    r->syntax, &r->dc_len);
}

/* Whether each output differs from the file in service (sv[i].change,
 * .files). 1 when Dovecot's version cannot be told (it is left off),
 * else 0. */
static int
compare_outputs(const struct work_ctx *x, const struct loaded *ld,
    const struct diff *d, const struct rendered *r, struct svc_run *sv)
{
	struct svc_run *pf = &sv[SVC_POSTFIX], *dc = &sv[SVC_DOVECOT];

	if (pf->on && ld->partial)
		pf->change = d->nserving > 0;	/* entries alone */
	else if (pf->on && r->pf_src != NULL)
		pf->change = d->nserving > 0 || !r->lmdb_current ||
		    !commit_file_equals(x->c->postfix.path, r->pf_src,
		    r->pf_len);
	if (dc->on && ld->partial)
		dc->files = d->nserving > 0;	/* same include */
	else if (dc->on && !r->syntax_ok) {
		dc->on = dc->reload = 0;
		dc->status = "version unknown, not written";
		return 1;
	} else if (dc->on && r->dc_text != NULL) {
		dc->change = !commit_file_equals(x->c->dovecot.path,
		    r->dc_text, r->dc_len);
		/* The include names served files; new content is read at
		 * Dovecot's reload, with no new include to check. */
		dc->files = d->nserving > 0;
	}
	return 0;
}

/* Commit: the served files, the intent, the map, the include (checked,
 * or held back). 0, or -1 (logged) when nothing more may be done. */
static int
commit_outputs(const struct work_ctx *x, struct loaded *ld,
    const struct diff *d, struct svc_run *sv, const struct rendered *r,
    struct outcome *out, struct timing *tm)
{
	struct svc_run *pf = &sv[SVC_POSTFIX], *dc = &sv[SVC_DOVECOT];
	int i;

	if (commit_store(x, &ld->v, d) == -1) {
		log_err("store: cannot write %s; outputs left as they were",
		    x->served);
		return -1;
	}
	/* Before replacing a service's files, record that it will need a
	 * reload: if this run dies between the two, the next one sees
	 * unchanged files and must still reload. */
	timing_mark(tm, PH_WRITE);
	if (commit_save_intent(x, &ld->old, sv) == -1)
		return -1;
	timing_mark(tm, PH_SAVE);
	if (pf->change) {
		if (commit_postfix(x, ld, d, r->pf_src, r->pf_len,
		    &out->map.id) == -1) {
			pf->status = "write failed, previous map kept";
			pf->failed = 1;
			/* The state records the new pairs: the next run must
			 * not take that map for theirs. */
			out->map.have = 0;
		} else {
			out->map.have = 1;
			pf->written = pf->reload = 1;
			pf->status = "updated";
		}
	}
	if (dc->on && !dc->change)
		guard_unhold(&out->g);	/* the include has every name */
	if (dc->change && guard_still_held(x, &ld->plan, &out->g)) {
		dc->status = "held back, not retried";
		dc->held_back = out->rolled_back = 1;
	} else if (dc->change) {
		if ((i = guard_write(x, &ld->plan, r->syntax, &out->g,
		    r->dc_text, r->dc_len)) < 0) {
			dc->status = i == -2 ? "too big for service config's "
			    "vsz_limit, previous config kept" : "rejected by "
			    "its check, previous config kept";
			if (i == -2) {
				guard_hold(x, &ld->plan, &out->g,
				    DOVECOT_HOLD_NO_FIT);
				dc->held_back = 1;
			} else
				dc->failed = 1;
			out->rolled_back = 1;
		} else {
			dc->written = dc->reload = 1;
			dc->status = "updated";
		}
	}
	if (dc->files && !dc->written && !dc->failed) {
		/* Renewed pairs in files the include in service names:
		 * Dovecot reads them at its reload. */
		dc->reload = 1;
		if (!dc->held_back)
			dc->status = "certificate files replaced";
	}
	/* Record due reloads first: a crash before they run must not lose
	 * them (the next run sees unchanged files). */
	out->pending[SVC_POSTFIX] = pf->reload;
	out->pending[SVC_DOVECOT] = dc->reload;
	return 0;
}

/* The state this run leaves, borrowing the load's arrays: built here
 * alone, from what the stages returned. */
static void
state_to_save(const struct loaded *ld, const struct outcome *out,
    struct state *st)
{
	memset(st, 0, sizeof(*st));
	st->pairs = ld->v.pairs;
	st->n = ld->v.npairs;
	st->errs = ld->v.errs;
	st->nerrs = ld->v.nerrs;
	st->counts = ld->v.counts;
	st->ncounts = ld->v.ncounts;
	st->holds = ld->v.holds;
	st->nholds = ld->v.nholds;
	st->have_lmdb = out->map.have;
	if (out->map.have)
		st->lmdb = out->map.id;
	memcpy(st->reload_pending, out->pending, sizeof(st->reload_pending));
	memcpy(st->svc, out->svc, sizeof(st->svc));
	st->dovecot = out->g.dc;
	memcpy(st->out_id, out->ids.id, sizeof(st->out_id));
	st->nnames = out->ids.nnames;
	memcpy(st->render_key, out->ids.key, sizeof(st->render_key));
}

/* Saves the state this run leaves (run_only: after a first save, only
 * its run record can differ). 1 when it could not, else 0. */
static int
save(const struct work_ctx *x, struct loaded *ld, struct outcome *out,
    int run_only)
{
	struct state st;
	int rc;

	state_to_save(ld, out, &st);
	rc = commit_save_state(x, &ld->old, &st, run_only && out->saved == 1);
	out->saved = rc == -1 ? -1 : 1;
	return rc == -1;
}

/* The default certificates: what reload_defaults() found, recorded. */
static void
defaults_outputs(const struct work_ctx *x, const struct loaded *ld,
    struct svc_run *sv)
{
	struct defaults_due dd;
	int i;

	reload_defaults(x, &ld->v, sv, &dd);
	for (i = 0; i < SVC__MAX; i++) {
		sv[i].for_default = dd.for_default[i];
		sv[i].hold = dd.hold[i];
		sv[i].reload |= dd.reload[i];
	}
}

/* Reloads: reload_run(), and when Dovecot completes no handshake after
 * the reload of the new include, that include is put back (guard.c),
 * reloaded, and Dovecot held back. What they did is recorded in sv, the
 * counts in out->svc. */
static void
reload_outputs(const struct work_ctx *x, const struct loaded *ld,
    struct svc_run *sv, struct outcome *out)
{
	struct reload_out ro;
	int i;

	reload_run(x, &ld->plan, &out->g, sv, &ro);
	if (ro.no_handshake) {
		guard_restore(x, &out->g);
		reload_rollback(x, &out->g, sv, &ro);
		guard_hold(x, &ld->plan, &out->g, DOVECOT_HOLD_NO_HANDSHAKE);
		/* The include in service is the previous one again. */
		sv[SVC_DOVECOT].written = 0;
		sv[SVC_DOVECOT].held_back = 1;
	}
	for (i = 0; i < SVC__MAX; i++) {
		if (ro.status[i] != NULL)
			sv[i].status = ro.status[i];
		if (ro.reloaded[i])
			sv[i].reload = 0;
		sv[i].failed |= ro.failed[i];
		out->svc[i].reloads += ro.svc[i].reloads;
		out->svc[i].failures += ro.svc[i].failures;
		if (ro.svc[i].last_reload != 0)
			out->svc[i].last_reload = ro.svc[i].last_reload;
	}
	reload_out_free(&ro);
}

/* Save, reload, save what the reloads changed. 1 when the state could
 * not be saved, else 0. */
static int
save_and_reload(const struct work_ctx *x, struct loaded *ld,
    struct svc_run *sv, const struct rendered *r, struct outcome *out,
    struct timing *tm)
{
	const struct sync_opts *o = x->o;
	struct outcome before;
	int i, failed = 0;

	if (!ld->partial)
		renew_mark_sole(&ld->plan, ld->v.pairs, ld->v.npairs);
	renew_note_outputs(x, ld, r->syntax, sv, &out->g.dc, &out->ids);
	failed |= save(x, ld, out, 0);
	timing_mark(tm, PH_SAVE);
	before = *out;
	if (o->hold_reloads) {
		for (i = 0; i < SVC__MAX; i++)
			if (sv[i].reload)
				sv[i].status = o->defer_reload ? "updated, "
				    "reload deferred to the next run "
				    "(--defer-reload)" : "updated, reload held "
				    "back (reload_min_interval_s)";
	} else
		reload_outputs(x, ld, sv, out);
	timing_mark(tm, PH_RELOAD);
	if (sv[SVC_DOVECOT].held_back)
		out->rolled_back = 1;
	else if (sv[SVC_DOVECOT].written && !sv[SVC_DOVECOT].reload)
		guard_unhold(&out->g);	/* applied and reloaded */
	renew_note_outputs(x, ld, r->syntax, sv, &out->g.dc, &out->ids);
	out->pending[SVC_POSTFIX] = sv[SVC_POSTFIX].reload;
	out->pending[SVC_DOVECOT] = sv[SVC_DOVECOT].reload;
	if (memcmp(&before.ids, &out->ids, sizeof(out->ids)) != 0 ||
	    memcmp(before.pending, out->pending, sizeof(out->pending)) != 0 ||
	    memcmp(before.svc, out->svc, sizeof(out->svc)) != 0 ||
	    memcmp(&before.g.dc, &out->g.dc, sizeof(out->g.dc)) != 0)
		failed |= save(x, ld, out, 1);
	timing_mark(tm, PH_SAVE);
	return failed;
}

/* The run's one line: what changed, or that nothing did. */
static void
log_summary(const struct work_ctx *x, const struct loaded *ld,
    const struct diff *d, const struct svc_run *sv, int held)
{
	if (d->nlines == 0 && !sv[0].written && !sv[1].written &&
	    !sv[0].failed && !sv[1].failed && !held &&
	    !ld->old.reload_pending[0] && !ld->old.reload_pending[1] &&
	    !sv[0].for_default && !sv[1].for_default)
		(x->o->daemon ? log_debug : log_info)("nothing changed: %zu "
		    "lineages, %zu names, %zu rejected; nothing written, "
		    "nothing reloaded", ld->sc.n, NNAMES(ld), ld->v.nrejected);
	else
		log_info("synced: %zu lineages, %zu names, %zu rejected; "
		    "postfix: %s; dovecot: %s", ld->sc.n, NNAMES(ld),
		    ld->v.nrejected, sv[SVC_POSTFIX].status,
		    sv[SVC_DOVECOT].status);
}

/* The end of a run that got as far as comparing: the exit code, the
 * caller's result, the stamp and metrics files, the timing line. */
static int
finish_run(const struct work_ctx *x, const struct loaded *ld,
    const struct svc_run *sv, const struct outcome *out, int failed,
    struct timing *tm)
{
	int held = sv[SVC_DOVECOT].held_back, rc = EXIT_SYNCED;
	struct state st;

	if (failed || held)
		rc = EXIT_APPLY;
	else if (ld->v.nrejected > 0)
		rc = EXIT_REJECTED;
	if (x->o->result != NULL)
		fill_result(x, ld, sv, held, failed, x->o->result);
	if (!x->o->dry_run) {
		state_to_save(ld, out, &st);
		commit_finish(x, &st, &ld->plan, rc);
		timing_mark(tm, PH_GC);
		timing_report(tm, out->g.check_ms);
	}
	return rc;
}

/*
 * The pipeline: load (scan, validate, plan) -> diff -> render ->
 * default certificates -> commit -> save and reload -> clean up, each
 * stage a function of what the ones before it returned.
 */
int
sync_resync(const struct conf *c, const struct sync_opts *o)
{
	struct svc_run sv[SVC__MAX] = {
		{ .name = "postfix", .conf = &c->postfix, .status = "off" },
		{ .name = "dovecot", .conf = &c->dovecot, .status = "off" },
	};
	struct work_ctx x;
	struct loaded ld = { 0 };
	struct store_list ls = { 0 };
	struct diff d = { 0 };
	struct rendered r = { 0 };
	struct outcome out = { 0 };
	struct timing tm;
	char *lmdb = xasprintf("%s.lmdb", c->postfix.path);
	int lockfd = -1, rc = EXIT_APPLY, failed;

	timing_start(&tm);
	work_init(&x, c, o);
	if (!o->dry_run && (lockfd = take_lock(c)) < 0) {
		rc = lockfd == -2 ? EXIT_LOCKED : EXIT_APPLY;
		goto out;
	}
	timing_mark(&tm, PH_LOAD);	/* the lock wait too */
	services_begin(c, o->daemon);
	services_on(c, x.on);
	if (load_run(&x, lmdb, &tm, &ld, &ls) == -1) {
		log_err("nothing changed");
		goto out;
	}
	timing_mark(&tm, PH_GATHER);
	begin_outputs(&x, &ld, sv, lmdb, &out);
	diff_build(&x, &ld, &ls, &d);
	find_outputs(&x, &ld, &d, sv, lmdb, &r);
	render_outputs(&x, &ld, sv, &r);
	failed = compare_outputs(&x, &ld, &d, &r, sv);
	timing_mark(&tm, PH_RENDER);
	defaults_outputs(&x, &ld, sv);
	timing_mark(&tm, PH_DEFAULTS);
	diff_log(&x, &ld, &d, o->dry_run);
	if (o->dry_run) {
		print_dry_run(&x, &d, sv, lmdb);
		rc = finish_run(&x, &ld, sv, &out, failed, &tm);
		goto out;
	}
	timing_mark(&tm, PH_RENDER);
	if (commit_outputs(&x, &ld, &d, sv, &r, &out, &tm) == -1)
		goto out;
	timing_mark(&tm, PH_WRITE);
	tm.us[PH_WRITE] -= out.g.check_ms * 1000;
	tm.us[PH_CHECK] += out.g.check_ms * 1000;
	failed |= save_and_reload(&x, &ld, sv, &r, &out, &tm);
	commit_gc(&x, &ld, &ls, out.rolled_back);
	timing_mark(&tm, PH_GC);
	failed |= sv[SVC_POSTFIX].failed | sv[SVC_DOVECOT].failed;
	log_summary(&x, &ld, &d, sv, sv[SVC_DOVECOT].held_back);
	rc = finish_run(&x, &ld, sv, &out, failed, &tm);
out:
	if (o->result != NULL)
		note_deferred(&ld.v, o->result);
	if (lockfd >= 0)
		close(lockfd);
	free(r.pf_src);
	free(r.dc_text);
	free(lmdb);
	diff_free(&d);
	guard_free(&out.g);
	work_free_list(&ls);
	work_free_loaded(&ld);
	work_free(&x);
	return rc;
}

/* ---- check ---- */

static const struct pair *
pair_of(const struct validated *v, const char *lineage)
{
	size_t i;

	for (i = 0; i < v->npairs; i++)
		if (strcmp(v->pairs[i].lineage, lineage) == 0)
			return &v->pairs[i];
	return NULL;
}

int
sync_check(const struct conf *c, int json)
{
	struct sync_opts o = { 0 };
	struct report_row *rows;
	struct work_ctx x;
	struct loaded ld = { 0 };
	struct store_list ls = { 0 };
	const struct validated *v = &ld.v;
	size_t i, j;
	int rc = EXIT_APPLY, days = c->watch.expiry_warn_days;

	work_init(&x, c, &o);
	log_set_quiet(1);
	if (migrate_load(c->state_dir, 0, 0, &ld.old) == -1 ||
	    gather(&x, &ld, &ls) == -1)
		goto out;
	rows = xcalloc(ld.sc.n + 1, sizeof(*rows));
	for (i = 0; i < ld.sc.n; i++) {
		struct report_row *r = &rows[i];
		const char *ln = ld.sc.v[i].name;

		r->lineage = ln;
		r->pair = pair_of(v, ln);
		r->verdict = r->pair == NULL ? "rejected" :
		    r->pair->last_good ? "last-good" : "ok";
		for (j = 0; j < v->nerrs; j++)
			if (strcmp(v->errs[j].lineage, ln) == 0) {
				r->file = v->errs[j].file;
				r->error = v->errs[j].error;
			}
		r->expiry_due = r->pair != NULL && expiry_due(days,
		    r->pair->not_before, r->pair->not_after, (long long)x.now);
		r->served = xcalloc(ld.plan.n + 1, sizeof(char *));
		for (j = 0; j < ld.plan.n; j++)
			if (plan_entry_serves(&ld.plan.e[j], v->pairs, ln))
				r->served[r->nserved++] = ld.plan.e[j].name;
	}
	if (json) {
		char *text = report_json(rows, ld.sc.n, (long long)x.now);

		printf("%s\n", text);
		free(text);
	} else {
		printf("%-28s %-10s %-26s %s\n", "LINEAGE", "VERDICT",
		    "EXPIRES", "NAMES / REASON");
		for (i = 0; i < ld.sc.n; i++) {
			const struct report_row *r = &rows[i];
			char exp[64] = "-", left[32];

			if (r->pair != NULL)
				snprintf(exp, sizeof(exp), "%.10s (%s)%s",
				    fmt_utc(r->pair->not_after), expiry_left(
				    left, sizeof(left), r->pair->not_after -
				    (long long)x.now), r->expiry_due ? "!" :
				    "");
			printf("%-28s %-10s %-26s", log_esc(r->lineage),
			    r->verdict, exp);
			for (j = 0; j < r->nserved; j++)
				printf(" %s", r->served[j]);
			if (r->error != NULL)
				printf("%s%s%s%s", r->nserved ? " | " : " ",
				    r->file ? r->file : "", r->file ? ": " : "",
				    r->error);
			printf("\n");
		}
		for (i = 0; i < ld.sc.n; i++) {
			const struct pair *p = rows[i].pair;
			char left[32], rule[80];

			if (rows[i].expiry_due)
				printf("! %s: renewal overdue: expires in %s; "
				    "%s\n", log_esc(rows[i].lineage),
				    expiry_left(left, sizeof(left),
				    p->not_after - (long long)x.now),
				    expiry_rule(rule, sizeof(rule), days,
				    p->not_before, p->not_after));
		}
	}
	rc = v->nrejected > 0 ? EXIT_REJECTED : EXIT_SYNCED;
	for (i = 0; i < ld.sc.n; i++)
		free(rows[i].served);
	free(rows);
out:
	work_free_list(&ls);
	work_free_loaded(&ld);
	work_free(&x);
	return rc;
}
