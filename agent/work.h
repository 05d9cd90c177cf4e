/*
 * work.h - what the modules of the pipeline share: struct work (one run:
 * what it read, what it decided, what it will save) and the functions
 * they call across files. Internal to sync.c and the modules it runs
 * (the files that include it): not an API. The rest of snisync calls the
 * pipeline through sync.h; nothing here is promised to stay.
 *
 * Calls go one way, down the run: sync.c calls the steps in order;
 * diff.c and commit.c look pairs up through validate.c, and commit.c
 * reads the diff that diff.c built; reload.c uses guard.c (Dovecot's
 * hold, its log, putting an include back); every question to the
 * services goes through services.c; renew.c runs validate.c's
 * validate_gather() and asks commit.c whether the map is current. The
 * renewal path is tried on a struct work of its own, which sync.c keeps
 * or drops whole: nothing goes back up.
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

/* One run of the pipeline (sync_resync, sync_check). */
struct work {
	const struct conf	*c;
	time_t			 now;
	char			*served;	/* state_dir/served */
	char			*staging;	/* state_dir/staging */
	char			*legacy;	/* state_dir/store (before
						   0.2), or NULL: none */
	struct state		 old;
	struct scan		 sc;
	struct pair		*pairs;		/* candidates for the plan */
	size_t			 npairs;
	struct state_error	*errs;		/* rejected lineages, with
						   those carried over for
						   lineages not looked at */
	size_t			 nerrs;
	size_t			 nrejected;	/* rejected in this run */
	size_t			 nvalidated;	/* lineages read and checked */
	int			 saved;		/* 1 state written (or found
						   equal), -1 failed */
	int			 have_lmdb;	/* as saved */
	struct fsio_id		 lmdb;
	char			**served_names;	/* served listing, sorted */
	size_t			  nserved;
	int			  served_listed;
	char			**legacy_names;	/* legacy store listing */
	size_t			  nlegacy;
	int			  legacy_listed;
	struct plan		 plan, oldplan;
	int			 postfix_on, dovecot_on;
	enum dovecot_syntax	 syntax;
	int			 reload_pending[2];	/* to save */
	struct svc_stats	 svc[2];		/* to save */
	struct lineage_count	*counts;		/* to save */
	size_t			 ncounts;
	struct state_hold	*holds;			/* to save */
	size_t			 nholds;
	char			**changed;	/* lineages whose live files
						   differ from what was
						   applied (new, renewed) */
	size_t			  nchanged;
	struct failing		*failing;	/* lineages failing now */
	size_t			  nfailing;
	struct dovecot_state	 dc;		/* to save */
	unsigned char		*dc_old;	/* the include this run
						   found (put back when the
						   new one fails) */
	size_t			  dc_oldlen;
	int			  dc_had_old;
	long long		  dc_check_ms;	/* the check's wall time */
	int			  partial;	/* the renewal path: w->old,
						   w->pairs and the plans hold
						   the lineages asked about
						   alone (renew_try) */
	struct fsio_id		  out_id[2];	/* to save */
	size_t			  nnames;	/* to save */
	unsigned char		  render_key[2][32]; /* to save */
	const struct sync_opts	*o;
};

/* A lineage that failed in this run, reported or not. */
struct failing {
	char	*lineage;
	char	*why;
	int	 transient;	/* a certbot swap in progress explains it */
	int	 deferred;	/* not reported yet (snisync watch) */
};

/* One service's part of a run. */
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
						   include (w->dc.held) */
	int			 files;		/* served files it names are
						   replaced (Dovecot) */
	const char		*status;
};

/* ---- validate.c: scan, validation, plan ---- */

/*
 * validate_gather(w, o): scan + validate + plan into w (its pairs, errors,
 * failing and changed lineages, holds, counts, plan and oldplan; w->old
 * sorted by lineage). 0, or -1 when the tree cannot be read (then
 * nothing may change).
 */
int	validate_gather(struct work *w, const struct sync_opts *o);

/* validate_old_pair(w, lineage): the lineage's applied pair, or NULL. */
const struct pair *validate_old_pair(const struct work *w, const char *lineage);

/* validate_in_scan(w, lineage): 1 when this run's scan saw the lineage. */
int	validate_in_scan(struct work *w, const char *lineage);

/* validate_served_has(w, lineage): 1 when the lineage's served file is
 * there. */
int	validate_served_has(struct work *w, const char *lineage);

/* validate_load_bytes(w, p): p's key and chain, from its served file (or the
 * legacy store) when p has none yet. 0, or -1 (logged). */
int	validate_load_bytes(struct work *w, struct pair *p);

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

/* What a run changes, computed once (diff_build); it borrows w's plans
 * and pairs, which outlive it. */
struct diff {
	struct diff_name	*names;		/* by name */
	size_t			 nnames;
	struct diff_line	*lines;		/* by name */
	size_t			 nlines;
	struct key_change	*kc;
	size_t			 nkc;
	size_t			*stage;		/* pairs (w->pairs) whose
						   served files this run
						   writes */
	size_t			 nstage;
	size_t			 nserving;	/* of them, those that serve
						   a name */
};

