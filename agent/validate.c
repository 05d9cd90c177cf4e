/*
 * validate.c - scan -> validate -> plan: the pairs a run may serve.
 *
 * validate_scan() scans the sources (scan.c returns what it saw and
 * nothing else); validate_run() validates each lineage it read (cert.c,
 * on up to 8 threads) into the pairs a plan may serve and the lineages
 * that failed (struct validated); sync.c builds the plans. Validation
 * owns the
 * cache of unchanged pairs: a lineage whose resolved files are the very
 * files its applied pair was validated from, still valid, with its
 * served file on disk, is neither read nor validated again. A lineage
 * that fails is reported once, with the file and the reason (or deferred:
 * snisync watch, a certbot swap in progress), and keeps its last good
 * pair while that one is valid; a new key for a name dane.hold_key_change
 * lists waits for `snisync release`. Returns 0, or -1 only when the tree
 * cannot be read. Writes no file: what it touches it only reads; key
 * bytes are never logged.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "fsio.h"
#include "log.h"
#include "plan.h"
#include "scan.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "work.h"

/* One validation: what it reads, the listing it may fill, its result. */
struct vrun {
	const struct work_ctx	*x;
	const struct state	*old;		/* pairs sorted by lineage */
	struct store_list	*ls;
	struct scan		*sc;	/* its lineages' bytes move to
					   the pairs */
	struct validated	*v;
};

static const char *
file_name(enum cert_file f)
{
	return f == CERT_FILE_KEY ? "privkey.pem" : "fullchain.pem";
}

static struct pair *
add_pair(struct vrun *vr)
{
	struct validated *v = vr->v;
	v->pairs = xgrow(v->pairs, v->npairs, sizeof(*v->pairs));
	memset(&v->pairs[v->npairs], 0, sizeof(*v->pairs));
	return &v->pairs[v->npairs++];
}

/* A pair as the applied state has it (src is one of vr->old's pairs,
 * which outlive this run's): its strings are borrowed, not copied (at
 * 10,000 lineages the copies cost more than the rest of a renewal). */
static void
copy_pair_meta(struct pair *dst, const struct pair *src)
{
	*dst = *src;
	dst->borrowed = 1;
	dst->key = dst->chain = NULL;
	dst->keylen = dst->chainlen = 0;
}

/* Keeps the previously applied pair of a failing lineage in service. */
static void
keep_last_good(struct vrun *vr, const char *lineage, int quiet)
{
	struct validated *v = vr->v;
	const struct pair *op = state_pair_of(vr->old, lineage);
	struct pair *p;

	if (op == NULL)
		return;
	if (op->not_after < vr->x->now) {
		log_warn("lineage %s: its last good certificate expired %s; "
		    "its names are no longer served", log_esc(lineage),
		    fmt_utc(op->not_after));
		return;
	}
	p = add_pair(vr);
	copy_pair_meta(p, op);
	p->last_good = 1;
	if (work_load_bytes(vr->x, p) == -1) {
		log_err("lineage %s: last good pair unavailable; its names "
		    "are no longer served", log_esc(lineage));
		pair_free(p);
		v->npairs--;
		return;
	}
	if (!quiet)
		log_warn("lineage %s: still serving its last good certificate "
		    "(serial %s, expires %s)", log_esc(lineage), p->serial,
		    fmt_utc(p->not_after));
}

