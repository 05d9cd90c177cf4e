/*
 * work.h - what the stages of the pipeline share: the run's context,
 * the result each stage returns, and the functions sync.c calls across
 * files. Internal to sync.c and the modules it runs (the files that
 * include it): not an API. The rest of snisync calls the pipeline
 * through sync.h; nothing here is promised to stay.
 *
 * A stage takes what it reads as arguments (const) and returns what it
 * produced in a struct of its own; an argument it may change says so
 * in its comment. sync.c passes the results on, in this order:
 *
 *   stage     function(s)                          its result
 *   load      renew_ready(), or migrate_load()     struct state
 *   scan      validate_scan()                      struct scan
 *   validate  validate_run()                       struct validated
 *   plan      plan_build() (plan.c)                struct plan
 *             renew_fits(): the renewal path?      struct loaded
 *   diff      diff_build()                         struct diff
 *   render    postfix_source(), dovecot_render()   struct rendered
 *             (pure; sync.c reads what they need
 *             first and compares after)
 *   defaults  reload_defaults()                    struct defaults_due
 *   commit    commit_store(), commit_postfix(),    struct map_id,
 *             guard_write()                        struct guard
 *   reload    reload_run(), reload_rollback()      struct reload_out
 *   record    renew_note_outputs()                 struct out_ids
 *
 * and builds the state to save from them (sync.c: state_to_save()).
 * What each service's part of the run comes to (struct svc_run) is
 * sync.c's record of those results: stages read it, only sync.c writes
 * it. Calls go one way, down the run: nothing goes back up, and no stage
 * writes another's result.
 */
#ifndef SNISYNC_WORK_H
#define SNISYNC_WORK_H

#include <limits.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "dovecot.h"
#include "fsio.h"
#include "opts.h"
#include "plan.h"
#include "scan.h"
#include "services.h"
#include "state.h"
#include "timing.h"

/* What every stage reads: configuration, time, paths, which services
 * run. Set up once (work_init); no stage writes it. */
struct work_ctx {
	const struct conf	*c;
	const struct sync_opts	*o;
	time_t			 now;
	char			*served;	/* state_dir/served */
	char			*staging;	/* state_dir/staging */
	char			*legacy;	/* state_dir/store (before
						   0.2), or NULL: none */
	int			 on[SVC__MAX];	/* enabled and present */
};

/* The store's directories as this run listed them, each at most once
 * (validate.c lists one when it first needs to; commit_gc() reuses the
 * served listing). A cache of the disk, owned by sync.c. */
struct store_list {
	char			**served;	/* sorted */
	size_t			  nserved;
	int			  served_done;
	char			**legacy;	/* sorted */
	size_t			  nlegacy;
	int			  legacy_done;
};

/* A lineage that failed in this run, reported or not. */
struct failing {
	char	*lineage;
	char	*why;
	int	 transient;	/* a certbot swap in progress explains it */
	int	 deferred;	/* not reported yet (snisync watch) */
};

/* validate_run()'s result: the pairs this run may serve and the
 * lineages that failed. */
struct validated {
	struct pair		*pairs;		/* candidates for the plan */
	size_t			 npairs;
	struct state_error	*errs;		/* rejected lineages, with
						   those carried over for
						   lineages not looked at */
	size_t			 nerrs;
	size_t			 nrejected;	/* rejected in this run */
	size_t			 nvalidated;	/* lineages read and checked */
	struct failing		*failing;	/* lineages failing now */
	size_t			 nfailing;
	char			**changed;	/* lineages whose live files
						   differ from what was
						   applied (new, renewed) */
	size_t			  nchanged;
	struct state_hold	*holds;		/* key changes held back */
	size_t			 nholds;
	struct lineage_count	*counts;	/* failures per lineage */
	size_t			 ncounts;
};

/* The load stage's result, read by every stage after it: the applied
 * state, the lineages scanned, validated and planned. */
struct loaded {
	struct state		 old;		/* the applied state, pairs
						   sorted by lineage */
	struct scan		 sc;		/* sorted by lineage */
	struct validated	 v;
	struct plan		 plan, oldplan;	/* this run's, the applied */
	int			 partial;	/* the renewal path: old, v
						   and the plans hold the
						   lineages asked about alone
						   (renew_take) */
};

