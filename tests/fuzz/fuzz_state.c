/*
 * fuzz_state.c - libFuzzer target for state_load(), state_render() and
 * state_free().
 *
 * Input: the bytes of a state.json (any format, any damage). state_load()
 * must never crash or leak: a file it cannot use reads as empty. What it
 * accepts must survive a round trip: rendering it, loading that and
 * rendering again gives the same bytes (the hand-written format-2 writer
 * and the jansson reader agree on every string, number and escape), and
 * every pair it keeps has well-formed store ids.
 *
 * Like fuzz_conf, one temp file per process (state_load takes a path and
 * refuses links), stdio's stderr pointed at /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "json.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_file_init("fuzz_state");
	return 0;
}

static int
hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st, again;
	char *t1, *t2;
	size_t l1, l2, i;

	fuzz_file_put(data, size);
	if (state_load(fuzz_file_path, &st) == -1)
		return 0;
	for (i = 0; i < st.n; i++) {
		FUZZ_CHECK(st.pairs[i].lineage != NULL);
		FUZZ_CHECK(hex64(st.pairs[i].key_id));
		FUZZ_CHECK(hex64(st.pairs[i].chain_id));
		FUZZ_CHECK(st.pairs[i].names != NULL);
	}
	t1 = state_render(&st, &l1);
	FUZZ_CHECK(t1 != NULL && strlen(t1) == l1);
	fuzz_file_put(t1, l1);
	FUZZ_CHECK(state_load(fuzz_file_path, &again) == 0);
	FUZZ_CHECK(again.n == st.n && again.nerrs == st.nerrs &&
	    again.ncounts <= st.ncounts);
	t2 = state_render(&again, &l2);
	/* Error counts are keyed by lineage: two that render alike (bytes
	 * outside ASCII become '?') merge; otherwise the bytes agree. */
	if (again.ncounts == st.ncounts)
		FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0);
	free(t1);
	free(t2);
	state_free(&again);
	state_free(&st);
	return 0;
}