static void
reject(struct vrun *vr, const char *lineage, const char *file,
    const char *why, int transient)
{
	struct validated *v = vr->v;
	const struct sync_opts *o = vr->x->o;

	v->failing = xreallocarray(v->failing, v->nfailing + 1,
	    sizeof(*v->failing));
	v->failing[v->nfailing++] = (struct failing){ xstrdup(lineage),
	    file != NULL ? xasprintf("%s: %s", file, why) : xstrdup(why),
	    transient, 0 };
	if (!strv_has(o->loud, o->nloud, lineage) &&
	    (strv_has(o->quiet, o->nquiet, lineage) ||
	    (o->daemon && transient))) {
		v->failing[v->nfailing - 1].deferred = 1;
		/* Maybe certbot mid-swap: the caller retries it later
		 * (sync.c hands it back as sync_result.deferred). */
		log_debug("lineage %s: not ready yet: %s%s%s",
		    log_esc(lineage), file ? file : "", file ? ": " : "", why);
		keep_last_good(vr, lineage, 1);
		return;
	}
	if (file != NULL)
		log_err("lineage %s: %s: %s", log_esc(lineage), file, why);
	else
		log_err("lineage %s: %s", log_esc(lineage), why);
	v->errs = xreallocarray(v->errs, v->nerrs + 1, sizeof(*v->errs));
	v->errs[v->nerrs++] = (struct state_error){ xstrdup(lineage),
	    file ? xstrdup(file) : NULL, xstrdup(why), (long long)vr->x->now };
	for (size_t i = 0; i < vr->old->nerrs; i++)
		if (strcmp(vr->old->errs[i].lineage, lineage) == 0 &&
		    vr->old->errs[i].since != 0)
			v->errs[v->nerrs - 1].since = vr->old->errs[i].since;
	v->nrejected++;
	keep_last_good(vr, lineage, 0);
}

/* The part of validation that needs no shared state: runs on worker
 * threads. */
struct vjob {
	struct lineage		*l;
	int			 rc;
	struct cert_info	 info;
	enum cert_file		 f;
	char			 why[512];
	char			 key_id[65], chain_id[65];
};

struct vpool {
	struct vjob		*jobs;
	time_t			 now;
};

static void *
vbegin(void *arg)
{
	(void)arg;
	return cert_ctx_new();
}

static void
vend(void *cx)
{
	cert_ctx_free(cx);
}

static void
vjob_run(void *arg, void *cx, size_t i)
{
	struct vpool *vp = arg;
	struct vjob *j = &vp->jobs[i];
	struct lineage *l = j->l;

	l->key.len = cert_key_strip_params(l->key.data, l->key.len);
	j->rc = cert_validate_ctx(cx, l->key.data, l->key.len, l->chain.data,
	    l->chain.len, vp->now, &j->info, &j->f, j->why, sizeof(j->why));
	if (j->rc == 0) {
		cert_sha256_hex(l->key.data, l->key.len, j->key_id);
		cert_sha256_hex(l->chain.data, l->chain.len, j->chain_id);
	}
}

/* Validates every job, on as many threads as there are CPUs (up to 8)
 * when there are enough jobs to be worth it; each thread has its own
 * OpenSSL context (cert_ctx). */
static void
validate_all(struct vjob *jobs, size_t n, time_t now)
{
	struct vpool vp = { jobs, now };

	par_for_ctx(n, 64, vjob_run, &vp, vbegin, vend);
}

static int	on_disk(struct vrun *vr, const struct pair *p);

/* The first name of a pair that dane.hold_key_change lists, or NULL. */
static const char *
held_name(const struct vrun *vr, const struct pair *p)
{
	size_t i;

	for (i = 0; i < p->nnames; i++)
		if (strv_has(vr->x->c->hold, vr->x->c->nhold, p->names[i]))
			return p->names[i];
	return NULL;
}

/*
 * dane.hold_key_change: a fresh pair whose key differs from the key its
 * lineage serves, for a listed name, waits for `snisync release`; the
 * lineage keeps serving its previous pair (p becomes a copy of it) while
 * that pair stays valid for another day and its store files are there.
 * Returns 1 when the change was held already by an earlier run, else 0.
 */