/* One service's part of a run: sync.c's record of what each stage
 * returned for it (stages read it, const). */
struct svc_run {
	const char		*name;
	const struct svc_conf	*conf;
	int			 on;		/* enabled and present */
	int			 change;	/* its files differ from wanted */
	int			 written;	/* we replaced its files */
	int			 reload;	/* a reload is due (written now or
						   failed before) */
	int			 failed;
	int			 for_default;	/* a reload is due because the
						   default certificate's lineage
						   changed */
	int			 hold;		/* ... but that lineage is
						   mid-renewal: not now */
	int			 held_back;	/* Dovecot kept at an earlier
						   include (guard.dc.held) */
	int			 files;		/* served files it names are
						   replaced (Dovecot) */
	const char		*status;
};

/* ---- work.c: the run's context ---- */

/* work_init(x, c, o): x for a new run; work_free(x): frees what it
 * holds. */
void	work_init(struct work_ctx *x, const struct conf *c,
	    const struct sync_opts *o);
void	work_free(struct work_ctx *x);

/* work_load_bytes(x, p): p's key and chain, from its served file (or
 * the legacy store) when p has none yet (p->key, p->chain). 0, or -1
 * (logged). */
int	work_load_bytes(const struct work_ctx *x, struct pair *p);

/* work_free_loaded(ld), work_free_list(ls): free what they hold. */
void	work_free_loaded(struct loaded *ld);
void	work_free_list(struct store_list *ls);

/* ---- validate.c: scan, validation ---- */

/*
 * validate_scan(x, old, ls, &sc): the sources scanned (scan.c), with
 * the validation cache: a lineage whose files are those its applied pair
 * (old, sorted) was validated from is marked cached and not read. May
 * list the store into ls. 0, or -1 when the tree cannot be read (then
 * nothing may change).
 */
int	validate_scan(const struct work_ctx *x, const struct state *old,
	    struct store_list *ls, struct scan *sc);

/* validate_run(x, old, sc, ls, &v): each lineage of sc validated (the
 * key and chain bytes move from sc's lineages to v's pairs), failures
 * reported, last good pairs kept, key changes held. */
void	validate_run(const struct work_ctx *x, const struct state *old,
	    struct scan *sc, struct store_list *ls, struct validated *v);

/* validate_served_has(x, ls, lineage): 1 when the lineage's served file
 * is there (may list the served directory into ls). */
int	validate_served_has(const struct work_ctx *x, struct store_list *ls,
	    const char *lineage);

/* ---- diff.c: what a run changes ---- */

/* A name whose entry changes: oe its entry in the applied plan (NULL:
 * added), e its entry in this run's (NULL: removed). */
struct diff_name {
	const char		*name;
	const struct plan_entry	*oe, *e;
};

/* One pair of such a name that changes (a line): op the applied one
 * (NULL: added), np this run's (NULL: removed). */
struct diff_line {
	const char		*name;
	const struct pair	*op, *np;
};

/* The names a lineage now serves with another key (a DANE notice). */
struct key_change {
	const char	*lineage;
	const char	*name;		/* the first */
	size_t		 n;
};

/* What a run changes, computed once (diff_build); it borrows the
 * loaded plans and pairs, which outlive it. */
struct diff {
	struct diff_name	*names;		/* by name */
	size_t			 nnames;
	struct diff_line	*lines;		/* by name */
	size_t			 nlines;
	struct key_change	*kc;
	size_t			 nkc;
	size_t			*stage;		/* pairs (ld->v.pairs) whose
						   served files this run
						   writes */
	size_t			 nstage;
	size_t			 nserving;	/* of them, those that serve
						   a name */
};

/* diff_build(x, ld, ls, &d): this run's plan against the applied one
 * (may list the served directory into ls). diff_free(&d) frees what it
 * holds. */
void	diff_build(const struct work_ctx *x, const struct loaded *ld,
	    struct store_list *ls, struct diff *d);
void	diff_free(struct diff *d);

/* diff_log(x, ld, d, print): a line per pair that changes, printed
 * (print: --dry-run) or logged; logged, a DANE notice per key change. */
void	diff_log(const struct work_ctx *x, const struct loaded *ld,
	    const struct diff *d, int print);

/* ---- commit.c: writing the outputs ---- */

/* The map the state records: its identity, and whether this run leaves
 * one (a failed write leaves none the state may trust). */
