/*
 * postfix.c - Postfix SNI map rendering (LMDB through db.c).
 *
 * The bytes match what `postmap -F lmdb:MAP` writes for the same source
 * lines (FACTS.md): key = lowercase name + NUL; value = base64 of the key
 * file, "\n", the full chain file (for a dual-algorithm name then "\n",
 * the alt key file, "\n", its full chain: one group per algorithm),
 * + NUL. A full map is written into a
 * fresh temp file and renamed by the caller, so no reader ever sees a
 * partial map and no fcntl lock is needed. A few changed entries (one
 * renewal among thousands) are written in place instead, in one
 * transaction under the exclusive fcntl lock Postfix's readers respect.
 * Refuses pairs whose bytes are not loaded (returns -1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "name.h"
#include "postfix.h"
#include "store.h"
#include "util.h"

struct pf_row {
	char		 key[NAME_MAX_LEN + 1];
	size_t		 pair, alt;
};

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct pf_row *)a)->key,
	    ((const struct pf_row *)b)->key);
}

/* Map rows sorted by key: the insertion order of the LMDB and source. */
static struct pf_row *
rows_get(const struct plan *plan)
{
	struct pf_row *rows = xcalloc(plan->n ? plan->n : 1, sizeof(*rows));
	size_t i;

	for (i = 0; i < plan->n; i++) {
		name_postfix_key(plan->e[i].name, rows[i].key);
		rows[i].pair = plan->e[i].pair;
		rows[i].alt = plan->e[i].alt;
	}
	qsort(rows, plan->n, sizeof(*rows), cmp_row);
	return rows;
}

char *
postfix_source(const struct plan *plan, const struct pair *pairs,
    const char *served_dir, size_t *len)
{
	struct pf_row *rows = rows_get(plan);
	struct buf b = { 0 };
	char f[STORE_NAME_MAX];
	size_t i;

	buf_adds(&b, "");
	for (i = 0; i < plan->n; i++) {
		store_file_name(pairs[rows[i].pair].lineage, f);
		buf_addf(&b, "%s %s/%s", rows[i].key, served_dir, f);
		if (rows[i].alt != PLAN_NO_ALT) {
			store_file_name(pairs[rows[i].alt].lineage, f);
			buf_addf(&b, " %s/%s", served_dir, f);
		}
		buf_adds(&b, "\n");
	}
	free(rows);
	*len = b.len;
	return b.p;
}

char *
postfix_base64(const unsigned char *in, size_t len, size_t *outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 4 * ((len + 2) / 3), i, o = 0;
	char *out = xmalloc(n + 1);

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

char *
postfix_value(const struct pair *p, const struct pair *alt, size_t *len)
{
	struct buf b = { 0 };
	char *v;

	buf_add(&b, p->key, p->keylen);
	buf_add(&b, "\n", 1);
	buf_add(&b, p->chain, p->chainlen);
	if (alt != NULL) {
		buf_add(&b, "\n", 1);
		buf_add(&b, alt->key, alt->keylen);
		buf_add(&b, "\n", 1);
		buf_add(&b, alt->chain, alt->chainlen);
	}
	v = postfix_base64((unsigned char *)b.p, b.len, len);
	buf_wipe(&b);
	return v;
}

/* key -> the value of the pair and alt pair (alt may be NULL; key bytes
 * wiped from memory afterwards). 0, DB_FULL or -1. */
static int
map_put(struct db *db, const char *key, const struct pair *p,
    const struct pair *alt, int nooverwrite)
{
	size_t vlen;
	char *v = postfix_value(p, alt, &vlen);
	int rc = db_put(db, key, strlen(key) + 1, v, vlen + 1, nooverwrite);

	explicit_bzero(v, vlen);
	free(v);
	return rc;
}

/* One attempt at a given map size; returns 0, DB_FULL or -1. */
static int
write_once(const char *path, size_t mapsize, const struct pf_row *rows,
    size_t n, const struct pair *pairs)
{
	struct db *db;
	char why[256];
	size_t i;
	int rc = 0;

	if (db_open(path, DB_MAP, mapsize, 1, &db, why, sizeof(why)) == -1) {
		log_err("%s: %s", log_esc(path), why);
		return -1;
	}
	for (i = 0; rc == 0 && i < n; i++)
		rc = map_put(db, rows[i].key, &pairs[rows[i].pair],
		    rows[i].alt == PLAN_NO_ALT ? NULL : &pairs[rows[i].alt], 1);
	if (rc == -1)
		log_err("%s: lmdb %s", log_esc(path), db_error(db));
	if (rc != 0) {
		db_close(db, 0);
		return rc;
	}
	if ((rc = db_close(db, 1)) == -1)
		log_err("%s: lmdb %s", log_esc(path), db_close_why());
	return rc;
}

/*
 * The least the map's pages can take, in bytes: LMDB's page layout (a
 * value too big for a node, as every certificate pair is, goes to
 * overflow pages of its own; keys fill leaf pages at best), less a
 * tenth for safety. postmap starts at 16 MiB and doubles on
 * MDB_MAP_FULL, redoing the whole transaction; a size below this bound
 * is one it would have failed at, so starting at the first doubling
 * that reaches it spares the failed attempts (three at 10,000 lineages)
 * and ends at postmap's size, the meta page byte for byte.
 */
static size_t
map_floor(const struct pf_row *rows, size_t n, const struct pair *pairs)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), hdr = 16, node = 8;
	size_t nodemax = ((ps - hdr) / 2 & ~(size_t)1) - 2;
	size_t pages = 2, leaf = 0, i;

	for (i = 0; i < n; i++) {
		const struct pair *p = &pairs[rows[i].pair];
		const struct pair *a = rows[i].alt == PLAN_NO_ALT ? NULL :
		    &pairs[rows[i].alt];
		size_t raw = p->keylen + 1 + p->chainlen +
		    (a != NULL ? 2 + a->keylen + a->chainlen : 0);
		size_t vlen = 4 * ((raw + 2) / 3) + 1;
		size_t klen = strlen(rows[i].key) + 1;

		if (node + klen + vlen > nodemax) {
			pages += (hdr - 1 + vlen) / ps + 1;
			leaf += node + klen + 8 + 2;
		} else
			leaf += node + klen + vlen + 2;
	}
	pages += leaf / (ps - hdr);
	return pages / 10 * 9 * ps;
}

