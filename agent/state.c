/*
 * state.c - the applied state in an LMDB environment (state.h).
 *
 * Each lineage is one record and the run is one more (their codec:
 * staterec.c). A save compares each record's bytes with what the
 * database holds (the mirror) and writes only those that differ, so a
 * renewal writes its lineage's record and the run record, and a run that
 * changes nothing opens nothing for writing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cert.h"
#include "db.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "state.h"
#include "staterec.h"
#include "util.h"

#define DB_MAPSIZE	(64UL * 1024 * 1024)

/* What the database holds, as digests: one per record, in key order
 * (the keys in one arena). A save encodes each record of the new state
 * into one scratch buffer, compares its digest and writes only those
 * that differ: memory is the digests, not a second copy of the state. */
struct mrec {
	size_t		 koff, klen;	/* into keys */
	unsigned char	 md[CERT_SHA256_LEN];
};

struct state_mirror {
	struct mrec	*r;
	size_t		 n, cap;	/* cap 0: r grows through xgrow */
	struct buf	 keys;
};

/* ---- load and save ---- */

struct load_ctx {
	struct state		*st;
	struct state_mirror	*m;
	const char		*path;
	int			 room;	/* st's arrays presized (add_lineage) */
};

static void
mirror_add(struct state_mirror *m, const void *k, size_t kl,
    const unsigned char md[CERT_SHA256_LEN])
{
	if (m->cap == 0)
		m->r = xgrow(m->r, m->n, sizeof(*m->r));
	else if (m->n >= m->cap) {
		m->cap *= 2;
		m->r = xreallocarray(m->r, m->cap, sizeof(*m->r));
	}
	m->r[m->n].koff = m->keys.len;
	m->r[m->n].klen = kl;
	memcpy(m->r[m->n].md, md, CERT_SHA256_LEN);
	buf_add(&m->keys, k, kl);
	m->n++;
}

static int
load_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct load_ctx *c = arg;
	unsigned char md[CERT_SHA256_LEN];
	char kb[80];

	if (staterec_decode(k, kl, v, vl, c->st, c->room) == -1) {
		snprintf(kb, sizeof(kb), "%.*s", kl > 64 ? 64 : (int)kl,
		    (const char *)k);
		log_warn("%s: record \"%s\" cannot be read; left out (the next "
		    "sync writes it again)", log_esc(c->path), log_esc(kb));
	}
	cert_sha256(v, vl, md);
	mirror_add(c->m, k, kl, md);
	return 0;
}

static void
mirror_free(struct state_mirror *m)
{
	free(m->r);
	free(m->keys.p);
	free(m);
}

int
state_load(const char *dir, int peek, struct state *st)
{
	char *path = xasprintf("%s/" STATE_DB, dir), why[300];
	struct load_ctx c = { st, NULL, path, 1 };
	size_t nrec;
	struct db *db;
	struct stat sb;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (lstat(path, &sb) == -1 && errno == ENOENT) {
		/* No database yet: an empty state. */
		st->mirror = c.m = xcalloc(1, sizeof(*c.m));
		rc = 0;
		goto out;
	}
	st->mirror = c.m = xcalloc(1, sizeof(*c.m));
	if (db_open(path, peek ? DB_STATE_PEEK : DB_STATE, 0, 0, &db, why,
	    sizeof(why)) == -1) {
		log_err("%s: %s", log_esc(path), why);
		goto out;
	}
	/* each record adds at most one of each: room for all at once */
	nrec = db_count(db);
	st->pairs = xcalloc(nrec + 1, sizeof(*st->pairs));
	st->errs = xcalloc(nrec + 1, sizeof(*st->errs));
	st->holds = xcalloc(nrec + 1, sizeof(*st->holds));
	st->counts = xcalloc(nrec + 1, sizeof(*st->counts));
	c.m->r = xcalloc(nrec + 1, sizeof(*c.m->r));
	c.m->cap = nrec + 1;
	if (db_each(db, load_one, &c) != 0)
		log_err("%s: %s", log_esc(path), db_error(db));
	else
		rc = 0;
	db_close(db, 0);
out:
	free(path);
	return rc;
}


/* One record by key into st and its mirror: 0 read or absent, -1 the
 * database failed (a record that cannot be decoded is logged and left
 * out, as state_load() does). */
static int
load_key(struct db *db, struct load_ctx *c, const char *k, size_t kl)
{
	const void *v;
	size_t vl;
	int rc = db_get(db, k, kl, &v, &vl);

	if (rc == 1)
		return 0;
	if (rc == -1) {
		log_err("%s: %s", log_esc(c->path), db_error(db));
		return -1;
	}
	return load_one(c, k, kl, v, vl);
}

