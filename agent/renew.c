/*
 * renew.c - the renewal path, and what a run records for the next one.
 *
 * A run of a few lineages (the daemon, the deploy hook) in which each one
 * renews names it serves alone, unchallenged, and keeps them, changes
 * nothing but those lineages: their served files, the map entries of
 * their names, their records. Every other entry, the map source and the
 * include stay as they are. Such a run reads the run record and those
 * lineages' records, not the whole state, and renders nothing: it trusts
 * the map, the source and the include only when their identities are
 * those the last full plan left (state.h, out_id), and the lineages'
 * records say their pairs were sole (pair.sole). Anything else (a new or
 * deleted lineage, a name added or removed, a rival, a failure, Dovecot
 * held back, the metrics file) takes the whole-state path.
 *
 * renew_try() decides on a run of its own, and writes nothing: when it
 * gives up, the caller drops that run and reads the whole state as if
 * it had not tried (what it logged on the way is dropped, but for one
 * debug line saying why).
 * renew_mark_sole() (the whole-state path) and renew_note_outputs()
 * record what a later renewal trusts: which pairs serve their names
 * alone, and the outputs' identities. The same identities, with a digest
 * of what else an output is rendered from (render_key()), let a
 * whole-state run whose plan is the last one (renew_plan_unchanged())
 * skip rendering and comparing each output that is the file that plan
 * left (renew_output_current()).
 */
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "fsio.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "work.h"

static int
out_current(const struct fsio_id *want, const char *path)
{
	struct fsio_id id;

	return want->ino != 0 && fsio_identity(path, &id) == 0 &&
	    fsio_same_id(want, &id);
}

/* Before the scan: what the records say. NULL when they allow the
 * renewal path, else why not. */
static const char *
renewal_ready(struct work *w, const char *lmdb)
{
	const struct state *st = &w->old;
	const struct sync_opts *o = w->o;
	size_t i, j;

	if (!state_has_run(st))
		return "no run record";
	if (st->nerrs > 0)
		return "a lineage asked about failed before";
	if (w->postfix_on && !commit_lmdb_current(w, lmdb))
		return "the map is not the one the state describes";
	if (w->postfix_on && !out_current(&st->out_id[0], w->c->postfix.path))
		return "the map source is not the one the last full sync left";
	if (w->dovecot_on && st->dovecot.held != DOVECOT_HOLD_NONE)
		return "Dovecot is held back";
	if (w->dovecot_on && !out_current(&st->out_id[1], w->c->dovecot.path))
		return "the include is not the one the last full sync left";
	for (i = 0; i < o->nonly; i++) {
		for (j = 0; j < st->n; j++)
			if (strcmp(st->pairs[j].lineage, o->only[i]) == 0)
				break;
		if (j == st->n)
			return "a lineage asked about has no applied pair";
		if (!st->pairs[j].sole || st->pairs[j].last_good)
			return "a lineage asked about does not serve its names "
			    "alone";
	}
	return NULL;
}

