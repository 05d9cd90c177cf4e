/*
 * state.c - the applied state in an LMDB environment (state.h).
 *
 * Records, keyed so that LMDB's order is the lineages' order:
 *   "l" LINEAGE  one lineage: its applied pair, its rejection, its
 *                failure count, its held key change (any of them)
 *   "r"          the run: the map's identity, pending reloads, reload
 *                counts, Dovecot's side
 * Values are a version byte then fixed fields: integers as 8 bytes
 * little-endian, strings as a 4-byte length and the bytes (a null
 * string as length 0xffffffff). The decoder trusts nothing: every length
 * is bounded by the record, store ids are 64 hex digits, names must pass
 * name_normalize() unchanged (nothing else may reach a Dovecot or Postfix
 * output), and a record with a byte too many or too few is refused
 * whole. A save compares each record's bytes with what the database
 * holds (the mirror) and writes only those that differ, so a renewal
 * writes its lineage's record and the run record, and a run that
 * changes nothing opens nothing for writing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "fsio.h"
#include "json.h"
#include "log.h"
#include "name.h"
#include "state.h"
#include "util.h"

#define REC_VERSION	1
#define F_PAIR		0x01
#define F_ERROR		0x02
#define F_HOLD		0x04
#define F_COUNT		0x08
#define NULL_STR	0xffffffffu
#define MAX_NAMES	100000
#define DB_MAPSIZE	(64UL * 1024 * 1024)

struct state_mirror {
	struct state_records	 rec;	/* sorted by key */
	char			*run;	/* the run record's bytes when
					   state_save_run() replaced it */
	int			 from_json;	/* imported: rename it after
						   the first save */
};

/* Records being encoded: one arena, offsets until the end. */
struct enc {
	struct buf		 b;
	struct state_record	*r;
	size_t			 n, koff, klen;
};

static void
enc_begin(struct enc *e, char kind, const char *name)
{
	e->koff = e->b.len;
	buf_add(&e->b, &kind, 1);
	if (name != NULL)
		buf_adds(&e->b, name);
	e->klen = e->b.len - e->koff;
}

static void
enc_end(struct enc *e)
{
	/* offsets for now: enc_finish() makes them pointers */
	e->r[e->n].key = (const char *)(uintptr_t)e->koff;
	e->r[e->n].klen = e->klen;
	e->r[e->n].val = (const unsigned char *)(uintptr_t)(e->koff + e->klen);
	e->r[e->n].vlen = e->b.len - e->koff - e->klen;
	e->n++;
}

/* ---- encoding ---- */

static void
put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	buf_add(b, &c, 1);
}

