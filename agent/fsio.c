/*
 * fsio.c - the only code that creates, replaces or removes files.
 *
 * fsio_replace(path, buf, len, mode): readers see the old bytes or the
 * new, never a mix. Returns 0 written, 1 unchanged, -1 error (logged with
 * path and errno; no temp file left behind). Refuses a symlink or any
 * other non-regular file at path. Temp files are created O_EXCL|0600 in
 * the destination directory, so key bytes are never readable by others,
 * not even for an instant.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsio.h"
#include "log.h"
#include "util.h"

void
fsio_stat_identity(const struct stat *st, struct fsio_id *id)
{
	id->dev = (unsigned long long)st->st_dev;
	id->ino = (unsigned long long)st->st_ino;
	id->size = (unsigned long long)st->st_size;
	id->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL +
	    st->st_mtim.tv_nsec;
	id->mode = (unsigned)(st->st_mode & 07777);
}

int
fsio_same_id(const struct fsio_id *a, const struct fsio_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_ns == b->mtime_ns;
}

int
fsio_identity(const char *path, struct fsio_id *id)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return -1;
	fsio_stat_identity(&st, id);
	return 0;
}

void
fsio_dirname(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(out, outsz, ".");
		return;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}

int
fsio_read(const char *path, size_t max, unsigned char **bufp, size_t *lenp,
    struct fsio_id *id, char *why, size_t whysz)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd;

	*bufp = NULL;
	*lenp = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd == -1) {
		snprintf(why, whysz, "%s", errno == ELOOP ?
		    "is a symlink" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whysz, "fstat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysz, "not a regular file");
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		snprintf(why, whysz, "file larger than %zu bytes", max);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		log_fatal("out of memory");
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(why, whysz, "read: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len != (size_t)st.st_size) {
		snprintf(why, whysz, "file changed while reading");
		goto fail;
	}
	buf[len] = '\0';
	if (id != NULL)
		fsio_stat_identity(&st, id);
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

static int
fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc = 0;

	fsio_dirname(path, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		log_warn("%s: fsync: %s", log_esc(dir), strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* A non-regular file at path (symlink, directory, ...) or one that
 * someone else owns is refused: it is not ours to replace. */
