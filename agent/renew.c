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
 * renew_ready() and renew_fits() decide on a load of its own, before
 * and after its scan and validation (sync.c runs them), and write
 * nothing: when either says no, sync.c drops that load and reads the
 * whole state as if it had not tried (what was logged on the way is
 * dropped, but for one debug line saying why).
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

/*
 * Before the scan: the records of the lineages asked about, read into
 * ld->old. NULL when they allow the renewal path, else why not ("" for
 * a run that is no renewal: a full sync, a dry run).
 */
const char *
renew_ready(const struct work_ctx *x, const char *lmdb, struct loaded *ld)
{
	const struct state *st = &ld->old;
	const struct sync_opts *o = x->o;
	const struct conf *c = x->c;
	size_t i, j;

	if (o->dry_run || o->nonly == 0)
		return "";
	if (o->nonly > 64)
		return "too many lineages";
	if (o->nrelease > 0)
		return "a release";
	if (c->metrics_file != NULL)
		return "the metrics file covers every lineage";
	if (x->legacy != NULL)
		return "the legacy store is still there";
	if (state_load_some(c->state_dir, o->only, o->nonly, &ld->old) == -1)
		return "the state cannot be read";
	if (!state_has_run(st))
		return "no run record";
	if (st->nerrs > 0)
		return "a lineage asked about failed before";
	if (x->on[SVC_POSTFIX] && !commit_lmdb_current(st, lmdb))
		return "the map is not the one the state describes";
	if (x->on[SVC_POSTFIX] && !out_current(&st->out_id[0],
	    c->postfix.path))
		return "the map source is not the one the last full sync left";
	if (x->on[SVC_DOVECOT] && st->dovecot.held != DOVECOT_HOLD_NONE)
		return "Dovecot is held back";
	if (x->on[SVC_DOVECOT] && !out_current(&st->out_id[1],
	    c->dovecot.path))
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
const char *
renew_fits(const struct loaded *ld)
{
	const struct validated *v = &ld->v;
	size_t i;

	if (v->nfailing > 0 || v->nerrs > 0)
		return "a lineage fails";
	if (ld->plan.nc > 0)
		return "lineages asked about claim the same name";
	if (v->npairs != ld->old.n)
		return "a lineage is new or gone";
	for (i = 0; i < v->npairs; i++) {
		const struct pair *p = &v->pairs[i];
		const struct pair *op = state_pair_of(&ld->old, p->lineage);

		if (op == NULL || p->last_good)
			return "a lineage is new or failing";
		if (!same_names(p, op))
			return "its names changed";
	}
	for (i = 0; i < ld->plan.n; i++)
		if (ld->plan.e[i].alt != PLAN_NO_ALT)
			return "a name is served by two pairs";
	return NULL;
}

/* ld is this run's: the renewal path. */
void
renew_take(struct loaded *ld)
{
	size_t i, n = ld->v.npairs;

	log_debug("renewal path: %zu lineage%s renewing the names %s alone; "
	    "the rest of the state not read", n, n == 1 ? "" : "s",
	    n == 1 ? "it serves" : "they serve");
	ld->partial = 1;
	for (i = 0; i < n; i++)
		ld->v.pairs[i].sole = 1;
}

/* What an output's bytes depend on besides the plan: snisync's version,
 * the served directory, the output's path, and for the include the
 * Dovecot syntax. */
static void
render_key(const struct work_ctx *x, enum dovecot_syntax syntax,
    enum svc_id svc, unsigned char out[32])
{
	char *s = xasprintf("snisync %s\n%d\n%s\n%s\n%d\n",
	    SNISYNC_VERSION, (int)svc, x->served, svc == SVC_POSTFIX ?
	    x->c->postfix.path : x->c->dovecot.path,
	    svc == SVC_DOVECOT ? (int)syntax : 0);

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
renew_plan_unchanged(const struct work_ctx *x, const struct loaded *ld,
    const struct diff *d)
{
	const struct plan *a = &ld->oldplan, *b = &ld->plan;
	size_t i;

	/* No entry changes, no served file is written, and the last full
	 * plan had as many names. */
	if (ld->partial || x->legacy != NULL || d->nnames > 0 ||
	    d->nserving > 0 || !state_has_run(&ld->old) ||
	    b->n != ld->old.nnames || a->n != b->n)
		return 0;
	/* The same files may be another lineage's, named by another path. */
	for (i = 0; i < b->n; i++)
		if (strcmp(a->e[i].name, b->e[i].name) != 0 ||
		    !same_lineage(ld->old.pairs, a->e[i].pair, ld->v.pairs,
		    b->e[i].pair) || !same_lineage(ld->old.pairs, a->e[i].alt,
		    ld->v.pairs, b->e[i].alt))
			return 0;
	return 1;
}

int
renew_output_current(const struct work_ctx *x, const struct state *old,
    enum dovecot_syntax syntax, enum svc_id svc)
{
	unsigned char key[32];

	if (!out_current(&old->out_id[svc], svc == SVC_POSTFIX ?
	    x->c->postfix.path : x->c->dovecot.path))
		return 0;
	render_key(x, syntax, svc, key);
	return memcmp(key, old->render_key[svc], sizeof(key)) == 0;
}

/* The whole-state path: which pairs are sole (pair.sole), for the
 * records a later renewal reads. */
void
renew_mark_sole(const struct plan *plan, struct pair *pairs, size_t n)
{
	size_t *alone = xcalloc(n + 1, sizeof(*alone)), i;

	for (i = 0; i < plan->n; i++)
		if (plan->e[i].alt == PLAN_NO_ALT)
			alone[plan->e[i].pair]++;
	for (i = 0; i < plan->nc; i++)
		alone[plan->c[i].winner] = alone[plan->c[i].loser] = 0;
	for (i = 0; i < n; i++)
		pairs[i].sole = !pairs[i].last_good && pairs[i].nnames > 0 &&
		    alone[i] == pairs[i].nnames;
	free(alone);
}

/* The outputs' identities and the name count this run leaves (state.h):
 * the renewal path keeps those it found; the whole-state path records
 * the source and the include when they hold what it rendered. */
void
renew_note_outputs(const struct work_ctx *x, const struct loaded *ld,
    enum dovecot_syntax syntax, const struct svc_run *sv,
    const struct dovecot_state *dc, struct out_ids *ids)
{
	const struct svc_run *pf = &sv[SVC_POSTFIX], *dv = &sv[SVC_DOVECOT];

	memset(ids, 0, sizeof(*ids));
	if (ld->partial) {
		memcpy(ids->id, ld->old.out_id, sizeof(ids->id));
		memcpy(ids->key, ld->old.render_key, sizeof(ids->key));
		ids->nnames = ld->old.nnames;
		return;
	}
	ids->nnames = ld->plan.n;
	if (pf->on && !pf->failed && (pf->written || !pf->change)) {
		if (fsio_identity(x->c->postfix.path, &ids->id[0]) == 0)
			render_key(x, syntax, SVC_POSTFIX, ids->key[0]);
		else
			memset(&ids->id[0], 0, sizeof(ids->id[0]));
	}
	if (dv->on && !dv->failed && !dv->held_back &&
	    dc->held == DOVECOT_HOLD_NONE && (dv->written || !dv->change)) {
		if (fsio_identity(x->c->dovecot.path, &ids->id[1]) == 0)
			render_key(x, syntax, SVC_DOVECOT, ids->key[1]);
		else
			memset(&ids->id[1], 0, sizeof(ids->id[1]));
	}
}
