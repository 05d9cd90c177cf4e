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
 */
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
	size_t k = strlen(kind);
	char *end;
	long v;

	base = base ? base + 1 : path;
	if (strncmp(base, kind, k) != 0 || base[k] < '0' || base[k] > '9')
		return -1;
	v = strtol(base + k, &end, 10);
	return strcmp(end, ".pem") == 0 ? v : -1;
}

/* The directories a scan works in. */
struct scan_ctx {
	const char	*root;		/* realpath(letsencrypt_dir) */
	int		 live_fd;	/* root/live */
	int		 archive_fd;	/* root/archive; -1: no fast path */
};

/*
 * The fast path: 1 with *st and real filled when the link is certbot's
 * own relative link to a plain archive file; 0 when the general path must
 * decide.
 */
static int
resolve_fast(const struct lineage *l, const struct scan_ctx *cx,
    const char *file, char *real, struct stat *st)
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
	if (fstatat(cx->archive_fd, l->name, &ad, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(ad.st_mode))
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

/* Resolves one live link inside root and checks what it points at,
 * without reading it. */
static int
resolve_one(struct lineage *l, const struct scan_ctx *cx, const char *file,
    const char *kind, struct scan_file *sf)
{
	const char *root = cx->root;
	char real[PATH_MAX];
	size_t rl = strlen(root);
	char *link = xasprintf("%s/%s", l->dir, file);
	struct stat st;
	int rc = -1;

	l->err_file = file;
	if (resolve_fast(l, cx, file, real, &st))
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

/* st: lstat of l->dir, or NULL when it failed with errno lerr. */
static void
scan_one(struct lineage *l, const struct scan_ctx *cx, const struct stat *st,
    int lerr, scan_cached_fn *cached, void *arg)
{
	const char *bad;

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
	if (resolve_one(l, cx, "privkey.pem", "privkey", &l->key) == -1 ||
	    resolve_one(l, cx, "fullchain.pem", "fullchain", &l->chain) == -1)
		return;
	if (l->key.version != -1 && l->chain.version != -1 &&
	    l->key.version != l->chain.version) {
		l->err_file = "privkey.pem";
		l->transient = 1;
		l->error = xasprintf("privkey.pem is version %ld but "
		    "fullchain.pem is version %ld (renewal in progress?)",
		    l->key.version, l->chain.version);
		return;
	}
	if (cached != NULL && cached(arg, l)) {
		l->cached = 1;
		return;
	}
	if (read_one(l, "privkey.pem", &l->key) == -1)
		return;
	read_one(l, "fullchain.pem", &l->chain);
}

static void
file_free(struct scan_file *sf)
{
	free(sf->path);
	free_wiped(sf->data, sf->len);
	memset(sf, 0, sizeof(*sf));
}

int
scan_tree(const char *le_dir, char *const *only, size_t nonly,
    scan_cached_fn *cached, void *arg, struct scan *sc)
{
	char root[PATH_MAX];
	char *live = NULL, *archive, **names = NULL;
	size_t n = 0, i, j;
	struct stat st;
	struct scan_ctx cx = { root, -1, -1 };

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
	if (fsio_list(live, &names, &n) == -1) {
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
	for (i = 0; i < n; i++) {
		char *path;
		int got, lerr;

		if (nonly > 0) {
			for (j = 0; j < nonly; j++)
				if (strcmp(only[j], names[i]) == 0)
					break;
			if (j == nonly)
				continue;
		}
		path = xasprintf("%s/%s", live, names[i]);
		got = (cx.live_fd >= 0 ? fstatat(cx.live_fd, names[i], &st,
		    AT_SYMLINK_NOFOLLOW) : lstat(path, &st)) == 0;
		lerr = got ? 0 : errno;
		if ((got && S_ISREG(st.st_mode)) || names[i][0] == '.') {
			free(path);	/* live/README, hidden files */
			continue;
		}
		struct lineage *l = &sc->v[sc->n++];

		l->name = xstrdup(names[i]);
		l->dir = path;
		scan_one(l, &cx, got ? &st : NULL, lerr, cached, arg);
		if (l->error != NULL) {
			file_free(&l->key);
			file_free(&l->chain);
		}
	}
	fsio_list_free(names, n);
	free(live);
	if (cx.live_fd >= 0)
		close(cx.live_fd);
	if (cx.archive_fd >= 0)
		close(cx.archive_fd);
	return 0;
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
		free(sc->v[i].error);
		file_free(&sc->v[i].key);
		file_free(&sc->v[i].chain);
	}
	free(sc->v);
	memset(sc, 0, sizeof(*sc));
}
