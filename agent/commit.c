/*
 * commit.c - writes what a run applies: the served files, the Postfix
 * map and its source, the state records, the stamp and metrics files;
 * then removes the served files nothing names.
 *
 * Every write goes through fsio.c (temp file in the same directory, or
 * for served files in staging/ of the same file system; fsync, rename): readers see the old bytes or the new, never a mix, and
 * unchanged bytes are not written. commit_store() makes each new served
 * file durable before the first rename; commit_postfix() changes the
 * entries a renewal touches in place when the map is the one the state
 * describes, else writes a new map whole. commit_save_intent() records that
 * reloads will be due before a service's file is replaced, so a run that
 * dies in between still reloads next time. 0, or -1 logged with the
 * path. Never writes the Dovecot include (guard.c does) and never
 * reloads anything.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dovecot.h"
#include "exit.h"
#include "fsio.h"
#include "log.h"
#include "metrics.h"
#include "postfix.h"
#include "scan.h"
#include "state.h"
#include "status.h"
#include "store.h"
#include "util.h"
#include "work.h"

/* 1 when path holds exactly buf, 0 otherwise. */
int
commit_file_equals(const char *path, const char *buf, size_t len)
{
	unsigned char *old = NULL;
	size_t oldlen = 0;
	char why[256];
	int same;

	if (fsio_read(path, len + 1, &old, &oldlen, NULL, why,
	    sizeof(why)) == -1)
		return 0;
	same = oldlen == len && memcmp(old, buf, len) == 0;
	free(old);
	return same;
}

int
commit_lmdb_current(const struct state *old, const char *lmdb)
{
	struct fsio_id id;

	return old->have_lmdb && fsio_identity(lmdb, &id) == 0 &&
	    fsio_same_id(&id, &old->lmdb);
}

/*
 * Replaces the served files of d->stage: every new content is written
 * into a temp file in staging/ (so that finding what a killed run left
 * is one listing of a small directory, not of served/) and made durable (an fsync each for a few, one
 * syncfs for many) before the first rename, and the renames are made
 * durable after the last: at any instant each file holds its old pair or
 * its new one, whole. 0, or -1 (logged; the temp files are gone, files
 * renamed already hold validated pairs and the state still records the
 * old ones, so the next run writes them again).
 */
int
commit_store(const struct work_ctx *x, struct validated *v,
    const struct diff *d)
{
	size_t k, ns = 0, n = d->nstage;
	char (*tmp)[PATH_MAX], **paths;
	int rc = 0, durable = n <= 8;

	if (n == 0)
		return 0;
	if (fsio_mkdirs(x->served, 0700) == -1 ||
	    fsio_mkdirs(x->staging, 0700) == -1)
		return -1;
	tmp = xcalloc(n, sizeof(*tmp));
	paths = xcalloc(n, sizeof(*paths));
	for (k = 0; k < n && rc == 0; k++) {
		struct pair *p = &v->pairs[d->stage[k]];
		unsigned char *buf;
		size_t len;

		if (work_load_bytes(x, p) == -1) {
			rc = -1;
			break;
		}
		buf = store_content(p, &len);
		paths[k] = store_path(x->served, p->lineage);
		if (fsio_stage(paths[k], x->staging, buf, len, 0600, durable,
		    tmp[k], sizeof(tmp[k])) == -1)
			rc = -1;
		else
			ns++;
		util_free_wiped(buf, len);
	}
	if (rc == 0 && !durable && fsio_sync_fs(x->served) == -1)
		rc = -1;
	for (k = 0; k < ns; k++)
		if (rc == -1)
			fsio_temp_abort(tmp[k]);
		else if (fsio_stage_commit(tmp[k], paths[k]) == -1)
			rc = -1;
	if (ns > 0 && fsio_sync_dir(x->served) == -1)
		rc = -1;
	if (rc == 0)
		log_debug("store: %zu served files replaced", ns);
	for (k = 0; k < n; k++)
		free(paths[k]);
	free(paths);
	free(tmp);
	return rc;
}

/*
 * A sync of a few lineages (the daemon, the deploy hook) against a map
 * that is exactly the one the state describes changes only the entries
 * of the names that change (d), in place: those set first, in name
 * order, then those removed. Returns 0 done, 1 not done (rebuild).
 */