struct map_id {
	int		have;
	struct fsio_id	id;
};

/* commit_file_equals(path, buf, len): 1 when path holds exactly buf. */
int	commit_file_equals(const char *path, const char *buf, size_t len);

/* commit_lmdb_current(old, lmdb): 1 when the map is the one old records. */
int	commit_lmdb_current(const struct state *old, const char *lmdb);

/* commit_store(x, v, d): replaces the served files of d->stage (loads
 * the bytes of v's pairs it writes). 0, or -1 (logged; the state still
 * records the old pairs). */
int	commit_store(const struct work_ctx *x, struct validated *v,
	    const struct diff *d);

/* commit_postfix(x, ld, d, src, srclen, &lmdb_id): the map (d's entries
 * in place, or whole: loads the bytes of ld's pairs it writes) and its
 * source; the map's new identity. 0, or -1 (logged). */
int	commit_postfix(const struct work_ctx *x, struct loaded *ld,
	    const struct diff *d, const char *src, size_t srclen,
	    struct fsio_id *lmdb_id);

/* commit_save_intent(x, old, sv): records in the database, and in old
 * (the state as the database holds it), the reloads that will be due,
 * before the services' files are replaced. 0, or -1. */
int	commit_save_intent(const struct work_ctx *x, struct state *old,
	    const struct svc_run *sv);

/* commit_save_state(x, old, st, run_only): makes the database hold st
 * (run_only: only its run record can differ from what old's mirror
 * holds; old's mirror follows). 0, or -1. */
int	commit_save_state(const struct work_ctx *x, struct state *old,
	    const struct state *st, int run_only);

/* commit_gc(x, ld, ls, keep_old): removes the served files nothing
 * names (keep_old: nor the applied state's pairs). */
void	commit_gc(const struct work_ctx *x, const struct loaded *ld,
	    const struct store_list *ls, int keep_old);

/* commit_finish(x, st, plan, rc): the stamp files, and the metrics file
 * of st (the state this run leaves) and plan. */
void	commit_finish(const struct work_ctx *x, const struct state *st,
	    const struct plan *plan, int rc);

/* ---- guard.c: Dovecot's side ---- */

/* Dovecot's side of a run, guard.c's own: its state as the run leaves
 * it (starts as the applied state's), the include in service that the
 * run found (read when first needed), what the check cost. */
struct guard {
	struct dovecot_state	 dc;
	unsigned char		*old;		/* the include found */
	size_t			 oldlen;
	int			 had_old;	/* there was one */
	long long		 check_ms;	/* the check's wall time */
};

/* guard_init(g, dc): g from the applied state's Dovecot side;
 * guard_free(g). */
void	guard_init(struct guard *g, const struct dovecot_state *dc);
void	guard_free(struct guard *g);

/* guard_hold(x, plan, g, h): Dovecot is held back at the include in
 * service, for reason h. guard_unhold(g): it is not. */
void	guard_hold(const struct work_ctx *x, const struct plan *plan,
	    struct guard *g, enum dovecot_hold h);
void	guard_unhold(struct guard *g);

/* guard_write(x, plan, syntax, g, text, len): the new include, checked.
 * 0 applied, -1 rejected, -2 does not fit (the previous one in place:
 * both logged). */
int	guard_write(const struct work_ctx *x, const struct plan *plan,
	    enum dovecot_syntax syntax, struct guard *g, const char *text,
	    size_t len);

/* guard_restore(x, g): puts the include g found back in service
 * (removes the new one when there was none). */
void	guard_restore(const struct work_ctx *x, const struct guard *g);

/* guard_still_held(x, plan, g): 1 when Dovecot stays at the include it
 * is held back at, without trying the new one (logged), else 0. */
int	guard_still_held(const struct work_ctx *x, const struct plan *plan,
	    struct guard *g);

/* guard_recheck(x): dovecot.check before a reload an earlier run left
 * pending. 0 passed (or no check), -1 (logged). */
int	guard_recheck(const struct work_ctx *x);

/* guard_log_size(x): the size of Dovecot's log_path when it is a file,
 * else -1. guard_logged(x, from, out, sz): the line it logged after
 * offset from that says what went wrong, escaped, or "". */
