/*
 * staterec.c - the state's record codec (staterec.h), pure.
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
 * whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "pair.h"
#include "statedef.h"
#include "staterec.h"
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
struct staterec_lin {
	const char		*name;
	const struct pair	*pair;
	const struct state_error *err;
	const struct state_hold	*hold;
	const struct lineage_count *count;
};

static void
lin_value(const struct staterec_lin *l, struct buf *b)
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

void
staterec_run_value(const struct state *st, struct buf *b)
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
struct staterec_lin *
staterec_group(const struct state *st, size_t *np)
{
	size_t ni = st->n + st->nerrs + st->nholds + st->ncounts, i, j, n = 0;
	struct item *it = xcalloc(ni + 1, sizeof(*it));
	struct staterec_lin *v = xcalloc(ni + 1, sizeof(*v));

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
		struct staterec_lin *l = &v[n];

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
void
staterec_build(const struct state *st, const struct staterec_lin *g,
    size_t n, size_t i, struct buf *b, size_t *klen)
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
		staterec_run_value(st, b);
	}
}

void
staterec_encode(const struct state *st, struct state_records *out)
{
	size_t n, i, klen;
	struct staterec_lin *g = staterec_group(st, &n);
	struct buf b = { 0 };

	out->r = xcalloc(n + 2, sizeof(*out->r));
	for (i = 0; i <= n; i++) {
		size_t start = b.len;

		staterec_build(st, g, n, i, &b, &klen);
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
staterec_free(struct state_records *rs)
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
	if (!r->bad && (!util_hex64_ok(p->key_id) ||
	    !util_hex64_ok(p->chain_id)))
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
		if (!r->bad && !util_hex64_ok(h.key_id))
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

int
staterec_decode(const void *key, size_t klen, const void *val,
    size_t vlen, struct state *st, int room)
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
