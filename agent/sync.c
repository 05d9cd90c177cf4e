/*
 * sync.c - the pipeline of DESIGN.md, once: the orchestrator.
 *
 * sync_resync() reads as the pipeline: load (the renewal path's records,
 * or the whole state: migrate.c, then scan, validate and plan:
 * validate.c) -> diff against the applied state, once (diff.c) ->
 * render (postfix.c, dovecot.c; skipped when the last full plan says
 * what each output holds: renew.c) -> the default certificates
 * (reload.c, asked through services.c) -> commit (served files, the map
 * and the state's intent: commit.c; the include checked, rolled back or
 * held: guard.c) -> save, reload only what changed (reload.c), save what
 * the reloads changed -> remove the served files nothing names
 * (commit.c). Each stage is a function here of what the ones before it
 * returned, and of struct work (work.h), which still carries the state
 * read, the pairs and the plan.
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
#define NNAMES(w)	((w)->partial ? (w)->old.nnames : (w)->plan.n)

/* --dry-run: what the run would write and reload, after the lines of
 * the names that change (diff_log). */
static void
print_dry_run(const struct work *w, const struct diff *d,
    const struct svc_run *sv, const char *lmdb)
{
	const struct conf *c = w->c;
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
		    d->nstage, d->nstage == 1 ? "" : "s", w->served);
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
note_deferred(const struct work *w, struct sync_result *r)
{
	size_t i;

	for (i = 0; i < w->nfailing; i++)
		if (w->failing[i].deferred) {
			r->deferred = xreallocarray(r->deferred,
			    r->ndeferred + 1, sizeof(char *));
			r->deferred[r->ndeferred++] =
			    xstrdup(w->failing[i].lineage);
		}
}

/* What the run tells its caller (the daemon). */
static void
fill_result(const struct work *w, const struct svc_run *sv, int held,
    int failed, struct sync_result *r)
{
	const struct sync_opts *o = w->o;
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
	    (w->old.reload_pending[0] && !sv[0].reload) ||
	    (w->old.reload_pending[1] && !sv[1].reload));
	r->dovecot_held = held && !failed;
	r->nlineages = w->sc.n;
	r->nnames = NNAMES(w);
	r->nrejected = w->nrejected;
}

/* The map the state records: its identity, and whether this run leaves
 * one (a failed write leaves none the state may trust). */
struct map_id {
	int		have;
	struct fsio_id	id;
};

/* What this run rendered (NULL: nothing, the file on disk stands). */
struct rendered {
	char	*pf_src, *dc_text;
	size_t	 pf_len, dc_len;
};

/* Load: the renewal path's records, or the whole state and tree. 0, or
 * -1 (logged) when nothing may change. */
static int
load_run(struct work *w, const char *lmdb, struct timing *tm)
{
	const struct conf *c = w->c;
	const struct sync_opts *o = w->o;
	struct work t;
	int on[SVC__MAX];

	services_begin(c, o->daemon);
	services_on(c, on);
	w->postfix_on = on[SVC_POSTFIX];
	w->dovecot_on = on[SVC_DOVECOT];
	/* The renewal path is tried on a run of its own: taken, it is this
	 * run; not taken, it is dropped whole. */
	work_init(&t, c, o);
	t.postfix_on = w->postfix_on;
	t.dovecot_on = w->dovecot_on;
	if (renew_try(&t, lmdb, tm)) {
		work_free(w);
		*w = t;
		return 0;
	}
	work_free(&t);
	if (migrate_load(c->state_dir, !o->dry_run, !o->dry_run,
	    &w->old) == -1)
		return -1;
	timing_mark(tm, PH_LOAD);
	return validate_gather(w, o);
}

/* What the run starts from: the services' counts and Dovecot's side as
 * the state left them, each service's switch and pending reload, the
 * map's identity; temp files a killed run left are removed. */
static void
begin_outputs(struct work *w, struct svc_run *sv, const char *lmdb,
    struct map_id *m)
{
	const struct conf *c = w->c;
	int i;

	w->svc[0] = w->old.svc[0];
	w->svc[1] = w->old.svc[1];
	w->dc = w->old.dovecot;
	log_debug("scan: %zu lineages, %zu read and validated, %zu unchanged "
	    "since they were applied", w->sc.n, w->nvalidated,
	    w->sc.n - w->nvalidated);
	if (!w->o->dry_run) {
		/* A killed run may have left temp files; we hold the lock. */
		fsio_clean_temps(c->postfix.path);
		fsio_clean_temps(lmdb);
		fsio_clean_temps(c->dovecot.path);
		fsio_clean_temps_in(w->staging, NULL);
	}
	sv[SVC_POSTFIX].on = w->postfix_on;
	sv[SVC_DOVECOT].on = w->dovecot_on;
	m->have = w->old.have_lmdb;
	m->id = w->old.lmdb;
	for (i = 0; i < SVC__MAX; i++)
		if (sv[i].on) {
			sv[i].status = "unchanged";
			sv[i].reload = w->old.reload_pending[i];
		}
}