int
state_load_some(const char *dir, char *const *lineages, size_t n,
    struct state *st)
{
	char *path = xasprintf("%s/" STATE_DB, dir), why[300];
	struct load_ctx c = { st, NULL, path, 0 };
	char **v = xcalloc(n + 1, sizeof(*v));
	struct buf k = { 0 };
	struct db *db;
	size_t i;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (db_open(path, DB_STATE_PEEK, 0, 0, &db, why, sizeof(why)) == -1) {
		if (strstr(why, strerror(ENOENT)) != NULL)
			rc = 0;		/* no database yet: nothing */
		else
			log_err("%s: %s", log_esc(path), why);
		goto out;
	}
	st->mirror = c.m = xcalloc(1, sizeof(*c.m));
	/* the mirror in key order: "l" + lineage sorted, then "r" */
	memcpy(v, lineages, n * sizeof(*v));
	qsort(v, n, sizeof(*v), strv_cmp);
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		if (i > 0 && strcmp(v[i - 1], v[i]) == 0)
			continue;
		k.len = 0;
		buf_add(&k, "l", 1);
		buf_adds(&k, v[i]);
		rc = load_key(db, &c, k.p, k.len);
	}
	if (rc == 0)
		rc = load_key(db, &c, "r", 1);
	db_close(db, 0);
out:
	free(k.p);
	free(v);
	free(path);
	return rc;
}

int
state_has_run(const struct state *st)
{
	const struct state_mirror *m = st->mirror;

	return m != NULL && m->n > 0 &&
	    m->r[m->n - 1].klen == 1 && m->keys.p[m->r[m->n - 1].koff] == 'r';
}

static int
cmp_key(const struct state_mirror *m, size_t i, const char *k, size_t kl)
{
	const struct mrec *r = &m->r[i];
	size_t n = r->klen < kl ? r->klen : kl;
	int c = memcmp(m->keys.p + r->koff, k, n);

	return c != 0 ? c : r->klen < kl ? -1 : r->klen > kl;
}

/* One record of the new state that differs from the database's, or one
 * of the database's that the new state lacks (del). */
struct change {
	size_t	 i;	/* new record (group index, n: run), or mirror index */
	int	 del;
};

int
state_save(const char *dir, struct state *base, const struct state *st)
{
	struct state_mirror *m = base->mirror, *nm;
	struct state_mirror empty = { 0 };
	size_t n, i, j = 0, k, klen, nch = 0, mapsize = DB_MAPSIZE;
	struct staterec_lin *g = staterec_group(st, &n);
	struct change *ch = xcalloc(n + (m ? m->n : 0) + 2, sizeof(*ch));
	unsigned char md[CERT_SHA256_LEN];
	struct buf b = { 0 };
	char *path = NULL, why[300] = "";
	struct stat sb;
	struct db *db;
	int rc = 0;

	if (m == NULL)
		m = &empty;
	nm = xcalloc(1, sizeof(*nm));
	/* Pass 1: digests of the new records against the mirror's. */
	for (i = 0; i <= n; i++) {
		b.len = 0;
		staterec_build(st, g, n, i, &b, &klen);
		cert_sha256(b.p + klen, b.len - klen, md);
		for (; j < m->n && cmp_key(m, j, b.p, klen) < 0; j++)
			ch[nch++] = (struct change){ j, 1 };
		if (j < m->n && cmp_key(m, j, b.p, klen) == 0) {
			if (memcmp(m->r[j].md, md, sizeof(md)) != 0)
				ch[nch++] = (struct change){ i, 0 };
			j++;
		} else
			ch[nch++] = (struct change){ i, 0 };
		mirror_add(nm, b.p, klen, md);
	}
	for (; j < m->n; j++)
		ch[nch++] = (struct change){ j, 1 };
	if (nch == 0)
		goto done;
	/* Pass 2: one write transaction with just those. */
	path = xasprintf("%s/" STATE_DB, dir);
	if (stat(path, &sb) == 0)
		while (mapsize < 2 * (size_t)sb.st_size)
			mapsize *= 2;
	for (;;) {
		if (fsio_mkdirs(dir, 0700) == -1 || db_open(path, DB_STATE,
		    mapsize, 1, &db, why, sizeof(why)) == -1) {
			rc = -1;
			break;
		}
		for (k = 0, rc = 0; rc == 0 && k < nch; k++) {
			if (ch[k].del) {
				const struct mrec *r = &m->r[ch[k].i];

				rc = db_del(db, m->keys.p + r->koff, r->klen);
				continue;
			}
			b.len = 0;
			staterec_build(st, g, n, ch[k].i, &b, &klen);
			rc = db_put(db, b.p, klen, b.p + klen, b.len - klen, 0);
		}
		if (rc != 0) {
			snprintf(why, sizeof(why), "%s", db_error(db));
			db_close(db, 0);
		} else if ((rc = db_close(db, 1)) != 0)
			snprintf(why, sizeof(why), "%s", db_close_why());
		if (rc != DB_FULL || mapsize >= ((size_t)1 << 34))
			break;
		mapsize *= 2;
	}
	if (rc != 0) {
		log_err("%s: not saved: lmdb %s", log_esc(path), why);
		mirror_free(nm);
		rc = -1;
		goto out;
	}
done:
	if (base->mirror != NULL)
		mirror_free(base->mirror);
	base->mirror = nm;
out:
	free(b.p);
	free(ch);
	free(g);
	free(path);
	return rc;
}

