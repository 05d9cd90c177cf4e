/*
 * work.c - one run's struct work (work.h): set up, freed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsio.h"
#include "plan.h"
#include "scan.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "work.h"

void
work_init(struct work *w, const struct conf *c, const struct sync_opts *o)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->c = c;
	w->o = o;
	w->now = time(NULL);
	w->served = xasprintf("%s/" STORE_SERVED, c->state_dir);
	w->staging = xasprintf("%s/" STORE_STAGING, c->state_dir);
	w->legacy = xasprintf("%s/" STORE_LEGACY, c->state_dir);
	if (lstat(w->legacy, &st) == -1 || !S_ISDIR(st.st_mode)) {
		free(w->legacy);
		w->legacy = NULL;
	}
}

void
work_free(struct work *w)
{
	size_t i;

	for (i = 0; i < w->npairs; i++)
		pair_free(&w->pairs[i]);
	free(w->pairs);
	for (i = 0; i < w->nerrs; i++) {
		free(w->errs[i].lineage);
		free(w->errs[i].file);
		free(w->errs[i].error);
	}
	free(w->errs);
	plan_free(&w->plan);
	plan_free(&w->oldplan);
	scan_free(&w->sc);
	fsio_list_free(w->served_names, w->nserved);
	fsio_list_free(w->legacy_names, w->nlegacy);
	for (i = 0; i < w->nholds; i++)
		free(w->holds[i].lineage);
	free(w->holds);
	for (i = 0; i < w->ncounts; i++)
		free(w->counts[i].lineage);
	free(w->counts);
	for (i = 0; i < w->nchanged; i++)
		free(w->changed[i]);
	free(w->changed);
	for (i = 0; i < w->nfailing; i++) {
		free(w->failing[i].lineage);
		free(w->failing[i].why);
	}
	free(w->failing);
	state_free(&w->old);
	free(w->served);
	free(w->staging);
	free(w->legacy);
	free(w->dc_old);
}