static int
update_postfix(const struct work_ctx *x, struct loaded *ld,
    const struct diff *d, const char *lmdb)
{
	struct pf_change *ch;
	size_t i, n = 0;
	int rc = 1;

	if (x->o->nonly == 0 || !commit_lmdb_current(&ld->old, lmdb))
		return 1;
	ch = xcalloc(d->nnames + 1, sizeof(*ch));
	for (i = 0; i < d->nnames; i++) {
		const struct plan_entry *e = d->names[i].e;
		struct pair *p, *alt = NULL;

		if (e == NULL)
			continue;	/* removed: below */
		p = &ld->v.pairs[e->pair];
		if (e->alt != PLAN_NO_ALT)
			alt = &ld->v.pairs[e->alt];
		if (work_load_bytes(x, p) == -1 ||
		    (alt != NULL && work_load_bytes(x, alt) == -1))
			goto out;
		ch[n++] = (struct pf_change){ e->name, p, alt };
	}
	for (i = 0; i < d->nnames; i++)
		if (d->names[i].e == NULL)
			ch[n++] = (struct pf_change){ d->names[i].name, NULL,
			    NULL };
	if (n * 2 > ld->plan.n && !ld->partial)
		goto out;	/* most of it: a new file is as cheap */
	rc = postfix_update_lmdb(lmdb, ch, n, 2000);
	if (rc == 0)
		log_debug("postfix: %zu entries of %s changed in place", n,
		    lmdb);
out:
	free(ch);
	return rc;
}

int
commit_postfix(const struct work_ctx *x, struct loaded *ld,
    const struct diff *d, const char *src, size_t srclen,
    struct fsio_id *lmdb_id)
{
	const char *map = x->c->postfix.path;
	char *lmdb = xasprintf("%s.lmdb", map), tmp[PATH_MAX];
	size_t i;
	int rc = -1;

	if (update_postfix(x, ld, d, lmdb) == 0)
		goto written;
	if (ld->partial)
		goto out;	/* its plan is not the whole map's */
	for (i = 0; i < ld->plan.n; i++) {
		size_t ix[2], k, n = plan_entry_pairs(&ld->plan.e[i], ix);

		for (k = 0; k < n; k++)
			if (work_load_bytes(x, &ld->v.pairs[ix[k]]) == -1)
				goto out;
	}
	if (fsio_temp_open(lmdb, tmp, sizeof(tmp)) == -1)
		goto out;
	if (postfix_write_lmdb(tmp, &ld->plan, ld->v.pairs) == -1) {
		fsio_temp_abort(tmp);
		goto out;
	}
	if (fsio_temp_commit(tmp, lmdb, 0600) == -1)
		goto out;
written:
	if (fsio_identity(lmdb, lmdb_id) == -1) {
		log_err("%s: lstat: %s", log_esc(lmdb), strerror(errno));
		goto out;
	}
	/* 0600: a later `postmap -F` of this source keeps the map 0600.
	 * The renewal path keeps names and paths: the source is as it is. */
	if (!ld->partial && fsio_replace(map, src, srclen, 0600) == -1)
		goto out;
	rc = 0;
out:
	free(lmdb);
	return rc;
}

/* Whether a run may leave served files nothing names: a full resync, a
 * run that keeps Dovecot at the previous include, a host with the legacy
 * store, or a run whose set of lineages changed. A renewal is none of
 * these: it lists nothing. */
static int
gc_due(const struct work_ctx *x, const struct loaded *ld, int keep_old)
{
	size_t i;

	if (x->o->nonly == 0 || keep_old || x->legacy != NULL ||
	    ld->v.npairs != ld->old.n)
		return 1;
	for (i = 0; i < ld->v.npairs; i++)
		if (scan_has(&ld->sc, ld->v.pairs[i].lineage) &&
		    state_pair_of(&ld->old, ld->v.pairs[i].lineage) == NULL)
			return 1;
	return 0;
}

static void
add_name(char ***v, size_t *n, const char *lineage)
{
	char name[STORE_NAME_MAX];

	store_file_name(lineage, name);
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(name);
}

/* The served files the include on disk names (Dovecot may be held back
 * at an earlier one), read when a file nothing else keeps is found. */
struct inc_refs {
	const struct work_ctx *x;
	const char	 *dir;		/* refs to files in this directory */
	int		  loaded;
	char		**v;		/* sorted */
	size_t		  n;
};

static int
named_by_include(struct inc_refs *r, char **name)
{
	unsigned char *text = NULL;
	size_t len = 0;
	char why[256];

	if (!r->loaded) {
		r->loaded = 1;
		if (r->x->on[SVC_DOVECOT] && fsio_read(r->x->c->dovecot.path,
		    SCAN_MAX_FILE * 64, &text, &len, NULL, why,
		    sizeof(why)) == 0)
			r->v = dovecot_refs((const char *)text, len, r->dir,
			    &r->n);
		if (r->n > 1)
			qsort(r->v, r->n, sizeof(char *), strv_cmp);
		free(text);
	}
	return r->n > 0 && bsearch(name, r->v, r->n, sizeof(char *),
	    strv_cmp) != NULL;
}