off_t	guard_log_size(const struct work_ctx *x);
void	guard_logged(const struct work_ctx *x, off_t from, char *out,
	    size_t sz);

/* ---- reload.c: reloads and default certificates ---- */

/* What reload_defaults() found, per service: a reload due because a
 * default certificate's lineage changed (for_default; reload besides
 * covers --defer-reload's pending one), held back while that lineage is
 * mid-renewal (hold). */
struct defaults_due {
	int	for_default[SVC__MAX];
	int	hold[SVC__MAX];
	int	reload[SVC__MAX];
};

/* reload_defaults(x, v, sv, &dd): the default certificates the services
 * read from live/: a reload due for one whose lineage changed, held
 * back while one is mid-renewal, a warning for one failing. */
void	reload_defaults(const struct work_ctx *x, const struct validated *v,
	    const struct svc_run *sv, struct defaults_due *dd);

/* What reload_run() did: per service, whether its due reload ran
 * (reloaded) or failed, its status (NULL: no reload was due), the
 * counts; and, when Dovecot completed no handshake after the reload of
 * a new include, what the probes saw (sync.c puts the previous include
 * back and calls reload_rollback()). */
struct reload_out {
	int			 reloaded[SVC__MAX];
	int			 failed[SVC__MAX];
	const char		*status[SVC__MAX];
	struct svc_stats	 svc[SVC__MAX];	/* this run's counts */
	int			 no_handshake;
	const char		*sni;
	size_t			*eps, neps;	/* endpoints that answered */
	long long		 deadline;
	int			 tries;
	char			 why[300], logged[400];
};

/* reload_run(x, plan, g, sv, &out): the due reloads (sv[i].reload),
 * Dovecot's handshake confirmed. reload_rollback(x, g, sv, &out): after
 * the previous include is back, Dovecot reloaded again and confirmed
 * (logged), its status in out. reload_out_free(&out). */
void	reload_run(const struct work_ctx *x, const struct plan *plan,
	    const struct guard *g, const struct svc_run *sv,
	    struct reload_out *out);
void	reload_rollback(const struct work_ctx *x, const struct guard *g,
	    const struct svc_run *sv, struct reload_out *out);
void	reload_out_free(struct reload_out *out);

/* ---- renew.c: the renewal path ---- */

/*
 * The renewal path's verdict, in two halves around the load (sync.c
 * runs scan, validate and plan between them, on ld, a load of its own
 * that it keeps or drops whole). renew_ready(x, lmdb, ld): the records
 * of the lineages asked about read into ld->old; NULL when they allow
 * the renewal path, else why not. renew_fits(ld): after validation,
 * NULL when each lineage renews the names it serves alone, else why
 * not. renew_take(ld): ld is this run's (ld->partial, pair.sole).
 */
const char *renew_ready(const struct work_ctx *x, const char *lmdb,
	    struct loaded *ld);
const char *renew_fits(const struct loaded *ld);
void	renew_take(struct loaded *ld);

/* renew_mark_sole(plan, pairs, n): which pairs serve their names alone
 * (pair.sole). */
void	renew_mark_sole(const struct plan *plan, struct pair *pairs, size_t n);

/* The outputs' identities and the name count a run leaves for the next
 * renewal (state.h: out_id, nnames, render_key). */
struct out_ids {
	struct fsio_id		 id[SVC__MAX];
	size_t			 nnames;
	unsigned char		 key[SVC__MAX][32];
};

/* renew_note_outputs(x, ld, syntax, sv, dc, &ids): those of this run. */
void	renew_note_outputs(const struct work_ctx *x, const struct loaded *ld,
	    enum dovecot_syntax syntax, const struct svc_run *sv,
	    const struct dovecot_state *dc, struct out_ids *ids);

/* renew_plan_unchanged(x, ld, d): 1 when this run's plan is the last full
 * plan, lineage for lineage, and d writes no served file.
 * renew_output_current(x, old, syntax, svc): then, 1 when svc's output
 * on disk (the map source, the include) is the file that plan left,
 * rendered from the same inputs: what rendering would give, known
 * without rendering. */
int	renew_plan_unchanged(const struct work_ctx *x, const struct loaded *ld,
	    const struct diff *d);
int	renew_output_current(const struct work_ctx *x, const struct state *old,
	    enum dovecot_syntax syntax, enum svc_id svc);

#endif