/* diff_build(w, &d): this run's plan (after validate_gather()) against the
 * applied one. diff_free(&d) frees what it holds. */
void	diff_build(struct work *w, struct diff *d);
void	diff_free(struct diff *d);

/* diff_log(w, d, print): a line per pair that changes, printed (print:
 * --dry-run) or logged; logged, a DANE notice per key change. */
void	diff_log(struct work *w, const struct diff *d, int print);

/* ---- commit.c: writing the outputs ---- */

/* commit_file_equals(path, buf, len): 1 when path holds exactly buf. */
int	commit_file_equals(const char *path, const char *buf, size_t len);

/* commit_lmdb_current(w, lmdb): 1 when the map is the one the state records. */
int	commit_lmdb_current(struct work *w, const char *lmdb);

/* commit_store(w, d): replaces the served files of d->stage. 0, or -1
 * (logged; the state still records the old pairs). */
int	commit_store(struct work *w, const struct diff *d);

/* commit_postfix(w, d, src, srclen, &lmdb_id): the map (d's entries in
 * place, or whole) and its source; the map's new identity. 0, or -1
 * (logged). */
int	commit_postfix(struct work *w, const struct diff *d, const char *src,
	    size_t srclen, struct fsio_id *lmdb_id);

/* commit_save_intent(w, sv): records the reloads that will be due, before the
 * services' files are replaced. 0, or -1. */
int	commit_save_intent(struct work *w, const struct svc_run *sv);

/* commit_save_state(w, lmdb_id, have_lmdb, run_only): the state this run
 * leaves (run_only: only the run record can have changed). 0, or -1. */
int	commit_save_state(struct work *w, const struct fsio_id *lmdb_id,
	    int have_lmdb, int run_only);

/* commit_gc(w, keep_old): removes the served files nothing names (keep_old:
 * nor the previous run's pairs). */
void	commit_gc(struct work *w, int keep_old);

/* commit_finish(w, rc): the stamp files and the metrics file. */
void	commit_finish(struct work *w, int rc);

/* ---- guard.c: Dovecot's side ---- */

/* guard_hold(w, h): Dovecot is held back at the include in service,
 * for reason h (w->dc). guard_unhold(w): it is not. */
void	guard_hold(struct work *w, enum dovecot_hold h);
void	guard_unhold(struct work *w);

/* guard_write(w, text, len): the new include, checked. 0 applied, -1
 * rejected, -2 does not fit (the previous one in place: both logged). */
int	guard_write(struct work *w, const char *text, size_t len);

/* guard_restore(w): puts the include this run found back in service
 * (removes the new one when there was none). */
void	guard_restore(struct work *w);

/* guard_still_held(w, o): 1 when Dovecot stays at the include it is held back
 * at, without trying the new one (logged), else 0. */
int	guard_still_held(struct work *w, const struct sync_opts *o);

/* guard_recheck(w): dovecot.check before a reload an earlier run left
 * pending. 0 passed (or no check), -1 (logged). */
int	guard_recheck(struct work *w);

/* guard_log_size(w): the size of Dovecot's log_path when it is a
 * file, else -1. guard_logged(w, from, out, sz): the line it logged
 * after offset from that says what went wrong, escaped, or "". */
off_t	guard_log_size(struct work *w);
void	guard_logged(struct work *w, off_t from, char *out, size_t sz);

/* ---- reload.c: reloads and default certificates ---- */

/* reload_defaults(w, sv): the default certificates the services read
 * from live/: a reload due for one whose lineage changed
 * (sv[i].for_default), held back while one is mid-renewal (sv[i].hold),
 * a warning for one failing. */
void	reload_defaults(struct work *w, struct svc_run *sv);

/* reload_run(w, sv): the due reloads, each service's status, Dovecot's
 * handshake confirmed (or its previous include put back). */
void	reload_run(struct work *w, struct svc_run *sv);

/* ---- renew.c: the renewal path ---- */

/* renew_try(w, lmdb, tm): the verdict on w, a run of its own: 1 when
 * w is set up for the renewal path (w->partial), 0 when the run must read
 * the whole state (the caller drops w). */
int	renew_try(struct work *w, const char *lmdb, struct timing *tm);

/* renew_mark_sole(w): which pairs serve their names alone (pair.sole). */
void	renew_mark_sole(struct work *w);

/* renew_note_outputs(w, sv): the outputs' identities and the name count this
 * run leaves for the next renewal. */
void	renew_note_outputs(struct work *w, const struct svc_run *sv);

/* renew_plan_unchanged(w, d): 1 when this run's plan is the last full plan,
 * lineage for lineage, and d writes no served file. renew_output_current(w,
 * svc): then, 1 when svc's output on disk (the map source, the include)
 * is the file that plan left, rendered from the same inputs: what
 * rendering would give, known without rendering. */
int	renew_plan_unchanged(const struct work *w, const struct diff *d);
int	renew_output_current(const struct work *w, enum svc_id svc);

/* ---- work.c: the run's struct ---- */

/* work_init(w, c, o): w for a new run; work_free(w): frees what it
 * holds (then w may be initialised again). */
void	work_init(struct work *w, const struct conf *c,
	    const struct sync_opts *o);
void	work_free(struct work *w);

#endif