int
state_save_run(const char *dir, struct state *base, const struct state *st)
{
	struct state_mirror *m = base->mirror;
	unsigned char md[CERT_SHA256_LEN];
	struct buf b = { 0 };
	char *path, why[300] = "";
	struct mrec *last;
	struct db *db;
	int rc;

	if (m == NULL || m->n == 0 ||
	    cmp_key(m, m->n - 1, "r", 1) != 0)
		return state_save(dir, base, st);
	last = &m->r[m->n - 1];
	staterec_run_value(st, &b);
	cert_sha256(b.p, b.len, md);
	if (memcmp(md, last->md, sizeof(md)) == 0) {
		free(b.p);
		return 0;
	}
	path = xasprintf("%s/" STATE_DB, dir);
	rc = db_open(path, DB_STATE, 0, 1, &db, why, sizeof(why));
	if (rc == 0) {
		if ((rc = db_put(db, "r", 1, b.p, b.len, 0)) != 0) {
			snprintf(why, sizeof(why), "%s", db_error(db));
			db_close(db, 0);
		} else if ((rc = db_close(db, 1)) != 0)
			snprintf(why, sizeof(why), "%s", db_close_why());
	}
	if (rc != 0)
		log_err("%s: not saved: lmdb %s", log_esc(path), why);
	else
		memcpy(last->md, md, sizeof(md));
	free(b.p);
	free(path);
	return rc != 0 ? -1 : 0;
}

void
state_free(struct state *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		pair_free(&st->pairs[i]);
	for (i = 0; i < st->nerrs; i++) {
		free(st->errs[i].lineage);
		free(st->errs[i].file);
		free(st->errs[i].error);
	}
	for (i = 0; i < st->ncounts; i++)
		free(st->counts[i].lineage);
	free(st->counts);
	for (i = 0; i < st->nholds; i++)
		free(st->holds[i].lineage);
	free(st->holds);
	free(st->pairs);
	free(st->errs);
	if (st->mirror != NULL)
		mirror_free(st->mirror);
	memset(st, 0, sizeof(*st));
}

const char *const state_svc_names[2] = { "postfix", "dovecot" };

static const char *const hold_names[DOVECOT_HOLD__MAX] = { "none",
    "does not fit", "no handshake" };

const char *
state_hold_name(enum dovecot_hold h)
{
	return h < DOVECOT_HOLD__MAX ? hold_names[h] : "?";
}

static int
cmp_pair_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct pair *)elem)->lineage);
}

static int
cmp_pair_lineage(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->lineage,
	    ((const struct pair *)b)->lineage);
}

void
state_sort_pairs(struct state *st)
{
	util_sort_unless_sorted(st->pairs, st->n, sizeof(*st->pairs),
	    cmp_pair_lineage);
}

const struct pair *
state_pair_of(const struct state *st, const char *lineage)
{
	static _Thread_local size_t hint;

	return util_find_sorted(lineage, st->pairs, st->n, sizeof(*st->pairs),
	    cmp_pair_key, &hint);
}

const struct state_hold *
state_hold_of(const struct state *st, const char *lineage)
{
	size_t i;

	for (i = 0; i < st->nholds; i++)
		if (strcmp(st->holds[i].lineage, lineage) == 0)
			return &st->holds[i];
	return NULL;
}

const struct state_error *
state_error_of(const struct state *st, const char *lineage)
{
	size_t i;

	for (i = 0; i < st->nerrs; i++)
		if (strcmp(st->errs[i].lineage, lineage) == 0)
			return &st->errs[i];
	return NULL;
}
