/*
 * state.c - the applied state in an LMDB environment (state.h).
 *
 * Records, keyed so that LMDB's order is the lineages' order:
 *   "l" LINEAGE  one lineage: its applied pair, its rejection, its
 *                failure count, its held key change (any of them)
 *   "r"          the run: the map's identity, pending reloads, reload
 *                counts, Dovecot's side, the outputs' identities and what
 *                they were rendered from (renew.c)
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

#include "cert.h"
#include "db.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "state.h"
#include "util.h"

#define REC_VERSION	1
#define RUN_VERSION	3	/* 1: without out_id and nnames; 2: without
				   render_key */
#define F_PAIR		0x01
#define F_ERROR		0x02
#define F_HOLD		0x04
#define F_COUNT		0x08
#define F_SOLE		0x10	/* its pair is sole (plan.h) */
#define NULL_STR	0xffffffffu
#define MAX_NAMES	100000
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
	int		 from_json;	/* imported: rename it after the
					   first save */
};

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
lin_value(const struct lin *l, struct buf *b)
{
	put_u8(b, REC_VERSION);
	put_u8(b, (l->pair ? F_PAIR : 0) | (l->err ? F_ERROR : 0) |
	    (l->hold ? F_HOLD : 0) | (l->count ? F_COUNT : 0) |
	    (l->pair && l->pair->sole ? F_SOLE : 0));
	if (l->pair != NULL)
		put_pair(b, l->pair);
	if (l->err != NULL) {
		put_str(b, l->err->file);
		put_str(b, l->err->error);
		put_i64(b, l->err->since);
	}
	if (l->hold != NULL) {
		put_str(b, l->hold->key_id);
		put_str(b, l->hold->serial);
		put_str(b, l->hold->spki);
		put_i64(b, l->hold->since);
	}
	if (l->count != NULL)
		put_i64(b, l->count->n);
}