int
postfix_write_lmdb(const char *path, const struct plan *plan,
    const struct pair *pairs)
{
	struct pf_row *rows;
	size_t mapsize = POSTFIX_MAP_SIZE, i, floor_;
	int rc;

	for (i = 0; i < plan->n; i++) {
		size_t ix[2], k, n = plan_entry_pairs(&plan->e[i], ix);

		for (k = 0; k < n; k++)
			if (pairs[ix[k]].key == NULL ||
			    pairs[ix[k]].chain == NULL) {
				log_err("%s: internal error: pair bytes not "
				    "loaded", log_esc(path));
				return -1;
			}
	}
	rows = rows_get(plan);
	floor_ = map_floor(rows, plan->n, pairs);
	while (mapsize < floor_)
		mapsize *= 2;
	for (;;) {
		rc = write_once(path, mapsize, rows, plan->n, pairs);
		if (rc != DB_FULL)
			break;
		if (truncate(path, 0) == -1) {
			log_err("%s: truncate: %s", log_esc(path),
			    strerror(errno));
			rc = -1;
			break;
		}
		mapsize *= 2;
	}
	free(rows);
	return rc;
}

/* Takes an exclusive fcntl lock on fd, retrying for up to wait_ms. */
static int
lock_wait(int fd, int wait_ms)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int waited = 0;

	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if ((errno != EACCES && errno != EAGAIN) || waited >= wait_ms)
			return -1;
		nanosleep(&ts, NULL);
		waited += 5;
	}
	return 0;
}

int
postfix_update_lmdb(const char *path, const struct pf_change *changes,
    size_t n, int lock_wait_ms)
{
	struct db *db;
	struct stat st;
	char why[256] = "";
	size_t i;
	int fd, rc = 0;

	/* Postfix's readers lock the map file itself (fcntl, shared): take
	 * it exclusively on our own descriptor, kept open until LMDB has
	 * closed its own (closing any descriptor of the file drops the
	 * process's fcntl locks on it). */
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || lock_wait(fd, lock_wait_ms) == -1) {
		log_debug("%s: %s; rebuilding the map instead of updating it "
		    "in place", log_esc(path), fd == -1 ? strerror(errno) :
		    "a reader holds its lock");
		if (fd != -1)
			close(fd);
		return 1;
	}
	/* Room for the copy-on-write pages of this transaction: a map
	 * size at least the file's plus 16 MiB (readers take any size). */
	if (fstat(fd, &st) == -1)
		st.st_size = 0;
	if (db_open(path, DB_MAP, (size_t)st.st_size + POSTFIX_MAP_SIZE, 1,
	    &db, why, sizeof(why)) == -1) {
		log_debug("%s: in-place update not done (%s); rebuilding the "
		    "map", log_esc(path), why);
		close(fd);
		return 1;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		char key[NAME_MAX_LEN + 1];

		name_postfix_key(changes[i].name, key);
		if (changes[i].pair != NULL)
			rc = map_put(db, key, changes[i].pair, changes[i].alt,
			    0);
		else
			rc = db_del(db, key, strlen(key) + 1);
	}
	if (rc != 0)
		snprintf(why, sizeof(why), "%s", db_error(db));
	rc = rc != 0 ? (db_close(db, 0), rc) : db_close(db, 1);
	if (rc != 0 && why[0] == '\0')
		snprintf(why, sizeof(why), "%s", db_close_why());
	close(fd);
	if (rc != 0) {
		log_debug("%s: in-place update not done (lmdb %s); rebuilding "
		    "the map", log_esc(path), why);
		return 1;
	}
	return 0;
}
