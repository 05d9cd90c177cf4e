/*
 * scan.c - certbot tree -> lineages.
 *
 * For each directory under <letsencrypt_dir>/live, resolves privkey.pem
 * and fullchain.pem, refuses targets outside letsencrypt_dir (after
 * resolving every link), loops, non-regular files and files over
 * SCAN_MAX_FILE, and reads both into memory with their identity. Reports
 * per lineage, never aborts the scan for one bad lineage. Reads only.
 *
 * The common case is resolved without realpath(): a link that reads
 * "../../archive/<lineage>/<file>" (what certbot writes), from a live/
 * and an archive/ that are real directories of the resolved root, to a
 * lineage archive directory and a regular file that are no links, lands
 * at root/archive/<lineage>/<file>; three short syscalls relative to open
 * directories instead of a walk of every component. Anything else takes
 * the general path, which decides (and words) every refusal.
 *
 * Cheaper still, a lineage the caller validated before (scan_prior_fn):
 * one stat of each link, followed. When both reach the very files the
 * caller validated (device, inode, size, mtime), the lineage keeps those
 * resolved paths and nothing is resolved or read. A link that reaches the
 * same file another way (a hard link) reaches the same bytes, so no file
 * outside the tree is ever read: the first time a lineage is seen, and
 * whenever a link moves to another file, every link is resolved.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "scan.h"
#include "util.h"

const char *
scan_lineage_name_ok(const char *name)
{
	const unsigned char *p;

	if (name[0] == '\0' || name[0] == '.')
		return "hidden or empty directory name";
	if (strlen(name) > 255)
		return "directory name too long";
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\' || *p == '"')
			return "directory name holds spaces, control or "
			    "non-ASCII characters";
	return NULL;
}

/* certbot names archive files <kind>N.pem: return N, or -1. */
static long
file_version(const char *path, const char *kind)
{
	const char *base = strrchr(path, '/');
	size_t k = kind != NULL ? strlen(kind) : 0;
	char *end;
	long v;

	if (kind == NULL)
		return -1;
	base = base ? base + 1 : path;
	if (strncmp(base, kind, k) != 0 || base[k] < '0' || base[k] > '9')
		return -1;
	v = strtol(base + k, &end, 10);
	return strcmp(end, ".pem") == 0 ? v : -1;
}

/* The directories a scan works in, and what the caller holds. */
struct scan_ctx {
	const char	*root;		/* realpath(letsencrypt_dir) */
	int		 live_fd;	/* root/live */
	int		 archive_fd;	/* root/archive; -1: no fast path */
	scan_prior_fn	*prior;		/* NULL: resolve every link */
	void		*arg;
};

/*
 * The fast path: 1 with *st and real filled when the link is certbot's
 * own relative link to a plain archive file; 0 when the general path must
 * decide.
 */
