/*
 * work.c - one run's context (work.h): set up, freed; and the results
 * the stages hand on, freed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsio.h"
#include "log.h"
#include "plan.h"
#include "scan.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "work.h"

void
work_init(struct work_ctx *x, const struct conf *c,
    const struct sync_opts *o)
{
	struct stat st;

	memset(x, 0, sizeof(*x));
	x->c = c;
	x->o = o;
	x->now = time(NULL);
	x->served = xasprintf("%s/" STORE_SERVED, c->state_dir);
	x->staging = xasprintf("%s/" STORE_STAGING, c->state_dir);
	x->legacy = xasprintf("%s/" STORE_LEGACY, c->state_dir);
	if (lstat(x->legacy, &st) == -1 || !S_ISDIR(st.st_mode)) {
		free(x->legacy);
		x->legacy = NULL;
	}
}

void
work_free(struct work_ctx *x)
{
	free(x->served);
	free(x->staging);
	free(x->legacy);
	memset(x, 0, sizeof(*x));
}

/* Loads a pair's bytes from its served file (or the legacy store),
 * checked against the ids the state records. 0, or -1 (logged). */
int
work_load_bytes(const struct work_ctx *x, struct pair *p)
{
	char why[PATH_MAX + 200];

	if (p->key != NULL)
		return 0;
	if (store_load(x->served, x->legacy, p, why, sizeof(why)) == -1) {
		log_err("lineage %s: %s", log_esc(p->lineage), log_esc(why));
		return -1;
	}
	return 0;
}

static void
validated_free(struct validated *v)
{
	/* Its pairs, errors, holds and counts are the arrays of the state
	 * it saves (sync.c: state_to_save), owned alike: state_free()
	 * frees them. */
	struct state st = { .pairs = v->pairs, .n = v->npairs,
	    .errs = v->errs, .nerrs = v->nerrs, .holds = v->holds,
	    .nholds = v->nholds, .counts = v->counts,
	    .ncounts = v->ncounts };
	size_t i;

	state_free(&st);
	for (i = 0; i < v->nchanged; i++)
		free(v->changed[i]);
	free(v->changed);
	for (i = 0; i < v->nfailing; i++) {
		free(v->failing[i].lineage);
		free(v->failing[i].why);
	}
	free(v->failing);
	memset(v, 0, sizeof(*v));
}

void
work_free_loaded(struct loaded *ld)
{
	/* The pairs borrow strings of ld->old's: they go first. */
	validated_free(&ld->v);
	plan_free(&ld->plan);
	plan_free(&ld->oldplan);
	scan_free(&ld->sc);
	state_free(&ld->old);
	memset(ld, 0, sizeof(*ld));
}

void
work_free_list(struct store_list *ls)
{
	fsio_list_free(ls->served, ls->nserved);
	fsio_list_free(ls->legacy, ls->nlegacy);
	memset(ls, 0, sizeof(*ls));
}
