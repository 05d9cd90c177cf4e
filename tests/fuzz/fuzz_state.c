/*
 * fuzz_state.c - libFuzzer target for the state database's record
 * decoder (staterec_decode()), its encoder and state_free().
 *
 * Input: records, each a byte of key length, the key, two bytes of value
 * length (little-endian), the value; a record cut short ends the input.
 * staterec_decode() must never crash or leak, and it keeps a record whole
 * or not at all. What it keeps must survive a round trip: encoding the
 * state, decoding those records into a new state and encoding again
 * gives the same records, byte for byte; every pair it keeps has
 * well-formed store ids and only names that name_normalize() accepts
 * as they are (nothing else may reach a Postfix or Dovecot output).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "name.h"
#include "state.h"
#include "staterec.h"

static int
hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static void
check_pairs(const struct state *st)
{
	char norm[NAME_MAX_LEN + 1];
	size_t i, j;

	for (i = 0; i < st->n; i++) {
		const struct pair *p = &st->pairs[i];

		FUZZ_CHECK(p->lineage != NULL && p->lineage[0] != '\0');
		FUZZ_CHECK(hex64(p->key_id) && hex64(p->chain_id));
		FUZZ_CHECK(p->names != NULL || p->nnames == 0);
		for (j = 0; j < p->nnames; j++)
			FUZZ_CHECK(name_normalize(p->names[j],
			    strlen(p->names[j]), norm) == NULL &&
			    strcmp(norm, p->names[j]) == 0);
		FUZZ_CHECK((p->src_key == NULL) == (p->src_chain == NULL));
	}
	for (i = 0; i < st->nholds; i++)
		FUZZ_CHECK(hex64(st->holds[i].key_id));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { 0 }, again = { 0 };
	struct state_records e1, e2;
	size_t off = 0, i, before;

	while (off + 1 <= size) {
		size_t kl = data[off], vl;

		if (off + 1 + kl + 2 > size)
			break;
		vl = data[off + 1 + kl] | (size_t)data[off + 2 + kl] << 8;
		if (off + 3 + kl + vl > size)
			break;
		before = st.n + st.nerrs + st.nholds + st.ncounts;
		if (staterec_decode(data + off + 1, kl, data + off + 3 + kl,
		    vl, &st, 0) == -1)
			FUZZ_CHECK(st.n + st.nerrs + st.nholds + st.ncounts ==
			    before);
		off += 3 + kl + vl;
	}
	check_pairs(&st);
	staterec_encode(&st, &e1);
	for (i = 0; i < e1.n; i++)
		FUZZ_CHECK(staterec_decode(e1.r[i].key, e1.r[i].klen,
		    e1.r[i].val, e1.r[i].vlen, &again, 0) == 0);
	check_pairs(&again);
	staterec_encode(&again, &e2);
	/* A lineage decoded twice (two records, one key) keeps both parts
	 * in st; encoding keeps the first of each kind: compare only when
	 * every lineage came once. */
	FUZZ_CHECK(e2.n <= e1.n);
	if (e2.n == e1.n)
		for (i = 0; i < e1.n; i++)
			FUZZ_CHECK(e1.r[i].klen == e2.r[i].klen &&
			    memcmp(e1.r[i].key, e2.r[i].key, e1.r[i].klen) == 0 &&
			    e1.r[i].vlen == e2.r[i].vlen &&
			    memcmp(e1.r[i].val, e2.r[i].val, e1.r[i].vlen) == 0);
	staterec_free(&e1);
	staterec_free(&e2);
	state_free(&again);
	state_free(&st);
	return 0;
}