/* Render: each service's output, unless the renewal path or the last
 * full plan says what it would be; whether it differs from the file in
 * service (sv[i].change, .files). 1 when Dovecot's version cannot be
 * told (it is left off), else 0. */
static int
render_outputs(struct work *w, const struct diff *d, struct svc_run *sv,
    const char *lmdb, struct rendered *r)
{
	const struct conf *c = w->c;
	int same_plan = renew_plan_unchanged(w, d), failed = 0;
	struct svc_run *pf = &sv[SVC_POSTFIX], *dc = &sv[SVC_DOVECOT];

	if (pf->on && w->partial)
		pf->change = d->nserving > 0;	/* entries alone */
	else if (pf->on && same_plan && commit_lmdb_current(w, lmdb) &&
	    renew_output_current(w, SVC_POSTFIX))
		pf->change = 0;			/* nothing to render */
	else if (pf->on) {
		r->pf_src = postfix_source(&w->plan, w->pairs, w->served,
		    &r->pf_len);
		pf->change = d->nserving > 0 || !commit_lmdb_current(w, lmdb) ||
		    !commit_file_equals(c->postfix.path, r->pf_src, r->pf_len);
	}
	if (dc->on && w->partial)
		dc->files = d->nserving > 0;	/* same include */
	else if (dc->on && services_syntax(c, &w->syntax) == -1) {
		dc->on = dc->reload = 0;
		dc->status = "version unknown, not written";
		failed = 1;
	} else if (dc->on && same_plan && renew_output_current(w, SVC_DOVECOT))
		dc->change = dc->files = 0;
	else if (dc->on) {
		r->dc_text = dovecot_render(&w->plan, w->pairs, w->served,
		    w->syntax, &r->dc_len);
		dc->change = !commit_file_equals(c->dovecot.path, r->dc_text,
		    r->dc_len);
		/* The include names served files; new content is read at
		 * Dovecot's reload, with no new include to check. */
		dc->files = d->nserving > 0;
	}
	return failed;
}

/* Commit: the served files, the intent, the map, the include (checked,
 * or held back). 0, or -1 (logged) when nothing more may be done. */
static int
commit_outputs(struct work *w, const struct diff *d, struct svc_run *sv,
    const struct rendered *r, struct map_id *m, int *rolled_back,
    struct timing *tm)
{
	struct svc_run *pf = &sv[SVC_POSTFIX], *dc = &sv[SVC_DOVECOT];
	int i;