static int
same_names(const struct pair *a, const struct pair *b)
{
	size_t i;

	if (a->nnames != b->nnames)
		return 0;
	for (i = 0; i < a->nnames; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return 0;
	return 1;
}

/* After validation: each lineage claims the same names as before, which
 * no other lineage claims (its pair was sole), so it serves them alone
 * whatever its key type or dates. NULL, or why not. */
static const char *
renewal_fits(const struct work *w)
{
	size_t i;

	if (w->nfailing > 0 || w->nerrs > 0)
		return "a lineage fails";
	if (w->plan.nc > 0)
		return "lineages asked about claim the same name";
	if (w->npairs != w->old.n)
		return "a lineage is new or gone";
	for (i = 0; i < w->npairs; i++) {
		const struct pair *p = &w->pairs[i];
		const struct pair *op = validate_old_pair(w, p->lineage);

		if (op == NULL || p->last_good)
			return "a lineage is new or failing";
		if (!same_names(p, op))
			return "its names changed";
	}
	for (i = 0; i < w->plan.n; i++)
		if (w->plan.e[i].alt != PLAN_NO_ALT)
			return "a name is served by two pairs";
	return NULL;
}

/*
 * The verdict on w, a run of its own that the caller set up (work_init,
 * the services' switches): 1 when w is set up for the renewal path
 * (w->partial), 0 when the run must read the whole state; then the
 * caller drops w and starts from a fresh one. Nothing written, nothing
 * said but one debug line (the lines logged on the way wait, and are
 * dropped when it gives up).
 */
int
renew_try(struct work *w, const char *lmdb, struct timing *tm)
{
	const struct sync_opts *o = w->o;
	const struct conf *c = w->c;
	const char *why = NULL;
	size_t i;

	if (o->dry_run || o->nonly == 0)
		return 0;
	if (o->nonly > 64 || o->nrelease > 0 || c->metrics_file != NULL ||
	    w->legacy != NULL)
		why = o->nonly > 64 ? "too many lineages" : o->nrelease > 0 ?
		    "a release" : c->metrics_file != NULL ? "the metrics file "
		    "covers every lineage" : "the legacy store is still there";
	else if (state_load_some(c->state_dir, o->only, o->nonly,
	    &w->old) == -1)
		why = "the state cannot be read";
	else if ((why = renewal_ready(w, lmdb)) == NULL) {
		timing_mark(tm, PH_LOAD);
		log_defer();
		if (validate_gather(w, o) == -1)
			why = "the tree cannot be read";
		else if ((why = renewal_fits(w)) == NULL) {
			log_defer_end(1);
			log_debug("renewal path: %zu lineage%s renewing the "
			    "names %s alone; the rest of the state not read",
			    w->npairs, w->npairs == 1 ? "" : "s",
			    w->npairs == 1 ? "it serves" : "they serve");
			w->partial = 1;
			for (i = 0; i < w->npairs; i++)
				w->pairs[i].sole = 1;
			return 1;
		}
		log_defer_end(0);
	}
	log_debug("renewal path not taken (%s): reading the whole state",
	    why);
	return 0;
}

/* What an output's bytes depend on besides the plan: snisync's version,
 * the served directory, the output's path, and for the include the
 * Dovecot syntax. */
static void
render_key(const struct work *w, enum svc_id svc, unsigned char out[32])
{
	char *s = xasprintf("snisync %s\n%d\n%s\n%s\n%d\n",
	    SNISYNC_VERSION, (int)svc, w->served, svc == SVC_POSTFIX ?
	    w->c->postfix.path : w->c->dovecot.path,
	    svc == SVC_DOVECOT ? (int)w->syntax : 0);

	cert_sha256(s, strlen(s), out);
	free(s);
}

static int
same_lineage(const struct pair *a, size_t ia, const struct pair *b,
    size_t ib)
{
	if (ia == PLAN_NO_ALT || ib == PLAN_NO_ALT)
		return ia == ib;
	return strcmp(a[ia].lineage, b[ib].lineage) == 0;
}

int
renew_plan_unchanged(const struct work *w, const struct diff *d)
{
	const struct plan *a = &w->oldplan, *b = &w->plan;
	size_t i;

	/* No entry changes, no served file is written, and the last full
	 * plan had as many names. */
	if (w->partial || w->legacy != NULL || d->nnames > 0 ||
	    d->nserving > 0 || !state_has_run(&w->old) ||
	    b->n != w->old.nnames || a->n != b->n)
		return 0;
	/* The same files may be another lineage's, named by another path. */
	for (i = 0; i < b->n; i++)
		if (strcmp(a->e[i].name, b->e[i].name) != 0 ||
		    !same_lineage(w->old.pairs, a->e[i].pair, w->pairs,
		    b->e[i].pair) || !same_lineage(w->old.pairs, a->e[i].alt,
		    w->pairs, b->e[i].alt))
			return 0;
	return 1;
}

int
renew_output_current(const struct work *w, enum svc_id svc)
{
	unsigned char key[32];

	if (!out_current(&w->old.out_id[svc], svc == SVC_POSTFIX ?
	    w->c->postfix.path : w->c->dovecot.path))
		return 0;
	render_key(w, svc, key);
	return memcmp(key, w->old.render_key[svc], sizeof(key)) == 0;
}

/* The whole-state path: which pairs are sole (pair.sole), for the
 * records a later renewal reads. */
void
renew_mark_sole(struct work *w)
{
	size_t *alone = xcalloc(w->npairs + 1, sizeof(*alone)), i;

	for (i = 0; i < w->plan.n; i++)
		if (w->plan.e[i].alt == PLAN_NO_ALT)
			alone[w->plan.e[i].pair]++;
	for (i = 0; i < w->plan.nc; i++)
		alone[w->plan.c[i].winner] = alone[w->plan.c[i].loser] = 0;
	for (i = 0; i < w->npairs; i++)
		w->pairs[i].sole = !w->pairs[i].last_good &&
		    w->pairs[i].nnames > 0 && alone[i] == w->pairs[i].nnames;
	free(alone);
}

/* The outputs' identities and the name count this run leaves (state.h):
 * the renewal path keeps those it found; the whole-state path records
 * the source and the include when they hold what it rendered. */
void
renew_note_outputs(struct work *w, const struct svc_run *sv)
{
	const struct svc_run *pf = &sv[SVC_POSTFIX], *dc = &sv[SVC_DOVECOT];

	if (w->partial) {
		memcpy(w->out_id, w->old.out_id, sizeof(w->out_id));
		memcpy(w->render_key, w->old.render_key,
		    sizeof(w->render_key));
		w->nnames = w->old.nnames;
		return;
	}
	memset(w->out_id, 0, sizeof(w->out_id));
	memset(w->render_key, 0, sizeof(w->render_key));
	w->nnames = w->plan.n;
	if (pf->on && !pf->failed && (pf->written || !pf->change)) {
		if (fsio_identity(w->c->postfix.path, &w->out_id[0]) == 0)
			render_key(w, SVC_POSTFIX, w->render_key[0]);
		else
			memset(&w->out_id[0], 0, sizeof(w->out_id[0]));
	}
	if (dc->on && !dc->failed && !dc->held_back &&
	    w->dc.held == DOVECOT_HOLD_NONE && (dc->written || !dc->change)) {
		if (fsio_identity(w->c->dovecot.path, &w->out_id[1]) == 0)
			render_key(w, SVC_DOVECOT, w->render_key[1]);
		else
			memset(&w->out_id[1], 0, sizeof(w->out_id[1]));
	}
}