static int
check_target(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_err("%s: lstat: %s", log_esc(path), strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		log_err("%s: refusing to replace: it is a symlink",
		    log_esc(path));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("%s: refusing to replace: not a regular file",
		    log_esc(path));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_err("%s: refusing to replace: owned by uid %lu, not by "
		    "uid %lu", log_esc(path), (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
		return -1;
	}
	return 0;
}

/* Creates a new file beside path (or in tmpdir, when not NULL), 0600,
 * under a temp name (in tmp): its descriptor, or -1 (logged). */
static int
temp_create(const char *path, const char *tmpdir, char *tmp, size_t tmpsz)
{
	static unsigned int seq;
	const char *base = strrchr(path, '/');
	int fd, tries;

	base = base != NULL ? base + 1 : path;
	for (tries = 0; tries < 100; tries++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		if ((size_t)snprintf(tmp, tmpsz, "%s%s%s.tmp.%ld.%u.%lx",
		    tmpdir != NULL ? tmpdir : "", tmpdir != NULL ? "/" : "",
		    tmpdir != NULL ? base : path, (long)getpid(), seq++,
		    (unsigned long)ts.tv_nsec) >= tmpsz) {
			log_err("%s: path too long", log_esc(path));
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EEXIST) {
			log_err("%s: create: %s", log_esc(tmp), strerror(errno));
			return -1;
		}
	}
	log_err("%s: no free temp name", log_esc(path));
	return -1;
}

int
fsio_temp_open(const char *path, char *tmp, size_t tmpsz)
{
	int fd = temp_create(path, NULL, tmp, tmpsz);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

void
fsio_temp_abort(const char *tmp)
{
	if (unlink(tmp) == -1 && errno != ENOENT)
		log_warn("%s: unlink: %s", log_esc(tmp), strerror(errno));
}

int
fsio_temp_commit(const char *tmp, const char *path, mode_t mode)
{
	int fd;

	if (check_target(path) == -1)
		goto fail;
	fd = open(tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_err("%s: open: %s", log_esc(tmp), strerror(errno));
		goto fail;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		log_err("%s: fsync: %s", log_esc(tmp), strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		log_err("%s: close: %s", log_esc(tmp), strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		log_err("%s: rename: %s", log_esc(path), strerror(errno));
		goto fail;
	}
	return fsync_dir(path) == -1 ? -1 : 0;
fail:
	fsio_temp_abort(tmp);
	return -1;
}

static int
same_content(const char *path, const void *buf, size_t len, mode_t mode)
{
	unsigned char *old = NULL;
	size_t oldlen;
	struct stat st;
	char why[128];
	int same;

	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 07777) != mode || (size_t)st.st_size != len)
		return 0;
	if (fsio_read(path, len, &old, &oldlen, NULL, why, sizeof(why)) == -1)
		return 0;
	same = oldlen == len && memcmp(old, buf, len) == 0;
	explicit_bzero(old, oldlen);
	free(old);
	return same;
}

/* Writes buf into a new temp file beside path, sets mode (0: leaves it
 * as created, 0600 less the umask, for the caller to set), makes it
 * durable (durable). 0 (name in tmp) or -1 (logged, nothing left). */
static int
write_temp(const char *path, const char *tmpdir, const void *buf,
    size_t len, mode_t mode, int durable, char *tmp, size_t tmpsz)
{
	const char *p = buf;
	size_t off = 0;
	ssize_t w;
	int fd;

	if ((fd = temp_create(path, tmpdir, tmp, tmpsz)) == -1)
		return -1;
	while (off < len) {
		w = write(fd, p + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			log_err("%s: write: %s", log_esc(path), strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (mode != 0 && fchmod(fd, mode) == -1) {
		log_err("%s: chmod: %s", log_esc(tmp), strerror(errno));
		goto fail;
	}
	if (durable && fsync(fd) == -1) {
		log_err("%s: fsync: %s", log_esc(tmp), strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		log_err("%s: close: %s", log_esc(path), strerror(errno));
		fsio_temp_abort(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	fsio_temp_abort(tmp);
	return -1;
}

int
fsio_replace(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];

	if (check_target(path) == -1)
		return -1;
	if (same_content(path, buf, len, mode))
		return 1;
	if (write_temp(path, NULL, buf, len, 0, 0, tmp, sizeof(tmp)) == -1)
		return -1;
	return fsio_temp_commit(tmp, path, mode);
}

int
fsio_stage(const char *path, const char *tmpdir, const void *buf,
    size_t len, mode_t mode, int durable, char *tmp, size_t tmpsz)
{
	if (check_target(path) == -1 || write_temp(path, tmpdir, buf, len, mode,
	    durable, tmp, tmpsz) == -1)
		return -1;
	return 0;
}

int
fsio_stage_commit(const char *tmp, const char *path)
{
	if (check_target(path) == -1 || rename(tmp, path) == -1) {
		log_err("%s: rename: %s", log_esc(path), strerror(errno));
		fsio_temp_abort(tmp);
		return -1;
	}
	return 0;
}

int
fsio_sync_dir(const char *dir)
{
	char sub[PATH_MAX];

	/* fsync_dir() syncs the directory holding its argument */
	snprintf(sub, sizeof(sub), "%s/.", dir);
	return fsync_dir(sub);
}

int
fsio_sync_fs(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || syncfs(fd) == -1 || fsync(fd) == -1) {
		log_err("%s: sync: %s", log_esc(dir), strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

void
fsio_clean_temps_in(const char *dir, const char *base)
{
	size_t blen = base != NULL ? strlen(base) : 0;
	DIR *d;
	struct dirent *de;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (base != NULL ? strncmp(de->d_name, base, blen) != 0 ||
		    strncmp(de->d_name + blen, ".tmp.", 5) != 0 :
		    strstr(de->d_name, ".tmp.") == NULL)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		log_info("%s: removing a temp file left by an interrupted run",
		    log_esc(p));
		fsio_remove(p);
		free(p);
	}
	closedir(d);
}

void
fsio_clean_temps(const char *path)
{
	char dir[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	fsio_dirname(path, dir, sizeof(dir));
	fsio_clean_temps_in(dir, base);
}

int
fsio_stamp(const char *path)
{
	int fd;

	if (utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT) {
		log_err("%s: cannot update its time: %s", path,
		    strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_err("%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

long long
fsio_stamp_time(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	return (long long)st.st_mtim.tv_sec;
}

int
fsio_rename(const char *from, const char *to)
{
	if (check_target(to) == -1)
		return -1;
	if (rename(from, to) == -1) {
		log_err("%s: rename to %s: %s", log_esc(from), log_esc(to),
		    strerror(errno));
		return -1;
	}
	return fsync_dir(to);
}

int
fsio_remove(const char *path)
{
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s: unlink: %s", log_esc(path), strerror(errno));
		return -1;
	}
	return fsync_dir(path);
}

int
fsio_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		log_err("%s: path too long", log_esc(path));
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;

		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST) {
			log_err("%s: mkdir: %s", log_esc(buf), strerror(errno));
			return -1;
		}
		*p = save;
		if (save == '\0')
			break;
	}
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_err("%s: not a directory", log_esc(path));
		return -1;
	}
	return 0;
}

int
fsio_lock(const char *path, int timeout_s)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	int fd, waited = 0;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_err("%s: open: %s", log_esc(path), strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			log_err("%s: flock: %s", log_esc(path), strerror(errno));
			close(fd);
			return -1;
		}
		if (waited == 0)
			log_info("waiting for another snisync run (lock %s)",
			    log_esc(path));
		if (waited++ >= timeout_s * 20) {
			close(fd);
			return -2;
		}
		nanosleep(&nap, NULL);
	}
	return fd;
}


struct dent {
	char		*name;
	unsigned char	 type;
};

static int
cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
	    ((const struct dent *)b)->name);
}

int
fsio_list_types(const char *dir, char ***namesp, unsigned char **typesp,
    size_t *np)
{
	DIR *d;
	struct dirent *de;
	struct dent *v = NULL;
	char **names;
	size_t n = 0, cap = 0, i;

	*namesp = NULL;
	if (typesp != NULL)
		*typesp = NULL;
	*np = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].name = xstrdup(de->d_name);
		v[n++].type = de->d_type;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_dent);
	names = xcalloc(n + 1, sizeof(*names));
	if (typesp != NULL)
		*typesp = xcalloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		names[i] = v[i].name;
		if (typesp != NULL)
			(*typesp)[i] = v[i].type;
	}
	free(v);
	*namesp = names;
	*np = n;
	return 0;
}

int
fsio_list(const char *dir, char ***namesp, size_t *np)
{
	return fsio_list_types(dir, namesp, NULL, np);
}

void
fsio_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
