/*
 * fsio.h - the only code that creates, replaces or removes files.
 */
#ifndef SNISYNC_FSIO_H
#define SNISYNC_FSIO_H

#include <stddef.h>
#include <sys/types.h>

/* The identity of a file: unchanged identity means unchanged bytes. */
struct fsio_id {
	unsigned long long dev, ino, size;
	long long mtime_ns;
	unsigned mode;		/* permission bits (not part of identity) */
};

/*
 * fsio_read(path, max, &buf, &len, &id, why): reads a regular file,
 * refusing a symlink at path (O_NOFOLLOW), a non-regular file (FIFO,
 * device, directory: checked on the open descriptor, opened O_NONBLOCK so
 * a FIFO cannot hang us) and a file over max bytes. Returns 0 with a
 * malloc'd, NUL-terminated buf, or -1 with errno-style text in why (not
 * logged here: the caller names the lineage).
 */
int	fsio_read(const char *path, size_t max, unsigned char **buf,
	    size_t *len, struct fsio_id *id, char *why, size_t whysz);

/*
 * fsio_replace(path, buf, len, mode): readers see the old bytes or the
 * new, never a mix (temp file O_EXCL 0600 in the same directory, write,
 * fchmod mode, fsync, rename, fsync the directory). Returns 0 written,
 * 1 unchanged (same bytes and mode: nothing touched), -1 error (logged
 * with path and errno; no temp file left). Refuses anything but a regular
 * file owned by our own uid at path (a symlink is never followed).
 */
int	fsio_replace(const char *path, const void *buf, size_t len,
	    mode_t mode);

/*
 * fsio_temp_open(path, tmp, tmpsz): creates an empty temp file (O_EXCL,
 * 0600) beside path for a writer that needs a file name (LMDB). Returns 0
 * and the temp name in tmp, or -1 (logged).
 * fsio_temp_commit(tmp, path, mode): fsync, chmod, rename over path,
 * fsync the directory; removes tmp on failure. Returns 0 or -1 (logged).
 * fsio_temp_abort(tmp): removes tmp.
 */
int	fsio_temp_open(const char *path, char *tmp, size_t tmpsz);
int	fsio_temp_commit(const char *tmp, const char *path, mode_t mode);
void	fsio_temp_abort(const char *tmp);

/* fsio_identity(path, &id): lstat identity; 0, or -1 (errno set). */
int	fsio_identity(const char *path, struct fsio_id *id);

struct stat;
/* fsio_stat_identity(st, &id): the identity of a stat result. */
void	fsio_stat_identity(const struct stat *st, struct fsio_id *id);

/* fsio_same_id(a, b): 1 when a and b are one file, unchanged (device,
 * inode, size, mtime; the mode is not compared). */
int	fsio_same_id(const struct fsio_id *a, const struct fsio_id *b);

/*
 * A batch of replaced files (the served files): fsio_stage(path, tmpdir,
 * buf, len, mode, durable, tmp, tmpsz) writes buf into a new temp file
 * in tmpdir, a directory of the same file system (NULL: beside path;
 * O_EXCL 0600, then mode; fsync'd when durable) and returns 0 with
 * its name in tmp, or -1 (logged, nothing left); fsio_stage_commit(tmp,
 * path) renames it over path (0, or -1 logged, tmp removed). Make every
 * staged file durable before the first commit (durable, or one
 * fsio_sync_fs() of the directory), and the renames durable after the
 * last (fsio_sync_dir()): a crash at any instant leaves each path whole
 * old or whole new. Refuses what fsio_replace() refuses at path.
 * fsio_sync_fs(dir): syncfs() of dir's file system and fsync of dir.
 * fsio_sync_dir(dir): fsync of dir. Both 0, or -1 (logged).
 */
int	fsio_stage(const char *path, const char *tmpdir, const void *buf,
	    size_t len, mode_t mode, int durable, char *tmp, size_t tmpsz);
int	fsio_stage_commit(const char *tmp, const char *path);
int	fsio_sync_dir(const char *dir);
int	fsio_sync_fs(const char *dir);

/* fsio_clean_temps(path): removes the temp files fsio left beside path
 * when a run was killed ("<path>.tmp.*"). Call it holding the lock. */
void	fsio_clean_temps(const char *path);

/* fsio_clean_temps_in(dir, base): the same for the temp files of dir
 * named "<base>.tmp.*", or for every "*.tmp.*" file in dir when base is
 * NULL (staging/); one listing, nothing allocated per entry. */
void	fsio_clean_temps_in(const char *dir, const char *base);

/*
 * fsio_stamp(path): a stamp file: sets path's mtime to now (zero bytes
 * written), creating it empty (0600, O_EXCL) when missing. 0, or -1
 * (logged). fsio_stamp_time(path): its mtime (seconds), 0 when missing.
 */
int	fsio_stamp(const char *path);
long long fsio_stamp_time(const char *path);

/* fsio_rename(from, to): rename (never over a symlink or a file not
 * ours) and fsync the directory. 0, or -1 (logged). */
int	fsio_rename(const char *from, const char *to);

/* fsio_remove(path): unlink and fsync the directory. 0, or -1 (logged). */
int	fsio_remove(const char *path);

/* fsio_mkdirs(path, mode): like mkdir -p. 0, or -1 (logged). */
int	fsio_mkdirs(const char *path, mode_t mode);

/*
 * fsio_lock(path, timeout_s): takes an exclusive flock on path (created
 * 0600), waiting up to timeout_s seconds. Returns the descriptor (keep it
 * open to hold the lock), -1 on error (logged), -2 on timeout.
 */
int	fsio_lock(const char *path, int timeout_s);

/* fsio_list(dir, &names, &n): the entries of dir except "." and "..",
 * sorted. Returns 0, or -1 with errno set (not logged). */
int	fsio_list(const char *dir, char ***names, size_t *n);

/* fsio_list_types(dir, &names, &types, &n): the same, with each entry's
 * d_type in types[] (DT_UNKNOWN where the file system gives none; free
 * it with free()). */
int	fsio_list_types(const char *dir, char ***names, unsigned char **types,
	    size_t *n);
void	fsio_list_free(char **names, size_t n);

/* fsio_dirname(path, out, outsz): the directory part of path. */
void	fsio_dirname(const char *path, char *out, size_t outsz);

#endif