static int
resolve_fast(const struct lineage *l, const struct scan_ctx *cx,
    const char *file, char *real, struct stat *st, int *adir)
{
	static const char pre[] = "../../archive/";
	char rel[PATH_MAX], target[PATH_MAX];
	size_t nl = strlen(l->name);
	const char *base;
	struct stat ad;
	ssize_t n;

	if (cx->archive_fd < 0)
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s", l->name, file);
	n = readlinkat(cx->live_fd, rel, target, sizeof(target) - 1);
	if (n <= 0 || (size_t)n >= sizeof(target) - 1)
		return 0;
	target[n] = '\0';
	if (strncmp(target, pre, sizeof(pre) - 1) != 0 ||
	    strncmp(target + sizeof(pre) - 1, l->name, nl) != 0 ||
	    target[sizeof(pre) - 1 + nl] != '/')
		return 0;
	base = target + sizeof(pre) + nl;
	if (base[0] == '\0' || strchr(base, '/') != NULL ||
	    strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return 0;
	if (*adir == -1)	/* the lineage's archive directory, once */
		*adir = fstatat(cx->archive_fd, l->name, &ad,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(ad.st_mode);
	if (!*adir)
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s", l->name, base);
	if (fstatat(cx->archive_fd, rel, st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st->st_mode))
		return 0;
	if ((size_t)snprintf(real, PATH_MAX, "%s/archive/%s", cx->root, rel) >=
	    PATH_MAX)
		return 0;
	return 1;
}

/* Follows live/<lineage>/<file> with one stat: 1 with sf filled from the
 * prior path when it reaches that very file, unchanged. */
static int
prior_one(const struct lineage *l, const struct scan_ctx *cx,
    const char *file, const char *kind, const char *path,
    const struct fsio_id *want, struct scan_file *sf)
{
	char rel[PATH_MAX];
	struct fsio_id id;
	struct stat st;

	if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", l->name, file) >=
	    sizeof(rel) || fstatat(cx->live_fd, rel, &st, 0) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	fsio_stat_identity(&st, &id);
	if (!fsio_same_id(&id, want))
		return 0;
	sf->path = xstrdup(path);
	sf->id = id;
	sf->version = file_version(path, kind);
	return 1;
}

/* A lineage whose links reach the files the caller validated it from
 * (scan_prior_fn): 1 with both files' paths and identities set. */
static int
resolve_prior(struct lineage *l, const struct scan_ctx *cx)
{
	struct scan_prior p;

	if (cx->prior == NULL || cx->live_fd < 0 ||
	    !cx->prior(cx->arg, l->name, &p) || p.key_path == NULL ||
	    p.chain_path == NULL)
		return 0;
	if (prior_one(l, cx, "privkey.pem", "privkey", p.key_path, &p.key_id,
	    &l->key) && prior_one(l, cx, "fullchain.pem", "fullchain",
	    p.chain_path, &p.chain_id, &l->chain) &&
	    l->key.version == l->chain.version)
		return 1;
	free(l->key.path);
	free(l->chain.path);
	memset(&l->key, 0, sizeof(l->key));
	memset(&l->chain, 0, sizeof(l->chain));
	return 0;
}

/* Resolves one live link inside root and checks what it points at,
 * without reading it. *adir: whether archive/<lineage> is a real
 * directory (-1: not known yet; the fast path finds out). */
static int
resolve_one(struct lineage *l, const struct scan_ctx *cx, const char *rel,
    const char *file, const char *kind, struct scan_file *sf, int *adir)
{
	const char *root = cx->root;
	char real[PATH_MAX];
	size_t rl = strlen(root);
	char *link = xasprintf("%s/%s", l->dir, rel);
	struct stat st;
	int rc = -1;

	l->err_file = file;
	if (resolve_fast(l, cx, rel, real, &st, adir))
		goto regular;
	if (realpath(link, real) == NULL) {
		if (errno == ENOENT) {
			l->transient = 1;
			l->error = xstrdup(lstat(link, &st) == 0 ?
			    "dangling symlink (target missing)" : "missing");
		} else if (errno == ELOOP)
			l->error = xstrdup("symlink loop");
		else
			l->error = xasprintf("cannot resolve: %s",
			    strerror(errno));
		goto out;
	}
	if (strncmp(real, root, rl) != 0 || real[rl] != '/') {
		l->error = xasprintf("link leads outside %s (to %s)",
		    log_esc(root), log_esc(real));
		goto out;
	}
	if (stat(real, &st) == -1) {
		l->transient = errno == ENOENT;
		l->error = xasprintf("%s: %s", log_esc(real), strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		l->error = xasprintf("%s: not a regular file", log_esc(real));
		goto out;
	}
regular:
	if ((unsigned long long)st.st_size > SCAN_MAX_FILE) {
		l->error = xasprintf("%s: file larger than %d bytes",
		    log_esc(real), SCAN_MAX_FILE);
		goto out;
	}
	sf->path = xstrdup(real);
	sf->version = file_version(real, kind);
	fsio_stat_identity(&st, &sf->id);
	l->err_file = NULL;
	rc = 0;
out:
	free(link);
	return rc;
}

static int
read_one(struct lineage *l, const char *file, struct scan_file *sf)
{
	char why[256];

	if (fsio_read(sf->path, SCAN_MAX_FILE, &sf->data, &sf->len, &sf->id,
	    why, sizeof(why)) == 0)
		return 0;
	l->err_file = file;
	l->error = xasprintf("%s: %s", log_esc(sf->path), why);
	return -1;
}

static size_t
count_certs(const unsigned char *p, size_t len)
{
	static const char tag[] = "-----BEGIN CERTIFICATE-----";
	const unsigned char *end = p + len, *hit;
	size_t n = 0;

	while ((hit = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1)) !=
	    NULL) {
		n++;
		p = hit + sizeof(tag) - 1;
	}
	return n;
}

/*
 * certbot's fullchain.pem is cert.pem + chain.pem. One holding only the
 * leaf while chain.pem of the same version holds issuers is still being
 * written (a new lineage's links exist before its files are complete):
 * served now, clients that lack the intermediate would fail. Looked at
 * only when fullchain.pem has a single certificate, so a normal lineage
 * costs nothing more.
 */
static void
chain_whole(struct lineage *l, const struct scan_ctx *cx)
{
	struct lineage t = { .name = l->name, .dir = l->dir };
	struct scan_file sf = { 0 };
	unsigned char *data = NULL;
	size_t len = 0;
	struct fsio_id id;
	char why[256];
	int adir = -1;

	if (count_certs(l->chain.data, l->chain.len) != 1)
		return;
	if (resolve_one(&t, cx, "chain.pem", "chain.pem", "chain", &sf,
	    &adir) == 0 &&
	    sf.version == l->chain.version &&
	    fsio_read(sf.path, SCAN_MAX_FILE, &data, &len, &id, why,
	    sizeof(why)) == 0 && count_certs(data, len) > 0) {
		l->err_file = "fullchain.pem";
		l->transient = 1;
		l->error = xstrdup("holds only the leaf certificate but "
		    "chain.pem holds its issuers (still being written?)");
	}
	free(t.error);
	free(sf.path);
	free(data);
}

/* Resolves both links (nothing read yet). st: lstat of l->dir, or NULL
 * when it failed with errno lerr. *by_prior: set when resolve_prior()
 * did it. */
static void
scan_resolve(struct lineage *l, const struct scan_ctx *cx,
    const struct stat *st, int lerr, unsigned char *by_prior)
{
	const char *bad;
	int adir = -1;

	if ((bad = scan_lineage_name_ok(l->name)) != NULL) {
		l->error = xstrdup(bad);
		return;
	}
	if (st == NULL) {
		l->error = xasprintf("%s", strerror(lerr));
		l->transient = lerr == ENOENT;
		return;
	}
	if (!S_ISDIR(st->st_mode)) {
		l->error = xstrdup("not a directory");
		return;
	}
	if (by_prior != NULL && resolve_prior(l, cx)) {
		*by_prior = 1;
		return;
	}
	if (resolve_one(l, cx, "privkey.pem", "privkey.pem", "privkey",
	    &l->key, &adir) == -1 || resolve_one(l, cx, "fullchain.pem",
	    "fullchain.pem", "fullchain", &l->chain, &adir) == -1)
		return;
	if (l->key.version != -1 && l->chain.version != -1 &&
	    l->key.version != l->chain.version) {
		l->err_file = "privkey.pem";
		l->transient = 1;
		l->error = xasprintf("privkey.pem is version %ld but "
		    "fullchain.pem is version %ld (renewal in progress?)",
		    l->key.version, l->chain.version);
	}
}

/* Reads both files of a resolved lineage the caller does not hold. */
static void
scan_read(struct lineage *l, const struct scan_ctx *cx)
{
	if (l->error != NULL || l->cached)
		return;
	if (read_one(l, "privkey.pem", &l->key) == -1)
		return;
	if (read_one(l, "fullchain.pem", &l->chain) == 0)
		chain_whole(l, cx);
}

static void
file_free(struct scan_file *sf)
{
	free(sf->path);
	util_free_wiped(sf->data, sf->len);
	memset(sf, 0, sizeof(*sf));
}

/* Below this many lineages a scan runs on one thread. */
#define SCAN_PAR_MIN	64

struct scan_job {
	const struct scan_ctx	*cx;
	struct scan		*sc;
	const char		*live;
	unsigned char		*type;		/* d_type from the listing,
						   DT_UNKNOWN when none */
	unsigned char		*regular;	/* a file, not a lineage */
	unsigned char		*by_prior;	/* resolve_prior() did it */
};

static void
resolve_job(void *arg, size_t i)
{
	struct scan_job *j = arg;
	struct lineage *l = &j->sc->v[i];
	struct stat st;
	int got, lerr;

	/* What the listing says spares an lstat in the common case. */
	if (j->type[i] == DT_REG) {
		j->regular[i] = 1;
		return;
	}
	if (j->type[i] == DT_DIR) {
		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFDIR;
		scan_resolve(l, j->cx, &st, 0, &j->by_prior[i]);
		return;
	}
	got = (j->cx->live_fd >= 0 ? fstatat(j->cx->live_fd, l->name, &st,
	    AT_SYMLINK_NOFOLLOW) : lstat(l->dir, &st)) == 0;
	lerr = got ? 0 : errno;
	if (got && S_ISREG(st.st_mode)) {
		j->regular[i] = 1;
		return;
	}
	scan_resolve(l, j->cx, got ? &st : NULL, lerr, &j->by_prior[i]);
}

static void
read_job(void *arg, size_t i)
{
	struct scan_job *j = arg;
	struct lineage *l = &j->sc->v[i];

	scan_read(l, j->cx);
	if (l->error != NULL) {
		file_free(&l->key);
		file_free(&l->chain);
	}
}

int
scan_tree(const char *le_dir, char *const *only, size_t nonly,
    scan_prior_fn *prior, scan_cached_fn *cached, void *arg, struct scan *sc)
{
	struct scan_job job;
	char root[PATH_MAX];
	char *live = NULL, *archive, **names = NULL;
	unsigned char *types = NULL;
	size_t n = 0, i, j;
	struct stat st;
	struct scan_ctx cx = { root, -1, -1, prior, arg };

	memset(sc, 0, sizeof(*sc));
	if (realpath(le_dir, root) == NULL) {
		log_err("%s: %s", log_esc(le_dir), strerror(errno));
		return -1;
	}
	live = xasprintf("%s/live", root);
	if (lstat(live, &st) == -1 && errno == ENOENT) {
		free(live);
		return 0;	/* certbot has not issued anything yet */
	}
	if (nonly > 0 && nonly <= 64) {
		/* A few lineages (a renewal): look them up, not through a
		 * listing of every lineage; one that is not there is gone. */
		names = xcalloc(nonly + 1, sizeof(*names));
		types = xcalloc(nonly + 1, 1);	/* DT_UNKNOWN */
		for (j = 0; j < nonly; j++) {
			char *path;

			if (only[j][0] == '\0' || strcmp(only[j], "..") == 0 ||
			    strchr(only[j], '/') != NULL ||
			    strv_has(names, n, only[j]))
				continue;
			path = xasprintf("%s/%s", live, only[j]);
			if (lstat(path, &st) == 0 || errno != ENOENT)
				names[n++] = xstrdup(only[j]);
			free(path);
		}
		qsort(names, n, sizeof(*names), strv_cmp);
	} else if (fsio_list_types(live, &names, &types, &n) == -1) {
		log_err("%s: %s", log_esc(live), strerror(errno));
		free(live);
		return -1;
	}
	/* Real directories (no links) of the resolved root: the fast path
	 * may trust "../../archive/" from live/<lineage>. */
	archive = xasprintf("%s/archive", root);
	if (lstat(live, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (cx.live_fd = open(live, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0 && lstat(archive, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		cx.archive_fd = open(archive, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	free(archive);
	sc->v = xcalloc(n ? n : 1, sizeof(*sc->v));
	job.type = xcalloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		if (nonly > 0) {
			for (j = 0; j < nonly; j++)
				if (strcmp(only[j], names[i]) == 0)
					break;
			if (j == nonly)
				continue;
		}
		if (names[i][0] == '.')
			continue;	/* hidden files */
		job.type[sc->n] = types[i];
		sc->v[sc->n].name = xstrdup(names[i]);
		sc->v[sc->n++].dir = xasprintf("%s/%s", live, names[i]);
	}
	/* The syscalls on worker threads, the caller's cache on this one,
	 * then the reads on workers again. */
	job.cx = &cx;
	job.sc = sc;
	job.live = live;
	job.regular = xcalloc(sc->n + 1, 1);
	job.by_prior = xcalloc(sc->n + 1, 1);
	par_for(sc->n, SCAN_PAR_MIN, resolve_job, &job);
	for (i = 0, j = 0; i < sc->n; i++) {
		if (job.regular[i]) {	/* live/README */
			free(sc->v[i].name);
			free(sc->v[i].dir);
			continue;
		}
		job.by_prior[j] = job.by_prior[i];
		sc->v[j++] = sc->v[i];
	}
	sc->n = j;
	free(job.regular);
	free(job.type);
	for (i = 0; i < sc->n; i++) {
		struct lineage *l = &sc->v[i];

		if (l->error == NULL && cached != NULL && cached(arg, l))
			l->cached = 1;
		else if (job.by_prior[i]) {
			/* Not what the caller holds after all (expired,
			 * its served file gone): resolve every link. */
			file_free(&l->key);
			file_free(&l->chain);
			scan_resolve(l, &cx, &(struct stat){ .st_mode =
			    S_IFDIR }, 0, NULL);
			if (l->error == NULL && cached != NULL &&
			    cached(arg, l))
				l->cached = 1;
		}
	}
	free(job.by_prior);
	par_for(sc->n, SCAN_PAR_MIN, read_job, &job);
	fsio_list_free(names, n);
	free(types);
	free(live);
	if (cx.live_fd >= 0)
		close(cx.live_fd);
	if (cx.archive_fd >= 0)
		close(cx.archive_fd);
	return 0;
}

/* ---- other ACME clients' layouts ---- */

static const char *const type_names[SOURCE__MAX] = {
	"dehydrated", "lego", "acme.sh", "kubernetes"
};

const char *
scan_source_type_name(enum source_type t)
{
	return t < SOURCE__MAX ? type_names[t] : "?";
}

const struct source *
scan_source_of(const struct source *src, size_t n, const char *lineage)
{
	const char *colon = strchr(lineage, ':');
	size_t i;

	if (colon == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strlen(src[i].name) == (size_t)(colon - lineage) &&
		    strncmp(src[i].name, lineage, (size_t)(colon - lineage)) == 0)
			return &src[i];
	return NULL;
}

static struct lineage *
add_lineage(struct scan *sc, size_t *cap)
{
	if (sc->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		sc->v = xreallocarray(sc->v, *cap, sizeof(*sc->v));
	}
	memset(&sc->v[sc->n], 0, sizeof(*sc->v));
	return &sc->v[sc->n++];
}

static int
wanted(const char *id, char *const *only, size_t nonly)
{
	size_t j;

	if (nonly == 0)
		return 1;
	for (j = 0; j < nonly; j++)
		if (strcmp(only[j], id) == 0)
			return 1;
	return 0;
}

/*
 * One entry of a source: dir/keyrel and dir/chainrel (links resolved
 * inside the source's root), reported as key_file and chain_file. Every
 * failure is transient: these writers replace files one at a time.
 */
static void
scan_pair(struct lineage *l, const struct scan_ctx *cx, const char *keyrel,
    const char *chainrel, scan_cached_fn *cached, void *arg)
{
	const char *bad;
	int adir = -1;

	l->swap_prone = 1;
	if ((bad = scan_lineage_name_ok(strchr(l->name, ':') + 1)) != NULL)
		l->error = xstrdup(bad);
	else if (resolve_one(l, cx, keyrel, l->key_file, NULL, &l->key,
	    &adir) == 0 && resolve_one(l, cx, chainrel, l->chain_file, NULL,
	    &l->chain, &adir) == 0) {
		if (cached != NULL && cached(arg, l))
			l->cached = 1;
		else if (read_one(l, l->key_file, &l->key) == 0)
			read_one(l, l->chain_file, &l->chain);
	}
	if (l->error != NULL) {
		l->transient = 1;
		file_free(&l->key);
		file_free(&l->chain);
	}
}

static int
is_dir_at(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int rc = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	return rc;
}

static int
exists_at(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int rc = lstat(p, &st) == 0;

	free(p);
	return rc;
}

static size_t
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0 ? n - k : 0;
}

/* A Kubernetes secret volume at dir (entry name): the kubelet swaps
 * ..data atomically; both files are read through the one directory it
 * names, so a swap between the two reads cannot mix them. */
static void
scan_kube_volume(struct lineage *l, const struct scan_ctx *cx,
    const char *dir, scan_cached_fn *cached, void *arg)
{
	char *link = xasprintf("%s/..data", dir), target[NAME_MAX + 1];
	char *keyrel, *chainrel;
	ssize_t n = readlink(link, target, sizeof(target) - 1);

	free(link);
	if (n > 2 && (size_t)n < sizeof(target) - 1) {
		target[n] = '\0';
		if (strncmp(target, "..", 2) != 0 || strchr(target, '/') != NULL)
			n = 0;
	}
	if (n > 2) {
		keyrel = xasprintf("%s/tls.key", target);
		chainrel = xasprintf("%s/tls.crt", target);
	} else {
		keyrel = xstrdup("tls.key");
		chainrel = xstrdup("tls.crt");
	}
	scan_pair(l, cx, keyrel, chainrel, cached, arg);
	free(keyrel);
	free(chainrel);
}

/* One source: its entries appended to sc. -1 when its directory cannot
 * be listed (logged). */
static int
scan_source(const struct source *src, char *const *only, size_t nonly,
    scan_cached_fn *cached, void *arg, struct scan *sc, size_t *cap)
{
	char root[PATH_MAX], *list_dir, **names = NULL;
	size_t n = 0, i, k;
	struct scan_ctx cx = { root, -1, -1, NULL, NULL };
	int rc = -1;

	if (realpath(src->dir, root) == NULL) {
		log_err("source %s: %s: %s", src->name, log_esc(src->dir),
		    strerror(errno));
		return -1;
	}
	list_dir = src->type == SOURCE_LEGO ?
	    xasprintf("%s/certificates", root) : xstrdup(root);
	if (src->type == SOURCE_KUBERNETES && exists_at(root, "tls.crt")) {
		/* The directory is one volume, named as configured (watch
		 * names it so too), not as it resolves. */
		const char *base = strrchr(src->dir, '/');
		char *id = xasprintf("%s:%s", src->name, base != NULL &&
		    base[1] ? base + 1 : "root");
		struct lineage *l;

		if (wanted(id, only, nonly)) {
			l = add_lineage(sc, cap);
			l->name = id;
			l->dir = xstrdup(root);
			l->key_file = xstrdup("tls.key");
			l->chain_file = xstrdup("tls.crt");
			scan_kube_volume(l, &cx, root, cached, arg);
		} else
			free(id);
		rc = 0;
		goto out;
	}
	if (fsio_list(list_dir, &names, &n) == -1) {
		if (errno == ENOENT && src->type == SOURCE_LEGO) {
			rc = 0;		/* nothing issued yet */
			goto out;
		}
		log_err("source %s: %s: %s", src->name, log_esc(list_dir),
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *e = names[i];
		char *entry = NULL, *id;
		struct lineage *l;

		if (e[0] == '.')
			continue;
		switch (src->type) {
		case SOURCE_LEGO:
			if ((k = ends_with(e, ".crt")) == 0 ||
			    ends_with(e, ".issuer.crt") != 0)
				continue;
			entry = xstrndup(e, k);
			break;
		case SOURCE_ACMESH:
			/* <domain>/ or <domain>_ecc/, holding <domain>.conf */
			k = ends_with(e, "_ecc");
			entry = k ? xstrndup(e, k) : xstrdup(e);
			{
				char *sub = xasprintf("%s/%s", list_dir, e);
				char *conf = xasprintf("%s.conf", entry);
				int ok = is_dir_at(list_dir, e) &&
				    exists_at(sub, conf);

				free(sub);
				free(conf);
				if (!ok) {
					free(entry);
					continue;
				}
			}
			free(entry);
			entry = xstrdup(e);
			break;
		default:	/* dehydrated, kubernetes: directories */
			if (!is_dir_at(list_dir, e))
				continue;
			if (src->type == SOURCE_KUBERNETES) {
				char *sub = xasprintf("%s/%s", list_dir, e);
				int ok = exists_at(sub, "tls.crt");

				free(sub);
				if (!ok)
					continue;
			}
			entry = xstrdup(e);
			break;
		}
		/* Not issued yet (dehydrated makes the directory first and
		 * its links last; acme.sh writes its key and conf before the
		 * order, and keeps them when the order fails): no lineage. */
		if (src->type == SOURCE_DEHYDRATED ||
		    src->type == SOURCE_ACMESH) {
			char *sub = xasprintf("%s/%s", list_dir, e);
			int issued = exists_at(sub, src->type ==
			    SOURCE_DEHYDRATED ? "fullchain.pem" :
			    "fullchain.cer");

			free(sub);
			if (!issued) {
				free(entry);
				continue;
			}
		}
		id = xasprintf("%s:%s", src->name, entry);
		if (!wanted(id, only, nonly)) {
			free(id);
			free(entry);
			continue;
		}
		l = add_lineage(sc, cap);
		l->name = id;
		if (src->type == SOURCE_LEGO) {
			l->dir = xstrdup(list_dir);
			l->key_file = xasprintf("%s.key", entry);
			l->chain_file = xasprintf("%s.crt", entry);
			scan_pair(l, &cx, l->key_file, l->chain_file, cached,
			    arg);
		} else if (src->type == SOURCE_ACMESH) {
			size_t d = ends_with(entry, "_ecc");
			char *dom = d ? xstrndup(entry, d) : xstrdup(entry);

			l->dir = xasprintf("%s/%s", list_dir, entry);
			l->key_file = xasprintf("%s.key", dom);
			l->chain_file = xstrdup("fullchain.cer");
			free(dom);
			scan_pair(l, &cx, l->key_file, l->chain_file, cached,
			    arg);
		} else if (src->type == SOURCE_KUBERNETES) {
			l->dir = xasprintf("%s/%s", list_dir, entry);
			l->key_file = xstrdup("tls.key");
			l->chain_file = xstrdup("tls.crt");
			scan_kube_volume(l, &cx, l->dir, cached, arg);
		} else {
			l->dir = xasprintf("%s/%s", list_dir, entry);
			l->key_file = xstrdup("privkey.pem");
			l->chain_file = xstrdup("fullchain.pem");
			scan_pair(l, &cx, l->key_file, l->chain_file, cached,
			    arg);
		}
		free(entry);
	}
	rc = 0;
out:
	fsio_list_free(names, n);
	free(list_dir);
	return rc;
}

static int
cmp_lineage_name(const void *a, const void *b)
{
	return strcmp(((const struct lineage *)a)->name,
	    ((const struct lineage *)b)->name);
}

int
scan_all(const char *le_dir, const struct source *src, size_t nsrc,
    char *const *only, size_t nonly, scan_prior_fn *prior,
    scan_cached_fn *cached, void *arg, struct scan *sc)
{
	size_t i, cap;
	int rc = 0;

	memset(sc, 0, sizeof(*sc));
	if (le_dir != NULL && scan_tree(le_dir, only, nonly, prior, cached,
	    arg, sc) == -1)
		return -1;
	cap = sc->n;
	for (i = 0; i < nsrc; i++)
		if (scan_source(&src[i], only, nonly, cached, arg, sc,
		    &cap) == -1)
			rc = -1;
	if (nsrc > 0 && sc->n > 1)
		qsort(sc->v, sc->n, sizeof(*sc->v), cmp_lineage_name);
	return rc;
}

void
scan_free(struct scan *sc)
{
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->n; i++) {
		free(sc->v[i].name);
		free(sc->v[i].dir);
		free(sc->v[i].key_file);
		free(sc->v[i].chain_file);
		free(sc->v[i].error);
		file_free(&sc->v[i].key);
		file_free(&sc->v[i].chain);
	}
	free(sc->v);
	memset(sc, 0, sizeof(*sc));
}

static int
cmp_lineage_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct lineage *)elem)->name);
}

int
scan_has(const struct scan *sc, const char *lineage)
{
	static _Thread_local size_t hint;

	return util_find_sorted(lineage, sc->v, sc->n, sizeof(*sc->v),
	    cmp_lineage_key, &hint) != NULL;
}