static void
run_value(const struct state *st, struct buf *b)
{
	const struct dovecot_state *d = &st->dovecot;
	int i;

	put_u8(b, RUN_VERSION);
	put_u8(b, st->have_lmdb != 0);
	put_id(b, &st->lmdb);
	for (i = 0; i < 2; i++)
		put_u8(b, st->reload_pending[i] != 0);
	for (i = 0; i < 2; i++) {
		put_i64(b, st->svc[i].reloads);
		put_i64(b, st->svc[i].failures);
		put_i64(b, st->svc[i].last_reload);
	}
	put_u64(b, d->blocks);
	put_i64(b, d->need);
	put_i64(b, d->limit);
	put_i64(b, d->measured);
	put_u8(b, d->held);
	put_i64(b, d->held_since);
	put_i64(b, d->held_limit);
	put_u64(b, d->held_blocks);
	put_u64(b, d->lacking);
	put_id(b, &st->out_id[0]);
	put_id(b, &st->out_id[1]);
	put_u64(b, st->nnames);
	buf_add(b, st->render_key[0], sizeof(st->render_key));
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

/* st's lineages, each with its parts, sorted by name (the records'
 * order: "l" + name, then "r"). */
static struct lin *
group(const struct state *st, size_t *np)
{
	size_t ni = st->n + st->nerrs + st->nholds + st->ncounts, i, j, n = 0;
	struct item *it = xcalloc(ni + 1, sizeof(*it));
	struct lin *v = xcalloc(ni + 1, sizeof(*v));

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
	for (i = 0; i < ni; n++) {
		struct lin *l = &v[n];

		l->name = it[i].name;
		for (; i < ni && strcmp(it[i].name, l->name) == 0; i++)
			switch (it[i].part) {	/* the first of each kind */
			case P_PAIR:
				l->pair = l->pair ? l->pair : it[i].p;
				break;
			case P_ERR:
				l->err = l->err ? l->err : it[i].p;
				break;
			case P_HOLD:
				l->hold = l->hold ? l->hold : it[i].p;
				break;
			case P_COUNT:
				l->count = l->count ? l->count : it[i].p;
				break;
			}
	}
	free(it);
	*np = n;
	return v;
}

/* Record i of g (i == n: the run record) into b: its key, then its
 * value; *klen the key's length. */
static void
record(const struct state *st, const struct lin *g, size_t n, size_t i,
    struct buf *b, size_t *klen)
{
	size_t start = b->len;

	if (i < n) {
		buf_add(b, "l", 1);
		buf_adds(b, g[i].name);
		*klen = b->len - start;
		lin_value(&g[i], b);
	} else {
		buf_add(b, "r", 1);
		*klen = 1;
		run_value(st, b);
	}
}

void
state_encode(const struct state *st, struct state_records *out)
{
	size_t n, i, klen;
	struct lin *g = group(st, &n);
	struct buf b = { 0 };

	out->r = xcalloc(n + 2, sizeof(*out->r));
	for (i = 0; i <= n; i++) {
		size_t start = b.len;

		record(st, g, n, i, &b, &klen);
		/* offsets for now: the arena may move while it grows */
		out->r[i].key = (const char *)(uintptr_t)start;
		out->r[i].klen = klen;
		out->r[i].val = (const unsigned char *)(uintptr_t)(start + klen);
		out->r[i].vlen = b.len - start - klen;
	}
	for (i = 0; i <= n; i++) {
		out->r[i].key = b.p + (uintptr_t)out->r[i].key;
		out->r[i].val = (const unsigned char *)b.p +
		    (uintptr_t)out->r[i].val;
	}
	out->n = n + 1;
	out->arena = b.p;
	free(g);
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

/* n bytes as they are. */
static void
get_raw(struct rd *r, unsigned char *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
}

/* A string's bytes, left in the record: NULL for a null string (*len
 * NULL_STR) or an error (r->bad). */
static const unsigned char *
get_bytes(struct rd *r, unsigned *len)
{
	const unsigned char *s;
	unsigned v = 0;
	int i;

	*len = 0;
	if (r->bad || r->end - r->p < 4) {
		r->bad = 1;
		return NULL;
	}
	for (i = 0; i < 4; i++)
		v |= (unsigned)r->p[i] << (8 * i);
	r->p += 4;
	*len = v;
	if (v == NULL_STR)
		return NULL;
	if ((size_t)(r->end - r->p) < v || memchr(r->p, '\0', v) != NULL) {
		r->bad = 1;
		return NULL;
	}
	s = r->p;
	r->p += v;
	return s;
}

/* A string: malloc'd, or NULL for a null string (*isnull) or an error. */
static char *
get_str(struct rd *r, int *isnull)
{
	unsigned v;
	const unsigned char *s = get_bytes(r, &v);

	*isnull = s == NULL && !r->bad;
	return s != NULL ? xstrndup((const char *)s, v) : NULL;
}

/* A string that must be there: into out[cap] (shorter than cap). */
static void
get_fixed(struct rd *r, char *out, size_t cap)
{
	unsigned v;
	const unsigned char *s = get_bytes(r, &v);

	if (s == NULL || v >= cap) {
		r->bad = 1;
		return;
	}
	memcpy(out, s, v);
	out[v] = '\0';
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

/* room: st's arrays have room for one more of each (state_load sized
 * them for every record at once); else they grow through xgrow. */
static void
add_lineage(struct state *st, const char *name, struct rd *r, int room)
{
	unsigned flags = get_u8(r);
	struct pair p = { 0 };
	struct state_error e = { 0 };
	struct state_hold h = { 0 };
	long long count = 0;

	if (flags & ~(unsigned)(F_PAIR | F_ERROR | F_HOLD | F_COUNT |
	    F_SOLE) || ((flags & F_SOLE) && !(flags & F_PAIR)))
		r->bad = 1;
	if (flags & F_PAIR) {
		p.lineage = xstrdup(name);
		get_pair(r, &p);
		p.sole = (flags & F_SOLE) != 0;
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
		if (!room)
			st->pairs = xgrow(st->pairs, st->n, sizeof(*st->pairs));
		st->pairs[st->n++] = p;
	}
	if (flags & F_ERROR) {
		e.lineage = xstrdup(name);
		if (!room)
			st->errs = xgrow(st->errs, st->nerrs, sizeof(*st->errs));
		st->errs[st->nerrs++] = e;
	}
	if (flags & F_HOLD) {
		h.lineage = xstrdup(name);
		if (!room)
			st->holds = xgrow(st->holds, st->nholds,
			    sizeof(*st->holds));
		st->holds[st->nholds++] = h;
	}
	if (flags & F_COUNT) {
		if (!room)
			st->counts = xgrow(st->counts, st->ncounts,
			    sizeof(*st->counts));
		st->counts[st->ncounts++] = (struct lineage_count){
		    xstrdup(name), count };
	}
}

static void
add_run(struct state *st, struct rd *r, unsigned version)
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
	if (version >= 2) {
		get_id(r, &s.out_id[0]);
		get_id(r, &s.out_id[1]);
		s.nnames = (size_t)get_u64(r);
	}
	if (version >= 3)
		get_raw(r, s.render_key[0], sizeof(s.render_key));
	if (d->held >= DOVECOT_HOLD__MAX || r->p != r->end)
		r->bad = 1;
	if (r->bad)
		return;
	st->have_lmdb = s.have_lmdb;
	st->lmdb = s.lmdb;
	memcpy(st->reload_pending, s.reload_pending, sizeof(s.reload_pending));
	memcpy(st->svc, s.svc, sizeof(s.svc));
	st->dovecot = s.dovecot;
	memcpy(st->out_id, s.out_id, sizeof(s.out_id));
	st->nnames = s.nnames;
	memcpy(st->render_key, s.render_key, sizeof(s.render_key));
}

static int
decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct state *st, int room)
{
	struct rd r = { val, (const unsigned char *)val + vlen, 0 };
	const char *k = key;
	char *name;
	unsigned version;

	if (klen == 0)
		return -1;
	version = get_u8(&r);
	if (klen == 1 && k[0] == 'r') {
		if (version < 1 || version > RUN_VERSION)
			return -1;
		add_run(st, &r, version);
		return r.bad ? -1 : 0;
	}
	if (version != REC_VERSION)
		return -1;
	if (k[0] != 'l' || klen < 2 || klen > 1 + 1024 ||
	    memchr(k + 1, '\0', klen - 1) != NULL)
		return k[0] == 'l' ? -1 : 0;
	name = xstrndup(k + 1, klen - 1);
	add_lineage(st, name, &r, room);
	free(name);
	return r.bad ? -1 : 0;
}

/* ---- load and save ---- */

int
state_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct state *st)
{
	return decode(key, klen, val, vlen, st, 0);
}

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

	if (decode(k, kl, v, vl, c->st, c->room) == -1) {
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
		/* No database yet: 0.1's state.json, if any. */
		char *json = xasprintf("%s/" STATE_JSON, dir);

		rc = state_json_load(json, st);
		st->mirror = c.m = xcalloc(1, sizeof(*c.m));
		c.m->from_json = rc == 0 && lstat(json, &sb) == 0;
		free(json);
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

	return m != NULL && !m->from_json && m->n > 0 &&
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
	struct lin *g = group(st, &n);
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
		record(st, g, n, i, &b, &klen);
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
			record(st, g, n, ch[k].i, &b, &klen);
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

	if (m == NULL || m->from_json || m->n == 0 ||
	    cmp_key(m, m->n - 1, "r", 1) != 0)
		return state_save(dir, base, st);
	last = &m->r[m->n - 1];
	run_value(st, &b);
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