static int
hold_check(struct vrun *vr, struct pair *p)
{
	struct validated *v = vr->v;
	const struct pair *op = state_pair_of(vr->old, p->lineage);
	const struct state_hold *oh;
	struct state_hold h = { 0 };
	const char *name;
	int known;

	if (op == NULL || strcmp(op->key_id, p->key_id) == 0 ||
	    ((name = held_name(vr, p)) == NULL &&
	    (name = held_name(vr, op)) == NULL))
		return 0;
	if (strv_has(vr->x->o->release, vr->x->o->nrelease, p->lineage)) {
		log_info("lineage %s: key change released: serving serial %s "
		    "with its new key", log_esc(p->lineage), p->serial);
		return 0;
	}
	if (op->not_after - (long long)vr->x->now < 86400 ||
	    !on_disk(vr, op)) {
		log_warn("lineage %s: key change for %s applied without a "
		    "release: the previous certificate %s", log_esc(p->lineage),
		    name, op->not_after - (long long)vr->x->now < 86400 ?
		    "expires within a day" : "is no longer in the store");
		return 0;
	}
	oh = state_hold_of(vr->old, p->lineage);
	h.lineage = xstrdup(p->lineage);
	memcpy(h.key_id, p->key_id, sizeof(h.key_id));
	memcpy(h.serial, p->serial, sizeof(h.serial));
	if (cert_spki_sha256(p->chain, p->chainlen, 0, h.spki) == -1)
		h.spki[0] = '\0';
	known = oh != NULL && strcmp(oh->key_id, p->key_id) == 0;
	h.since = known && oh->since != 0 ? oh->since : (long long)vr->x->now;
	(known ? log_debug : log_warn)("lineage %s: "
	    "new key held back (dane.hold_key_change lists %s): still serving "
	    "serial %s; publish the new TLSA 3 1 1 record, then run `snisync "
	    "release %s`", log_esc(p->lineage), name, op->serial, name);
	v->holds = xreallocarray(v->holds, v->nholds + 1, sizeof(*v->holds));
	v->holds[v->nholds++] = h;
	pair_free(p);
	copy_pair_meta(p, op);
	p->last_good = 0;
	return known;
}

/* The sequential part: report, or turn the result into a pair. */
/* IP addresses in subjectAltName are never SNI names (RFC 6066, 3): a
 * debug line each; a certificate of addresses alone is valid and serves
 * no name, said once per new certificate. */
static void
note_ips(const char *lineage, const struct cert_info *info, size_t nnames)
{
	size_t k;

	for (k = 0; k < info->nips; k++)
		log_debug("lineage %s: IP address %s in subjectAltName left "
		    "out: SNI never carries an address", log_esc(lineage),
		    info->ips[k]);
	if (nnames == 0 && info->nips > 0)
		log_info("lineage %s: valid; only IP addresses in "
		    "subjectAltName (%s%s), so it serves no SNI name",
		    log_esc(lineage), info->ips[0], info->nips > 1 ?
		    ", ..." : "");
}

static void
validate_one(struct vrun *vr, struct lineage *l, struct vjob *j)
{
	struct validated *v = vr->v;
	const struct pair *op;
	struct pair *p;
	int differs;

	if (l->error != NULL) {
		reject(vr, l->name, l->err_file, l->error, l->transient);
		return;
	}
	if (l->cached) {
		/* The files validated and applied before, unchanged. */
		p = add_pair(vr);
		copy_pair_meta(p, state_pair_of(vr->old, l->name));
		p->last_good = 0;
		return;
	}
	if (j->rc == -1) {
		reject(vr, l->name, l->key_file == NULL ? file_name(j->f) :
		    j->f == CERT_FILE_KEY ? l->key_file : l->chain_file, j->why,
		    l->swap_prone);
		return;
	}
	if (l->key.id.mode & 0004)
		log_warn("lineage %s: %s: %s is readable by everyone "
		    "(mode %04o); serving it anyway, but fix its mode",
		    log_esc(l->name), l->key_file ? l->key_file :
		    "privkey.pem", log_esc(l->key.path), l->key.id.mode);
	p = add_pair(vr);
	p->lineage = xstrdup(l->name);
	memcpy(p->key_id, j->key_id, sizeof(p->key_id));
	memcpy(p->chain_id, j->chain_id, sizeof(p->chain_id));
	p->names = j->info.names;
	p->nnames = j->info.nnames;
	j->info.names = NULL;
	j->info.nnames = 0;
	note_ips(l->name, &j->info, p->nnames);
	p->not_before = j->info.not_before;
	p->not_after = j->info.not_after;
	memcpy(p->key_desc, j->info.key_desc, sizeof(p->key_desc));
	memcpy(p->serial, j->info.serial, sizeof(p->serial));
	memcpy(p->fingerprint, j->info.fingerprint, sizeof(p->fingerprint));
	p->key = l->key.data;
	p->keylen = l->key.len;
	p->chain = l->chain.data;
	p->chainlen = l->chain.len;
	l->key.data = l->chain.data = NULL;	/* the pair owns them now */
	l->key.len = l->chain.len = 0;
	p->src_key = xstrdup(l->key.path);
	p->src_chain = xstrdup(l->chain.path);
	p->src_key_id = l->key.id;
	p->src_chain_id = l->chain.id;
	op = state_pair_of(vr->old, p->lineage);
	differs = op == NULL || !pair_same_files(op, p);
	if (hold_check(vr, p) == 0 && differs) {
		v->changed = xreallocarray(v->changed, v->nchanged + 1,
		    sizeof(char *));
		v->changed[v->nchanged++] = xstrdup(l->name);
	}
}