	if (commit_store(w, d) == -1) {
		log_err("store: cannot write %s; outputs left as they were",
		    w->served);
		return -1;
	}
	/* Before replacing a service's files, record that it will need a
	 * reload: if this run dies between the two, the next one sees
	 * unchanged files and must still reload. */
	timing_mark(tm, PH_WRITE);
	if (commit_save_intent(w, sv) == -1)
		return -1;
	timing_mark(tm, PH_SAVE);
	if (pf->change) {
		if (commit_postfix(w, d, r->pf_src, r->pf_len, &m->id) == -1) {
			pf->status = "write failed, previous map kept";
			pf->failed = 1;
			/* The state records the new pairs: the next run must
			 * not take that map for theirs. */
			m->have = 0;
		} else {
			m->have = 1;
			pf->written = pf->reload = 1;
			pf->status = "updated";
		}
	}
	if (dc->on && !dc->change)
		guard_unhold(w);	/* the include has every name */
	if (dc->change && guard_still_held(w, w->o)) {
		dc->status = "held back, not retried";
		dc->held_back = *rolled_back = 1;
	} else if (dc->change) {
		if ((i = guard_write(w, r->dc_text, r->dc_len)) < 0) {
			dc->status = i == -2 ? "too big for service config's "
			    "vsz_limit, previous config kept" : "rejected by "
			    "its check, previous config kept";
			if (i == -2) {
				guard_hold(w, DOVECOT_HOLD_NO_FIT);
				dc->held_back = 1;
			} else
				dc->failed = 1;
			*rolled_back = 1;
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
	w->reload_pending[SVC_POSTFIX] = pf->reload;
	w->reload_pending[SVC_DOVECOT] = dc->reload;
	return 0;
}

/* Save, reload, save what the reloads changed. 1 when the state could
 * not be saved, else 0. */
static int
save_and_reload(struct work *w, struct svc_run *sv, const struct map_id *m,
    int *rolled_back, struct timing *tm)
{
	const struct sync_opts *o = w->o;
	struct svc_stats svc_before[2];
	struct dovecot_state dc_before;
	struct fsio_id out_before[2];
	int i, failed = 0;

	if (!w->partial)
		renew_mark_sole(w);
	renew_note_outputs(w, sv);
	if (commit_save_state(w, &m->id, m->have, 0) == -1)
		failed = 1;
	timing_mark(tm, PH_SAVE);
	memcpy(svc_before, w->svc, sizeof(svc_before));
	dc_before = w->dc;
	memcpy(out_before, w->out_id, sizeof(out_before));
	if (o->hold_reloads) {
		for (i = 0; i < SVC__MAX; i++)
			if (sv[i].reload)
				sv[i].status = o->defer_reload ? "updated, "
				    "reload deferred to the next run "
				    "(--defer-reload)" : "updated, reload held "
				    "back (reload_min_interval_s)";
	} else
		reload_run(w, sv);
	timing_mark(tm, PH_RELOAD);
	if (sv[SVC_DOVECOT].held_back)
		*rolled_back = 1;
	else if (sv[SVC_DOVECOT].written && !sv[SVC_DOVECOT].reload)
		guard_unhold(w);	/* applied and reloaded */
	renew_note_outputs(w, sv);
	if (memcmp(out_before, w->out_id, sizeof(out_before)) != 0 ||
	    w->reload_pending[SVC_POSTFIX] != sv[SVC_POSTFIX].reload ||
	    w->reload_pending[SVC_DOVECOT] != sv[SVC_DOVECOT].reload ||
	    memcmp(svc_before, w->svc, sizeof(svc_before)) != 0 ||
	    memcmp(&dc_before, &w->dc, sizeof(dc_before)) != 0) {
		w->reload_pending[SVC_POSTFIX] = sv[SVC_POSTFIX].reload;
		w->reload_pending[SVC_DOVECOT] = sv[SVC_DOVECOT].reload;
		if (commit_save_state(w, &m->id, m->have, 1) == -1)
			failed = 1;
	}
	timing_mark(tm, PH_SAVE);
	return failed;
}

/* The run's one line: what changed, or that nothing did. */
static void
log_summary(const struct work *w, const struct diff *d,
    const struct svc_run *sv, int held)
{
	if (d->nlines == 0 && !sv[0].written && !sv[1].written &&
	    !sv[0].failed && !sv[1].failed && !held &&
	    !w->old.reload_pending[0] && !w->old.reload_pending[1] &&
	    !sv[0].for_default && !sv[1].for_default)
		(w->o->daemon ? log_debug : log_info)("nothing changed: %zu "
		    "lineages, %zu names, %zu rejected; nothing written, "
		    "nothing reloaded", w->sc.n, NNAMES(w), w->nrejected);
	else
		log_info("synced: %zu lineages, %zu names, %zu rejected; "
		    "postfix: %s; dovecot: %s", w->sc.n, NNAMES(w),
		    w->nrejected, sv[SVC_POSTFIX].status,
		    sv[SVC_DOVECOT].status);
}

/*
 * The pipeline: load -> diff -> render -> default certificates ->
 * commit -> save and reload -> clean up, each stage a function of what
 * the ones before it returned (and of struct work, which still carries
 * the state read and the plan: work.h).
 */
int
sync_resync(const struct conf *c, const struct sync_opts *o)
{
	struct svc_run sv[SVC__MAX] = {
		{ .name = "postfix", .conf = &c->postfix, .status = "off" },
		{ .name = "dovecot", .conf = &c->dovecot, .status = "off" },
	};
	struct work w;
	struct diff d = { 0 };
	struct rendered r = { 0 };
	struct map_id m = { 0 };
	struct timing tm;
	char *lmdb;
	int lockfd = -1, rc = EXIT_SYNCED, failed, rolled_back = 0, held = 0;

	timing_start(&tm);
	work_init(&w, c, o);
	lmdb = xasprintf("%s.lmdb", c->postfix.path);
	if (!o->dry_run && (lockfd = take_lock(c)) < 0) {
		rc = lockfd == -2 ? EXIT_LOCKED : EXIT_APPLY;
		goto out;
	}
	timing_mark(&tm, PH_LOAD);	/* the lock wait too */
	if (load_run(&w, lmdb, &tm) == -1) {
		log_err("nothing changed");
		rc = EXIT_APPLY;
		goto out;
	}
	timing_mark(&tm, PH_GATHER);
	begin_outputs(&w, sv, lmdb, &m);
	diff_build(&w, &d);
	failed = render_outputs(&w, &d, sv, lmdb, &r);
	timing_mark(&tm, PH_RENDER);
	reload_defaults(&w, sv);
	timing_mark(&tm, PH_DEFAULTS);
	diff_log(&w, &d, o->dry_run);
	if (o->dry_run) {
		print_dry_run(&w, &d, sv, lmdb);
		goto report;
	}
	timing_mark(&tm, PH_RENDER);
	if (commit_outputs(&w, &d, sv, &r, &m, &rolled_back, &tm) == -1) {
		rc = EXIT_APPLY;
		goto out;
	}
	timing_mark(&tm, PH_WRITE);
	tm.us[PH_WRITE] -= w.dc_check_ms * 1000;
	tm.us[PH_CHECK] += w.dc_check_ms * 1000;
	failed |= save_and_reload(&w, sv, &m, &rolled_back, &tm);
	commit_gc(&w, rolled_back);
	timing_mark(&tm, PH_GC);
	failed |= sv[SVC_POSTFIX].failed | sv[SVC_DOVECOT].failed;
	held = sv[SVC_DOVECOT].held_back;
	log_summary(&w, &d, sv, held);
report:
	if (failed || held)
		rc = EXIT_APPLY;
	else if (w.nrejected > 0)
		rc = EXIT_REJECTED;
	if (o->result != NULL)
		fill_result(&w, sv, held, failed, o->result);
	if (!o->dry_run) {
		commit_finish(&w, rc);
		timing_mark(&tm, PH_GC);
		timing_report(&tm, w.dc_check_ms);
	}
out:
	if (o->result != NULL)
		note_deferred(&w, o->result);
	if (lockfd >= 0)
		close(lockfd);
	free(r.pf_src);
	free(r.dc_text);
	free(lmdb);
	diff_free(&d);
	work_free(&w);
	return rc;
}

/* ---- check ---- */

static const struct pair *
pair_of(const struct work *w, const char *lineage)
{
	size_t i;

	for (i = 0; i < w->npairs; i++)
		if (strcmp(w->pairs[i].lineage, lineage) == 0)
			return &w->pairs[i];
	return NULL;
}

int
sync_check(const struct conf *c, int json)
{
	struct sync_opts o = { 0 };
	struct report_row *rows;
	struct work w;
	size_t i, j;
	int rc, days = c->watch.expiry_warn_days;

	work_init(&w, c, &o);
	log_set_quiet(1);
	if (migrate_load(c->state_dir, 0, 0, &w.old) == -1 ||
	    validate_gather(&w, &o) == -1) {
		work_free(&w);
		return EXIT_APPLY;
	}
	rows = xcalloc(w.sc.n + 1, sizeof(*rows));
	for (i = 0; i < w.sc.n; i++) {
		struct report_row *r = &rows[i];
		const char *ln = w.sc.v[i].name;

		r->lineage = ln;
		r->pair = pair_of(&w, ln);
		r->verdict = r->pair == NULL ? "rejected" :
		    r->pair->last_good ? "last-good" : "ok";
		for (j = 0; j < w.nerrs; j++)
			if (strcmp(w.errs[j].lineage, ln) == 0) {
				r->file = w.errs[j].file;
				r->error = w.errs[j].error;
			}
		r->expiry_due = r->pair != NULL && expiry_due(days,
		    r->pair->not_before, r->pair->not_after, (long long)w.now);
		r->served = xcalloc(w.plan.n + 1, sizeof(char *));
		for (j = 0; j < w.plan.n; j++)
			if (plan_entry_serves(&w.plan.e[j], w.pairs, ln))
				r->served[r->nserved++] = w.plan.e[j].name;
	}
	if (json) {
		char *text = report_json(rows, w.sc.n, (long long)w.now);

		printf("%s\n", text);
		free(text);
	} else {
		printf("%-28s %-10s %-26s %s\n", "LINEAGE", "VERDICT",
		    "EXPIRES", "NAMES / REASON");
		for (i = 0; i < w.sc.n; i++) {
			const struct report_row *r = &rows[i];
			char exp[64] = "-", left[32];

			if (r->pair != NULL)
				snprintf(exp, sizeof(exp), "%.10s (%s)%s",
				    fmt_utc(r->pair->not_after), expiry_left(
				    left, sizeof(left), r->pair->not_after -
				    (long long)w.now), r->expiry_due ? "!" : "");
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
		for (i = 0; i < w.sc.n; i++) {
			const struct pair *p = rows[i].pair;
			char left[32], rule[80];

			if (rows[i].expiry_due)
				printf("! %s: renewal overdue: expires in %s; "
				    "%s\n", log_esc(rows[i].lineage),
				    expiry_left(left, sizeof(left),
				    p->not_after - (long long)w.now),
				    expiry_rule(rule, sizeof(rule), days,
				    p->not_before, p->not_after));
		}
	}
	rc = w.nrejected > 0 ? EXIT_REJECTED : EXIT_SYNCED;
	for (i = 0; i < w.sc.n; i++)
		free(rows[i].served);
	free(rows);
	work_free(&w);
	return rc;
}