static void
inc_refs_free(struct inc_refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

/*
 * Removes the files of dir that are neither in keep[0, nkeep) (sorted)
 * nor named by the include, and temp files a killed run left; then dir
 * itself when it is emptied and rm_dir. listed[0, nlisted): dir's sorted
 * listing taken earlier in this run, or NULL to list it now. An earlier
 * listing lacks only the files this run renamed in since, and those are
 * its pairs' files, all in keep.
 */
static void
gc_dir(const char *dir, char **keep, size_t nkeep, struct inc_refs *inc,
    int rm_dir, char **listed, size_t nlisted)
{
	char **names = listed;
	size_t n = nlisted, i, k = 0, left = 0;

	if (names == NULL && fsio_list(dir, &names, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		int c = 1;
		char *path;

		/* both sorted by strcmp(): one walk */
		while (k < nkeep && (c = strcmp(keep[k], names[i])) < 0)
			k++;
		if (strstr(names[i], ".pem.tmp.") == NULL && (len < 5 ||
		    strcmp(names[i] + len - 4, ".pem") != 0 || c == 0 ||
		    named_by_include(inc, &names[i]))) {
			left++;
			continue;
		}
		path = xasprintf("%s/%s", dir, names[i]);
		log_debug("store: removing %s", path);
		if (fsio_remove(path) == -1)
			left++;
		free(path);
	}
	if (names != listed)
		fsio_list_free(names, n);
	if (rm_dir && left == 0 && rmdir(dir) == 0)
		log_info("store: %s removed: every pair is served from %s/ now",
		    dir, STORE_SERVED);
}

/*
 * Removes the served files nothing names any more: the lineage of no
 * pair of this run (nor, keep_old, of the previous run's), and not named
 * by the include on disk (read only when such a file is found); on a
 * host upgraded from the legacy store, its files once the include names
 * none of them, then its directory.
 */
void
commit_gc(const struct work_ctx *x, const struct loaded *ld,
    const struct store_list *ls, int keep_old)
{
	struct inc_refs inc = { x, x->served, 0, NULL, 0 };
	struct inc_refs linc = { x, x->legacy, 0, NULL, 0 };
	char **keep = NULL;
	size_t nkeep = 0, i;

	if (!gc_due(x, ld, keep_old))
		return;
	for (i = 0; i < ld->v.npairs; i++)
		add_name(&keep, &nkeep, ld->v.pairs[i].lineage);
	for (i = 0; keep_old && i < ld->old.n; i++)
		add_name(&keep, &nkeep, ld->old.pairs[i].lineage);
	util_sort_unless_sorted(keep, nkeep, sizeof(char *), strv_cmp);
	gc_dir(x->served, keep, nkeep, &inc, 0, ls->served_done &&
	    ls->nserved > 0 ? ls->served : NULL, ls->nserved);
	if (x->legacy != NULL)
		gc_dir(x->legacy, NULL, 0, &linc, 1, NULL, 0);
	for (i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	inc_refs_free(&inc);
	inc_refs_free(&linc);
}

int
commit_save_state(const struct work_ctx *x, struct state *old,
    const struct state *st, int run_only)
{
	return (run_only ? state_save_run : state_save)(x->c->state_dir, old,
	    st);
}

int
commit_save_intent(const struct work_ctx *x, struct state *old,
    const struct svc_run *sv)
{
	int i, more = 0;

	for (i = 0; i < SVC__MAX; i++)
		if ((sv[i].change || sv[i].files || sv[i].for_default) &&
		    !old->reload_pending[i]) {
			old->reload_pending[i] = 1;
			more = 1;
		}
	if (!more)
		return 0;
	return state_save_run(x->c->state_dir, old, old);
}

/*
 * The end of a run that got as far as comparing: the stamp files
 * (last-sync always; last-applied when every valid lineage was applied,
 * rc 0 or 1; last-success when, besides, nothing was rejected, rc 0:
 * their mtimes are the times `status` and the metrics report; no byte is
 * written when nothing changed) and the metrics file when configured.
 */
void
commit_finish(const struct work_ctx *x, const struct state *st,
    const struct plan *plan, int rc)
{
	const char *dir = x->c->state_dir;
	char *sync_stamp = xasprintf("%s/" STAMP_LAST_SYNC, dir);
	char *applied_stamp = xasprintf("%s/" STAMP_LAST_APPLIED, dir);
	char *ok_stamp = xasprintf("%s/" STAMP_LAST_SUCCESS, dir);

	fsio_stamp(sync_stamp);
	if (rc == EXIT_SYNCED || rc == EXIT_REJECTED)
		fsio_stamp(applied_stamp);
	if (rc == EXIT_SYNCED)
		fsio_stamp(ok_stamp);
	if (x->c->metrics_file != NULL) {
		size_t len;
		char *text;

		text = metrics_render(st, plan,
		    fsio_stamp_time(sync_stamp), fsio_stamp_time(ok_stamp),
		    &len);
		if (fsio_replace(x->c->metrics_file, text, len, 0644) == -1)
			log_warn("metrics: %s not updated",
			    log_esc(x->c->metrics_file));
		free(text);
	}
	free(sync_stamp);
	free(applied_stamp);
	free(ok_stamp);
}
