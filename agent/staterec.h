/*
 * staterec.h - the state's records, as the database holds them
 * (staterec.c): pure, no I/O; state.c reads and writes them, fuzz_state
 * and test_state drive the decoder.
 */
#ifndef SNISYNC_STATEREC_H
#define SNISYNC_STATEREC_H

#include <stddef.h>

#include "statedef.h"
#include "util.h"

/* One lineage's parts, as one record (opaque: staterec_group). */
struct staterec_lin;

struct state_record {
	const char		*key;
	size_t			 klen;
	const unsigned char	*val;
	size_t			 vlen;
};

struct state_records {
	struct state_record	*r;
	size_t			 n;
	char			*arena;		/* the bytes r points into */
};

/*
 * staterec_decode(key, klen, val, vlen, &st, room): adds the record to
 * st: a lineage record ("l" + lineage) to its pair, error, count and
 * hold arrays, the run record ("r") to its run fields; another key is
 * skipped. room: st's arrays have room for one more of each (else they
 * grow). Returns 0, or -1 when the record is malformed (st unchanged).
 */
int	staterec_decode(const void *key, size_t klen, const void *val,
	    size_t vlen, struct state *st, int room);

/*
 * staterec_group(st, &n): st's lineages, each with its parts, sorted by
 * name (the records' order); free() it. staterec_build(st, g, n, i, b,
 * &klen): record i of g (i == n: the run record) appended to b, its key
 * then its value (klen: the key's length). staterec_run_value(st, b):
 * the run record's value alone.
 */
struct staterec_lin *staterec_group(const struct state *st, size_t *n);
void	staterec_build(const struct state *st, const struct staterec_lin *g,
	    size_t n, size_t i, struct buf *b, size_t *klen);
void	staterec_run_value(const struct state *st, struct buf *b);

/* staterec_encode(st, &recs): every record of st as the database would
 * hold it, sorted by key, in one arena; staterec_free(&recs). */
void	staterec_encode(const struct state *st, struct state_records *recs);
void	staterec_free(struct state_records *recs);

#endif