static void
put_u64(struct buf *b, unsigned long long v)
{
	unsigned char c[8];
	int i;

	for (i = 0; i < 8; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	buf_add(b, c, 8);
}

static void
put_i64(struct buf *b, long long v)
{
	put_u64(b, (unsigned long long)v);
}

static void
put_str(struct buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	unsigned char c[4];
	unsigned v = s != NULL ? (unsigned)n : NULL_STR;
	int i;

	for (i = 0; i < 4; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	buf_add(b, c, 4);
	if (s != NULL)
		buf_add(b, s, n);
}

static void
put_id(struct buf *b, const struct fsio_id *id)
{
	put_u64(b, id->dev);
	put_u64(b, id->ino);
	put_u64(b, id->size);
	put_i64(b, id->mtime_ns);
}

static void
put_pair(struct buf *b, const struct pair *p)
{
	size_t i;

	put_str(b, p->key_id);
	put_str(b, p->chain_id);
	put_u64(b, p->nnames);
	for (i = 0; i < p->nnames; i++)
		put_str(b, p->names[i]);
	put_i64(b, p->not_before);
	put_i64(b, p->not_after);
	put_str(b, p->key_desc);
	put_str(b, p->serial);
	put_str(b, p->fingerprint);
	put_u8(b, p->last_good != 0);
	put_i64(b, p->since);
	put_i64(b, p->key_since);
	put_u8(b, p->src_key != NULL && p->src_chain != NULL);
	if (p->src_key != NULL && p->src_chain != NULL) {
		put_str(b, p->src_key);
		put_id(b, &p->src_key_id);
		put_str(b, p->src_chain);
		put_id(b, &p->src_chain_id);
	}
}

/* One lineage's parts (any may be NULL). */
struct lin {
	const char		*name;
	const struct pair	*pair;
	const struct state_error *err;
	const struct state_hold	*hold;
	const struct lineage_count *count;
};

static void
encode_lineage(const struct lin *l, struct enc *e)
{
	struct buf b;

	enc_begin(e, 'l', l->name);
	b = e->b;
	put_u8(&b, REC_VERSION);
	put_u8(&b, (l->pair ? F_PAIR : 0) | (l->err ? F_ERROR : 0) |
	    (l->hold ? F_HOLD : 0) | (l->count ? F_COUNT : 0));
	if (l->pair != NULL)
		put_pair(&b, l->pair);
	if (l->err != NULL) {
		put_str(&b, l->err->file);
		put_str(&b, l->err->error);
		put_i64(&b, l->err->since);
	}
	if (l->hold != NULL) {
		put_str(&b, l->hold->key_id);
		put_str(&b, l->hold->serial);
		put_str(&b, l->hold->spki);
		put_i64(&b, l->hold->since);
	}
	if (l->count != NULL)
		put_i64(&b, l->count->n);
	e->b = b;
	enc_end(e);
}

static void
encode_run(const struct state *st, struct enc *e)
{
	const struct dovecot_state *d = &st->dovecot;
	struct buf b;
	int i;

	enc_begin(e, 'r', NULL);
	b = e->b;
	put_u8(&b, REC_VERSION);
	put_u8(&b, st->have_lmdb != 0);
	put_id(&b, &st->lmdb);
	for (i = 0; i < 2; i++)
		put_u8(&b, st->reload_pending[i] != 0);
	for (i = 0; i < 2; i++) {
		put_i64(&b, st->svc[i].reloads);
		put_i64(&b, st->svc[i].failures);
		put_i64(&b, st->svc[i].last_reload);
	}
	put_u64(&b, d->blocks);
	put_i64(&b, d->need);
	put_i64(&b, d->limit);
	put_i64(&b, d->measured);
	put_u8(&b, d->held);
	put_i64(&b, d->held_since);
	put_i64(&b, d->held_limit);
	put_u64(&b, d->held_blocks);
	put_u64(&b, d->lacking);
	e->b = b;
	enc_end(e);
}

enum part { P_PAIR, P_ERR, P_HOLD, P_COUNT };

struct item {
	const char	*name;
	enum part	 part;
	const void	*p;
};

static int
cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r != 0 ? r : (int)x->part - (int)y->part;
}

static int
cmp_record(const void *a, const void *b)
{
	const struct state_record *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, n);

	return r != 0 ? r : x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* The arena is sized for the records at once (a few MB at 10,000
 * lineages: growing it by doubling costs more in page faults than the
 * encoding itself). */
static size_t
size_hint(const struct state *st)
{
	size_t i, k, n = 256;

	for (i = 0; i < st->n; i++) {
		const struct pair *p = &st->pairs[i];

		n += 400 + strlen(p->lineage) + (p->src_key ?
		    strlen(p->src_key) + strlen(p->src_chain) : 0);
		for (k = 0; k < p->nnames; k++)
			n += 4 + strlen(p->names[k]);
	}
	for (i = 0; i < st->nerrs; i++)
		n += 64 + strlen(st->errs[i].lineage) + strlen(st->errs[i].error) +
		    (st->errs[i].file ? strlen(st->errs[i].file) : 0);
	return n + 240 * (st->nholds + st->ncounts) +
	    64 * (st->nholds + st->ncounts);
}

void
state_encode(const struct state *st, struct state_records *out)
{
	size_t ni = st->n + st->nerrs + st->nholds + st->ncounts, i, j;
	struct item *it = xcalloc(ni + 1, sizeof(*it));
	struct enc e = { { 0 }, NULL, 0, 0, 0 };

	e.b.cap = size_hint(st);
	e.b.p = xmalloc(e.b.cap);
	e.r = xcalloc(ni + 2, sizeof(*e.r));

	for (i = 0, j = 0; i < st->n; i++)
		it[j++] = (struct item){ st->pairs[i].lineage, P_PAIR,
		    &st->pairs[i] };
	for (i = 0; i < st->nerrs; i++)
		it[j++] = (struct item){ st->errs[i].lineage, P_ERR,
		    &st->errs[i] };
	for (i = 0; i < st->nholds; i++)
		it[j++] = (struct item){ st->holds[i].lineage, P_HOLD,
		    &st->holds[i] };
	for (i = 0; i < st->ncounts; i++)
		it[j++] = (struct item){ st->counts[i].lineage, P_COUNT,
		    &st->counts[i] };
	qsort(it, ni, sizeof(*it), cmp_item);
	/* "l..." records in lineage order, then "r": sorted by key. */
	for (i = 0; i < ni; ) {
		struct lin l = { it[i].name, NULL, NULL, NULL, NULL };

		for (; i < ni && strcmp(it[i].name, l.name) == 0; i++)
			switch (it[i].part) {	/* the first of each kind */
			case P_PAIR:
				l.pair = l.pair ? l.pair : it[i].p;
				break;
			case P_ERR:
				l.err = l.err ? l.err : it[i].p;
				break;
			case P_HOLD:
				l.hold = l.hold ? l.hold : it[i].p;
				break;
			case P_COUNT:
				l.count = l.count ? l.count : it[i].p;
				break;
			}
		encode_lineage(&l, &e);
	}
	encode_run(st, &e);
	free(it);
	for (i = 0; i < e.n; i++) {
		e.r[i].key = e.b.p + (uintptr_t)e.r[i].key;
		e.r[i].val = (const unsigned char *)e.b.p +
		    (uintptr_t)e.r[i].val;
	}
	out->r = e.r;
	out->n = e.n;
	out->arena = e.b.p;
	out->arenalen = e.b.len;
}

void
state_records_free(struct state_records *rs)
{
	free(rs->r);
	free(rs->arena);
	memset(rs, 0, sizeof(*rs));
}

/* ---- decoding ---- */

struct rd {
	const unsigned char	*p, *end;
	int			 bad;
};

static unsigned long long
get_u64(struct rd *r)
{
	unsigned long long v = 0;
	int i;

	if (r->bad || r->end - r->p < 8) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v |= (unsigned long long)r->p[i] << (8 * i);
	r->p += 8;
	return v;
}

static long long
get_i64(struct rd *r)
{
	return (long long)get_u64(r);
}

static unsigned
get_u8(struct rd *r)
{
	if (r->bad || r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

/* A string: malloc'd, or NULL for a null string (*isnull) or an error. */
static char *
get_str(struct rd *r, int *isnull)
{
	unsigned v = 0;
	int i;
	char *s;

	*isnull = 0;
	if (r->bad || r->end - r->p < 4) {
		r->bad = 1;
		return NULL;
	}
	for (i = 0; i < 4; i++)
		v |= (unsigned)r->p[i] << (8 * i);
	r->p += 4;
	if (v == NULL_STR) {
		*isnull = 1;
		return NULL;
	}
	if ((size_t)(r->end - r->p) < v || memchr(r->p, '\0', v) != NULL) {
		r->bad = 1;
		return NULL;
	}
	s = xstrndup((const char *)r->p, v);
	r->p += v;
	return s;
}

/* A string that must be there: into out[cap] (shorter than cap). */
static void
get_fixed(struct rd *r, char *out, size_t cap)
{
	int isnull;
	char *s = get_str(r, &isnull);

	if (s == NULL || strlen(s) >= cap)
		r->bad = 1;
	else
		memcpy(out, s, strlen(s) + 1);
	free(s);
}

static char *
get_need(struct rd *r)
{
	int isnull;
	char *s = get_str(r, &isnull);

	if (s == NULL)
		r->bad = 1;
	return s;
}

static void
get_id(struct rd *r, struct fsio_id *id)
{
	id->dev = get_u64(r);
	id->ino = get_u64(r);
	id->size = get_u64(r);
	id->mtime_ns = get_i64(r);
}

static void
get_pair(struct rd *r, struct pair *p)
{
	unsigned long long nn, i;
	char norm[NAME_MAX_LEN + 1];

	get_fixed(r, p->key_id, sizeof(p->key_id));
	get_fixed(r, p->chain_id, sizeof(p->chain_id));
	if (!r->bad && (!hex64_ok(p->key_id) || !hex64_ok(p->chain_id)))
		r->bad = 1;
	nn = get_u64(r);
	if (r->bad || nn > MAX_NAMES || nn > (unsigned long long)(r->end - r->p)) {
		r->bad = 1;
		return;
	}
	p->names = xcalloc(nn + 1, sizeof(char *));
	for (i = 0; i < nn && !r->bad; i++) {
		char *n = get_need(r);

		if (n != NULL && (name_normalize(n, strlen(n), norm) != NULL ||
		    strcmp(norm, n) != 0))
			r->bad = 1;
		p->names[p->nnames++] = n;
		if (n == NULL)
			p->nnames--;
	}
	p->not_before = get_i64(r);
	p->not_after = get_i64(r);
	get_fixed(r, p->key_desc, sizeof(p->key_desc));
	get_fixed(r, p->serial, sizeof(p->serial));
	get_fixed(r, p->fingerprint, sizeof(p->fingerprint));
	p->last_good = get_u8(r) != 0;
	p->since = get_i64(r);
	p->key_since = get_i64(r);
	if (get_u8(r)) {
		p->src_key = get_need(r);
		get_id(r, &p->src_key_id);
		p->src_chain = get_need(r);
		get_id(r, &p->src_chain_id);
	}
}

static void
add_lineage(struct state *st, const char *name, struct rd *r)
{
	unsigned flags = get_u8(r);
	struct pair p = { 0 };
	struct state_error e = { 0 };
	struct state_hold h = { 0 };
	long long count = 0;

	if (flags & ~(unsigned)(F_PAIR | F_ERROR | F_HOLD | F_COUNT))
		r->bad = 1;
	if (flags & F_PAIR) {
		p.lineage = xstrdup(name);
		get_pair(r, &p);
	}
	if (flags & F_ERROR) {
		int isnull;

		e.file = get_str(r, &isnull);
		if (e.file == NULL && !isnull)
			r->bad = 1;
		e.error = get_need(r);
		e.since = get_i64(r);
	}
	if (flags & F_HOLD) {
		get_fixed(r, h.key_id, sizeof(h.key_id));
		get_fixed(r, h.serial, sizeof(h.serial));
		get_fixed(r, h.spki, sizeof(h.spki));
		h.since = get_i64(r);
		if (!r->bad && !hex64_ok(h.key_id))
			r->bad = 1;
	}
	if (flags & F_COUNT) {
		count = get_i64(r);
		if (count <= 0)
			r->bad = 1;
	}
	if (r->p != r->end)
		r->bad = 1;
	if (r->bad) {
		pair_free(&p);
		free(e.file);
		free(e.error);
		return;
	}
	if (flags & F_PAIR) {
		st->pairs = xgrow(st->pairs, st->n, sizeof(*st->pairs));
		st->pairs[st->n++] = p;
	}
	if (flags & F_ERROR) {
		e.lineage = xstrdup(name);
		st->errs = xgrow(st->errs, st->nerrs, sizeof(*st->errs));
		st->errs[st->nerrs++] = e;
	}
	if (flags & F_HOLD) {
		h.lineage = xstrdup(name);
		st->holds = xgrow(st->holds, st->nholds, sizeof(*st->holds));
		st->holds[st->nholds++] = h;
	}
	if (flags & F_COUNT) {
		st->counts = xgrow(st->counts, st->ncounts,
		    sizeof(*st->counts));
		st->counts[st->ncounts++] = (struct lineage_count){
		    xstrdup(name), count };
	}
}

static void
add_run(struct state *st, struct rd *r)
{
	struct state s = { 0 };
	struct dovecot_state *d = &s.dovecot;
	int i;

	s.have_lmdb = get_u8(r) != 0;
	get_id(r, &s.lmdb);
	for (i = 0; i < 2; i++)
		s.reload_pending[i] = get_u8(r) != 0;
	for (i = 0; i < 2; i++) {
		s.svc[i].reloads = get_i64(r);
		s.svc[i].failures = get_i64(r);
		s.svc[i].last_reload = get_i64(r);
	}
	d->blocks = (size_t)get_u64(r);
	d->need = get_i64(r);
	d->limit = get_i64(r);
	d->measured = get_i64(r);
	d->held = (enum dovecot_hold)get_u8(r);
	d->held_since = get_i64(r);
	d->held_limit = get_i64(r);
	d->held_blocks = (size_t)get_u64(r);
	d->lacking = (size_t)get_u64(r);
	if (d->held >= DOVECOT_HOLD__MAX || r->p != r->end)
		r->bad = 1;
	if (r->bad)
		return;
	st->have_lmdb = s.have_lmdb;
	st->lmdb = s.lmdb;
	memcpy(st->reload_pending, s.reload_pending, sizeof(s.reload_pending));
	memcpy(st->svc, s.svc, sizeof(s.svc));
	st->dovecot = s.dovecot;
}

int
state_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct state *st)
{
	struct rd r = { val, (const unsigned char *)val + vlen, 0 };
	const char *k = key;
	char *name;

	if (klen == 0)
		return -1;
	if (get_u8(&r) != REC_VERSION)
		return -1;
	if (klen == 1 && k[0] == 'r') {
		add_run(st, &r);
		return r.bad ? -1 : 0;
	}
	if (k[0] != 'l' || klen < 2 || klen > 1 + 1024 ||
	    memchr(k + 1, '\0', klen - 1) != NULL)
		return k[0] == 'l' ? -1 : 0;
	name = xstrndup(k + 1, klen - 1);
	add_lineage(st, name, &r);
	free(name);
	return r.bad ? -1 : 0;
}

/* ---- load and save ---- */

struct load_ctx {
	struct state		*st;
	struct state_mirror	*m;
	const char		*path;
	struct enc		 e;	/* the mirror, being copied */
	size_t			 hint;
};

static int
load_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct load_ctx *c = arg;
	struct enc *e = &c->e;
	char kb[80];

	if (state_decode(k, kl, v, vl, c->st) == -1) {
		snprintf(kb, sizeof(kb), "%.*s", kl > 64 ? 64 : (int)kl,
		    (const char *)k);
		log_warn("%s: record \"%s\" cannot be read; left out (the next "
		    "sync writes it again)", log_esc(c->path), log_esc(kb));
	}
	e->r = xgrow(e->r, e->n, sizeof(*e->r));
	e->koff = e->b.len;
	if (e->b.p == NULL) {	/* room for about what the file holds */
		e->b.cap = c->hint;
		e->b.p = xmalloc(e->b.cap);
	}
	buf_add(&e->b, k, kl);
	e->klen = kl;
	buf_add(&e->b, v, vl);
	enc_end(e);
	return 0;
}

int
state_load(const char *dir, int peek, struct state *st)
{
	char *path = xasprintf("%s/" STATE_DB, dir), why[300];
	struct load_ctx c = { st, NULL, path, { { 0 }, NULL, 0, 0, 0 }, 4096 };
	struct db *db;
	struct stat sb;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (lstat(path, &sb) == -1 && errno == ENOENT) {
		/* No database yet: 0.1's state.json, if any. */
		char *json = xasprintf("%s/" STATE_JSON, dir);

		rc = state_json_load(json, st);
		st->mirror = c.m = xcalloc(1, sizeof(*c.m));
		c.m->from_json = rc == 0 && lstat(json, &sb) == 0;
		free(json);
		goto out;
	}
	st->mirror = c.m = xcalloc(1, sizeof(*c.m));
	c.hint = (size_t)sb.st_size + 4096;
	if (db_open(path, peek ? DB_STATE_PEEK : DB_STATE, 0, 0, &db, why,
	    sizeof(why)) == -1) {
		log_err("%s: %s", log_esc(path), why);
		goto out;
	}
	if (db_each(db, load_one, &c) != 0)
		log_err("%s: %s", log_esc(path), db_error(db));
	else
		rc = 0;
	db_close(db, 0);
	for (size_t i = 0; i < c.e.n; i++) {
		c.e.r[i].key = c.e.b.p + (uintptr_t)c.e.r[i].key;
		c.e.r[i].val = (const unsigned char *)c.e.b.p +
		    (uintptr_t)c.e.r[i].val;
	}
	c.m->rec = (struct state_records){ c.e.r, c.e.n, c.e.b.p, c.e.b.len };
out:
	free(path);
	return rc;
}

/* Puts the records of new that differ from the mirror's, deletes the
 * mirror's that new lacks. Returns 0, DB_FULL or -1. */
static int
apply(struct db *db, const struct state_records *m,
    const struct state_record *nr, size_t n)
{
	size_t i = 0, j = 0;
	int rc = 0;

	while (rc == 0 && (i < m->n || j < n)) {
		int c = i >= m->n ? 1 : j >= n ? -1 :
		    cmp_record(&m->r[i], &nr[j]);

		if (c < 0)
			rc = db_del(db, m->r[i].key, m->r[i].klen);
		else if (c > 0 || m->r[i].vlen != nr[j].vlen ||
		    memcmp(m->r[i].val, nr[j].val, nr[j].vlen) != 0)
			rc = db_put(db, nr[j].key, nr[j].klen, nr[j].val,
			    nr[j].vlen, 0);
		i += c <= 0;
		j += c >= 0;
	}
	return rc;
}

/* Whether the mirror already holds exactly these records. */
static int
same(const struct state_records *m, const struct state_record *nr, size_t n)
{
	size_t i;

	if (m->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (cmp_record(&m->r[i], &nr[i]) != 0 ||
		    m->r[i].vlen != nr[i].vlen ||
		    memcmp(m->r[i].val, nr[i].val, nr[i].vlen) != 0)
			return 0;
	return 1;
}

int
state_save(const char *dir, struct state *base, const struct state *st)
{
	char *path = xasprintf("%s/" STATE_DB, dir), why[300];
	struct state_mirror empty = { 0 }, *m = base->mirror ? base->mirror :
	    &empty;
	size_t n, mapsize = DB_MAPSIZE;
	struct state_records enc;
	struct state_record *nr;
	struct stat sb;
	struct db *db;
	int rc;

	state_encode(st, &enc);
	nr = enc.r;
	n = enc.n;
	if (same(&m->rec, nr, n)) {
		state_records_free(&enc);
		free(path);
		return 0;
	}
	if (stat(path, &sb) == 0)
		while (mapsize < 2 * (size_t)sb.st_size)
			mapsize *= 2;
	for (;;) {
		if (fsio_mkdirs(dir, 0700) == -1 || db_open(path, DB_STATE,
		    mapsize, 1, &db, why, sizeof(why)) == -1) {
			log_err("%s: %s", log_esc(path), why);
			rc = -1;
			break;
		}
		rc = apply(db, &m->rec, nr, n);
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
		if (rc != -1 || why[0] != '\0')
			log_err("%s: not saved: lmdb %s", log_esc(path), why);
		state_records_free(&enc);
		free(path);
		return -1;
	}
	if (m->from_json) {
		char *json = xasprintf("%s/" STATE_JSON, dir);
		char *old = xasprintf("%s/" STATE_JSON ".old", dir);

		if (fsio_rename(json, old) == 0)
			log_info("state: %s imported into %s; the old file is "
			    "kept as %s", log_esc(json), log_esc(path),
			    log_esc(old));
		free(json);
		free(old);
	}
	if (base->mirror == NULL)
		base->mirror = xcalloc(1, sizeof(*base->mirror));
	state_records_free(&base->mirror->rec);
	free(base->mirror->run);
	base->mirror->run = NULL;
	base->mirror->rec = enc;
	base->mirror->from_json = 0;
	free(path);
	return 0;
}

int
state_save_run(const char *dir, struct state *base, const struct state *st)
{
	struct state_mirror *m = base->mirror;
	struct state run = { 0 };
	struct state_records enc;
	struct state_record *old;
	char *path, why[300];
	struct db *db;
	int rc;

	if (m == NULL || m->from_json || m->rec.n == 0 ||
	    m->rec.r[m->rec.n - 1].klen != 1 ||
	    m->rec.r[m->rec.n - 1].key[0] != 'r')
		return state_save(dir, base, st);
	old = &m->rec.r[m->rec.n - 1];
	/* the run fields alone: encode a state without lineages */
	run.have_lmdb = st->have_lmdb;
	run.lmdb = st->lmdb;
	memcpy(run.reload_pending, st->reload_pending,
	    sizeof(run.reload_pending));
	memcpy(run.svc, st->svc, sizeof(run.svc));
	run.dovecot = st->dovecot;
	state_encode(&run, &enc);
	if (enc.r[0].vlen == old->vlen &&
	    memcmp(enc.r[0].val, old->val, old->vlen) == 0) {
		state_records_free(&enc);
		return 0;
	}
	path = xasprintf("%s/" STATE_DB, dir);
	rc = db_open(path, DB_STATE, 0, 1, &db, why, sizeof(why));
	if (rc == 0) {
		if ((rc = db_put(db, "r", 1, enc.r[0].val, enc.r[0].vlen,
		    0)) != 0) {
			snprintf(why, sizeof(why), "%s", db_error(db));
			db_close(db, 0);
		} else if ((rc = db_close(db, 1)) != 0)
			snprintf(why, sizeof(why), "%s", db_close_why());
	}
	if (rc != 0) {
		log_err("%s: not saved: lmdb %s", log_esc(path), why);
		state_records_free(&enc);
		free(path);
		return -1;
	}
	/* the mirror's run record is now these bytes */
	free(m->run);
	m->run = xmalloc(enc.r[0].vlen);
	memcpy(m->run, enc.r[0].val, enc.r[0].vlen);
	old->val = (const unsigned char *)m->run;
	old->vlen = enc.r[0].vlen;
	state_records_free(&enc);
	free(path);
	return 0;
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
	if (st->mirror != NULL) {
		state_records_free(&st->mirror->rec);
		free(st->mirror->run);
		free(st->mirror);
	}
	memset(st, 0, sizeof(*st));
}

static const char *const hold_names[DOVECOT_HOLD__MAX] = { "none",
    "does not fit", "no handshake" };

const char *
dovecot_hold_name(enum dovecot_hold h)
{
	return h < DOVECOT_HOLD__MAX ? hold_names[h] : "?";
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