static int
cmp_strp_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

static int
listed(const char *dir, int *done, char ***names, size_t *n,
    const char *name, size_t *hint)
{
	if (dir == NULL)
		return 0;
	if (!*done) {
		*done = 1;
		if (fsio_list(dir, names, n) == -1) {
			*names = NULL;
			*n = 0;
		}
	}
	return util_find_sorted(name, *names, *n, sizeof(char *), cmp_strp_key,
	    hint) != NULL;
}

/* Whether a lineage's served file is there. A sync of a few lineages
 * (the daemon, the deploy hook) asks the file system for each; a
 * larger one lists the directory once, as it was when the scan began (a
 * file removed since is caught when it is read: work_load_bytes). */
int
validate_served_has(const struct work_ctx *x, struct store_list *ls,
    const char *lineage)
{
	static _Thread_local size_t hint;
	char name[STORE_NAME_MAX];
	struct stat st;
	char *path;
	int r;

	if (x->o->nonly > 0 && x->o->nonly <= 16 && !ls->served_done) {
		path = store_path(x->served, lineage);
		r = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
		return r;
	}
	store_file_name(lineage, name);
	return listed(x->served, &ls->served_done, &ls->served,
	    &ls->nserved, name, &hint);
}

static int
legacy_has(struct vrun *vr, const char *id)
{
	static _Thread_local size_t hint;
	char name[80];

	snprintf(name, sizeof(name), "%s.pem", id);
	return listed(vr->x->legacy, &vr->ls->legacy_done, &vr->ls->legacy,
	    &vr->ls->nlegacy, name, &hint);
}

/* An applied pair's bytes are on disk: its served file, or (a host
 * upgraded from the legacy store) both of its legacy files. */
static int
on_disk(struct vrun *vr, const struct pair *p)
{
	return validate_served_has(vr->x, vr->ls, p->lineage) ||
	    (vr->x->legacy != NULL && legacy_has(vr, p->key_id) &&
	    legacy_has(vr, p->chain_id));
}

/*
 * scan_cached_fn: a lineage whose resolved files are the very files its
 * applied pair was validated from (certbot never rewrites an archive
 * file), still within their validity, with both store copies present,
 * need not be read or validated again (its served file is there).
 */
static int
cached(void *arg, const struct lineage *l)
{
	struct vrun *vr = arg;
	const struct pair *op = state_pair_of(vr->old, l->name);

	return op != NULL && !op->last_good && op->src_key != NULL &&
	    op->src_chain != NULL && strcmp(op->src_key, l->key.path) == 0 &&
	    strcmp(op->src_chain, l->chain.path) == 0 &&
	    fsio_same_id(&op->src_key_id, &l->key.id) &&
	    fsio_same_id(&op->src_chain_id, &l->chain.id) &&
	    op->not_before <= (long long)vr->x->now &&
	    op->not_after >= (long long)vr->x->now && on_disk(vr, op);
}

