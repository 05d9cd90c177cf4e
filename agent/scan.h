/*
 * scan.h - certbot's tree: live/<lineage>/{privkey,fullchain}.pem, each
 * link resolved inside letsencrypt_dir and read into memory.
 */
#ifndef SNISYNC_SCAN_H
#define SNISYNC_SCAN_H

#include <stddef.h>

#include "fsio.h"

#define SCAN_MAX_FILE	(1024 * 1024)

/* One file of a lineage, read through its resolved path. */
struct scan_file {
	char		*path;		/* resolved (realpath) target */
	unsigned char	*data;		/* NUL-terminated; may hold a key */
	size_t		 len;
	struct fsio_id	 id;
	long		 version;	/* N of certbot's <kind>N.pem, or -1 */
};

struct lineage {
	char		*name;		/* directory name under live/ */
	char		*dir;		/* letsencrypt_dir/live/name */
	struct scan_file key, chain;	/* privkey.pem, fullchain.pem */
	const char	*err_file;	/* file the error is about, or NULL */
	char		*error;		/* NULL when both files were read */
	int		 transient;	/* error that a certbot swap in
					   progress explains (missing link,
					   versions differ) */
	int		 cached;	/* resolved and identical to what the
					   caller already has: not read */
};

struct scan {
	struct lineage	*v;
	size_t		 n;
};

/*
 * cached(arg, lineage): called once both links are resolved (paths,
 * identities, versions known; nothing read yet). Returning 1 means the
 * caller already holds exactly these files (certbot never rewrites an
 * archive file, so equal identities mean equal bytes): they are not read.
 */
typedef int scan_cached_fn(void *arg, const struct lineage *l);

/*
 * scan_tree(le_dir, only, nonly, cached, arg, &scan): every lineage under
 * le_dir/live (or only those named in only[], when nonly > 0), sorted by
 * name. A lineage that cannot be read is returned with error set; it
 * never stops the scan. Returns 0, or -1 when le_dir itself is missing or
 * live/ cannot be listed (logged): then nothing may be removed.
 */
int	scan_tree(const char *le_dir, char *const *only, size_t nonly,
	    scan_cached_fn *cached, void *arg, struct scan *sc);
void	scan_free(struct scan *sc);

/* scan_lineage_name_ok(name): NULL, or why a directory name is refused. */
const char *scan_lineage_name_ok(const char *name);

#endif
