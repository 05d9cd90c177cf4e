/*
 * scan.h - certbot's tree: live/<lineage>/{privkey,fullchain}.pem, each
 * link resolved inside letsencrypt_dir and read into memory.
 */
#ifndef SNISYNC_SCAN_H
#define SNISYNC_SCAN_H

#include <stddef.h>

#include "fsio.h"

#define SCAN_MAX_FILE	(1024 * 1024)

/* Where certificates come from besides certbot's letsencrypt_dir. */
enum source_type {
	SOURCE_DEHYDRATED,	/* dir/<name>/{privkey,fullchain}.pem, links
				   to privkey-<ts>.pem, fullchain-<ts>.pem */
	SOURCE_LEGO,		/* dir/certificates/<name>.{key,crt} */
	SOURCE_ACMESH,		/* dir/<name>[_ecc]/<name>.key, fullchain.cer */
	SOURCE_KUBERNETES,	/* a secret volume: tls.key, tls.crt through
				   ..data, or a directory of such volumes */
	SOURCE__MAX
};

struct source {
	enum source_type type;
	char		*name;		/* lineage prefix, "lego" in
					   "lego:mail.example.com" */
	char		*dir;
};

/* scan_source_type_name(t): "dehydrated", "lego", "acme.sh", "kubernetes". */
const char *scan_source_type_name(enum source_type t);

/* scan_source_of(sources, n, lineage): the source a lineage id names (the part
 * before ':'), or NULL for certbot's lineages. */
const struct source *scan_source_of(const struct source *src, size_t n,
	    const char *lineage);

/* One file of a lineage, read through its resolved path. */
struct scan_file {
	char		*path;		/* resolved (realpath) target */
	unsigned char	*data;		/* NUL-terminated; may hold a key */
	size_t		 len;
	struct fsio_id	 id;
	long		 version;	/* N of certbot's <kind>N.pem, or -1 */
};

struct lineage {
	char		*name;		/* directory name under live/, or
					   "<source>:<entry>" */
	char		*dir;		/* letsencrypt_dir/live/name, or the
					   entry's directory */
	char		*key_file, *chain_file;	/* as named in errors:
					   "privkey.pem", "tls.key", ... */
	struct scan_file key, chain;	/* privkey.pem, fullchain.pem */
	const char	*err_file;	/* file the error is about, or NULL */
	char		*error;		/* NULL when both files were read */
	int		 transient;	/* error that a certbot swap in
					   progress explains (missing link,
					   versions differ) */
	int		 cached;	/* resolved and identical to what the
					   caller already has: not read */
	int		 swap_prone;	/* its writer replaces files one by
					   one, in place or by link: any
					   failure may be a write in
					   progress */
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

/* The files the caller last validated a lineage from, resolved then. */
struct scan_prior {
	const char	*key_path, *chain_path;
	struct fsio_id	 key_id, chain_id;
};

/*
 * prior(arg, name, &p): 1 with p filled when the caller holds certbot
 * lineage name's files as validated from p's paths. Called on worker
 * threads: it must only read. When both links, followed, reach the very
 * files of p (same device, inode, size and mtime: certbot never rewrites
 * an archive file), the lineage takes p's paths with one stat per link
 * instead of resolving each link; cached() still decides, and a lineage
 * it refuses is resolved in full.
 */
typedef int scan_prior_fn(void *arg, const char *name, struct scan_prior *p);

/*
 * scan_tree(le_dir, only, nonly, prior, cached, arg, &scan): every lineage
 * under le_dir/live (or only those named in only[], when nonly > 0),
 * sorted by name. A lineage that cannot be read is returned with error
 * set; it never stops the scan. Returns 0, or -1 when le_dir itself is
 * missing or live/ cannot be listed (logged): then nothing may be
 * removed.
 */
int	scan_tree(const char *le_dir, char *const *only, size_t nonly,
	    scan_prior_fn *prior, scan_cached_fn *cached, void *arg,
	    struct scan *sc);

/*
 * scan_all(le_dir, src, nsrc, only, nonly, prior, cached, arg, &scan):
 * certbot's tree (le_dir NULL: none) and every other source, lineages
 * sorted by name. -1 (logged) when a source's directory cannot be
 * listed: then nothing may be removed.
 */
int	scan_all(const char *le_dir, const struct source *src, size_t nsrc,
	    char *const *only, size_t nonly, scan_prior_fn *prior,
	    scan_cached_fn *cached, void *arg, struct scan *sc);
void	scan_free(struct scan *sc);

/* scan_has(sc, lineage): 1 when sc (sorted by name) has the lineage. */
int	scan_has(const struct scan *sc, const char *lineage);

/* scan_lineage_name_ok(name): NULL, or why a directory name is refused. */
const char *scan_lineage_name_ok(const char *name);

#endif