/* scan_prior_fn: the files an applied pair that cached() may take was
 * validated from (read only: vr->old is sorted before the scan). */
static int
prior(void *arg, const char *lineage, struct scan_prior *p)
{
	const struct vrun *vr = arg;
	const struct pair *op = state_pair_of(vr->old, lineage);

	if (op == NULL || op->last_good || op->src_key == NULL ||
	    op->src_chain == NULL)
		return 0;
	p->key_path = op->src_key;
	p->chain_path = op->src_chain;
	p->key_id = op->src_key_id;
	p->chain_id = op->src_chain_id;
	return 1;
}

/* "Served since": a pair keeps the time it was first applied for as long
 * as its lineage serves the same key and chain; "key since" as long as
 * it serves the same key. */
static void
stamp_since(struct vrun *vr)
{
	struct validated *v = vr->v;
	size_t i;

	for (i = 0; i < v->npairs; i++) {
		struct pair *p = &v->pairs[i];
		const struct pair *op;

		op = state_pair_of(vr->old, p->lineage);
		if (p->since == 0)
			p->since = op != NULL && op->since != 0 &&
			    pair_same_files(op, p) ? op->since :
			    (long long)vr->x->now;
		/* A renewal that keeps its key (certbot --reuse-key) keeps
		 * the key's time: what a DANE 3 1 1 record pins. */
		if (p->key_since == 0)
			p->key_since = op != NULL && op->key_since != 0 &&
			    strcmp(op->key_id, p->key_id) == 0 ?
			    op->key_since : p->since;
	}
}

static int
old_error_is(const struct vrun *vr, const struct state_error *e)
{
	size_t i;

	for (i = 0; i < vr->old->nerrs; i++)
		if (strcmp(vr->old->errs[i].lineage, e->lineage) == 0)
			return strcmp(vr->old->errs[i].error, e->error) == 0;
	return 0;
}

static int
cmp_count_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct lineage_count *)elem)->lineage);
}

static int
cmp_count(const void *a, const void *b)
{
	return strcmp(((const struct lineage_count *)a)->lineage,
	    ((const struct lineage_count *)b)->lineage);
}

/*
 * Failures per lineage: a lineage counts one more each time it starts
 * failing or fails for another reason (not once per run while it keeps
 * failing the same way). Counts of lineages gone from the tree are
 * dropped; those of lineages not looked at (--lineage) are kept.
 */
static void
count_errors(struct vrun *vr)
{
	struct validated *v = vr->v;
	size_t i;

	v->counts = xcalloc(vr->old->ncounts + v->nerrs + 1,
	    sizeof(*v->counts));
	for (i = 0; i < vr->old->ncounts; i++) {
		const char *l = vr->old->counts[i].lineage;

		if (scan_has(vr->sc, l) || (vr->x->o->nonly > 0 &&
		    !strv_has(vr->x->o->only, vr->x->o->nonly, l)))
			v->counts[v->ncounts++] = (struct lineage_count){
			    xstrdup(l), vr->old->counts[i].n };
	}
	for (i = 0; i < v->nerrs; i++) {
		struct lineage_count *c;

		if (old_error_is(vr, &v->errs[i]))
			continue;
		c = v->ncounts == 0 ? NULL : bsearch(v->errs[i].lineage,
		    v->counts, v->ncounts, sizeof(*v->counts), cmp_count_key);
		if (c != NULL) {
			c->n++;
			continue;
		}
		v->counts[v->ncounts++] = (struct lineage_count){
		    xstrdup(v->errs[i].lineage), 1 };
		qsort(v->counts, v->ncounts, sizeof(*v->counts), cmp_count);
	}
}

/* certbot's tree, or NULL: none configured, or the built-in default
 * missing on a host that uses other sources. */
static const char *
certbot_dir(const struct conf *c)
{
	struct stat st;

	if (c->letsencrypt_dir != NULL && !c->letsencrypt_explicit &&
	    c->nsources > 0 && stat(c->letsencrypt_dir, &st) == -1 &&
	    errno == ENOENT)
		return NULL;
	return c->letsencrypt_dir;
}

int
validate_scan(const struct work_ctx *x, const struct state *old,
    struct store_list *ls, struct scan *sc)
{
	struct vrun vr = { x, old, ls, NULL, NULL };

	return scan_all(certbot_dir(x->c), x->c->sources, x->c->nsources,
	    x->o->only, x->o->nonly, prior, cached, &vr, sc);
}

/* Each lineage of the scan validated, those not looked at carried
 * over, then what is derived from them ("since", failure counts). */
static void
validate_scanned(struct vrun *vr)
{
	struct validated *v = vr->v;
	const struct sync_opts *o = vr->x->o;
	struct scan *sc = vr->sc;
	struct vjob *jobs;
	size_t i, j, njobs = 0;

	jobs = xcalloc(sc->n + 1, sizeof(*jobs));
	for (i = 0; i < sc->n; i++)
		if (sc->v[i].error == NULL && !sc->v[i].cached)
			jobs[njobs++].l = &sc->v[i];
	validate_all(jobs, njobs, vr->x->now);
	v->nvalidated = njobs;
	for (i = 0, j = 0; i < sc->n; i++) {
		struct vjob *job = NULL;

		if (j < njobs && jobs[j].l == &sc->v[i])
			job = &jobs[j++];
		validate_one(vr, &sc->v[i], job);
		if (job != NULL)
			cert_info_free(&job->info);
	}
	free(jobs);
	for (i = 0; i < vr->old->n; i++) {
		const struct pair *op = &vr->old->pairs[i];

		if (scan_has(vr->sc, op->lineage))
			continue;
		if (o->nonly > 0 && !strv_has(o->only, o->nonly, op->lineage)) {
			/* Not asked about: it stays as it is, served from
			 * the file it had when it was applied (only a full
			 * resync looks at each again; a map rebuilt whole
			 * reads it, and work_load_bytes names it if it
			 * is gone). */
			copy_pair_meta(add_pair(vr), op);
			continue;
		}
		if (scan_source_of(vr->x->c->sources, vr->x->c->nsources,
		    op->lineage) != NULL)
			log_info("lineage %s: gone from its source; removing "
			    "its names", log_esc(op->lineage));
		else
			log_info("lineage %s: gone from %s/live; removing its "
			    "names", log_esc(op->lineage),
			    log_esc(vr->x->c->letsencrypt_dir ?
			    vr->x->c->letsencrypt_dir : "letsencrypt_dir"));
	}
	if (o->nonly > 0)
		for (i = 0; i < vr->old->nerrs; i++)
			if (!strv_has(o->only, o->nonly,
			    vr->old->errs[i].lineage) &&
			    !scan_has(vr->sc, vr->old->errs[i].lineage)) {
				struct state_error *e = &vr->old->errs[i];

				v->errs = xreallocarray(v->errs, v->nerrs + 1,
				    sizeof(*v->errs));
				v->errs[v->nerrs++] = (struct state_error){
				    xstrdup(e->lineage),
				    e->file ? xstrdup(e->file) : NULL,
				    xstrdup(e->error), e->since };
			}
	/* Held key changes of lineages not looked at stay held. */
	if (o->nonly > 0)
		for (i = 0; i < vr->old->nholds; i++)
			if (!strv_has(o->only, o->nonly,
			    vr->old->holds[i].lineage) &&
			    !scan_has(vr->sc, vr->old->holds[i].lineage)) {
				struct state_hold h = vr->old->holds[i];

				h.lineage = xstrdup(h.lineage);
				v->holds = xreallocarray(v->holds,
				    v->nholds + 1, sizeof(*v->holds));
				v->holds[v->nholds++] = h;
			}
	stamp_since(vr);
	count_errors(vr);
}

void
validate_run(const struct work_ctx *x, const struct state *old,
    struct scan *sc, struct store_list *ls, struct validated *v)
{
	struct vrun vr = { x, old, ls, sc, v };

	memset(v, 0, sizeof(*v));
	validate_scanned(&vr);
}
