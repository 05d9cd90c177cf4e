/*
 * fuzz_name.c - libFuzzer target for name_normalize().
 *
 * Input: any bytes, taken as one candidate host name. Checked, with a
 * reading of name.h written here independently of name.c:
 *   - an accepted name comes out as the input with A-Z folded, and is
 *     lowercase LDH plus an optional leading "*.", 1..253 bytes, no empty
 *     label, no label over 63 bytes or starting/ending with '-';
 *   - normalising the output again accepts it and gives the same bytes;
 *   - name_is_wildcard() and name_postfix_key() agree with the output;
 *   - a name that meets the contract is never refused (name.c reads "not
 *     an IPv4 address" strictly: an all-digit last label is refused).
 * Any violation traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "name.h"

static int
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* 1 when the len bytes at s, case folded, are a name name.h accepts. */
static int
spec_ok(const unsigned char *s, size_t len)
{
	size_t i = 0, start, labels = 0;
	int wild = 0, digits = 1;

	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		wild = 1;
		i = 2;
	}
	for (;;) {
		start = i;
		digits = 1;
		for (; i < len && s[i] != '.'; i++) {
			if (!ldh(lower(s[i])))
				return 0;
			if (s[i] < '0' || s[i] > '9')
				digits = 0;
		}
		if (i == start || i - start > 63)
			return 0;
		if (s[start] == '-' || s[i - 1] == '-')
			return 0;
		labels++;
		if (i == len)
			break;
		i++;			/* the dot; a trailing one makes an
					   empty label above */
	}
	if (digits)
		return 0;
	if (wild && labels < 2)
		return 0;
	return 1;
}

/* The shape every accepted output must have. */
static void
check_output(const char *out)
{
	size_t len = strlen(out), i = 0, label = 0;

	FUZZ_CHECK(len >= 1 && len <= NAME_MAX_LEN);
	if (out[0] == '*') {
		FUZZ_CHECK(out[1] == '.');
		i = 2;
	}
	FUZZ_CHECK(i < len);
	for (; i <= len; i++) {
		char c = i < len ? out[i] : '.';

		if (c == '.') {
			FUZZ_CHECK(label >= 1 && label <= 63);
			FUZZ_CHECK(out[i - label] != '-' && out[i - 1] != '-');
			label = 0;
			continue;
		}
		FUZZ_CHECK(ldh(c));	/* lowercase, no '*' past the first */
		label++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NAME_MAX_LEN + 1], again[NAME_MAX_LEN + 1];
	char key[NAME_MAX_LEN + 1];
	const char *why;
	size_t i;

	why = name_normalize((const char *)data, size, out);
	FUZZ_CHECK((why == NULL) == spec_ok(data, size));
	if (why != NULL) {
		FUZZ_CHECK(why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(strlen(out) == size);
	for (i = 0; i < size; i++)
		FUZZ_CHECK(out[i] == lower(data[i]));
	check_output(out);

	FUZZ_CHECK(name_normalize(out, size, again) == NULL);
	FUZZ_CHECK(strcmp(again, out) == 0);

	FUZZ_CHECK(name_is_wildcard(out) == (out[0] == '*'));
	name_postfix_key(out, key);
	FUZZ_CHECK(strcmp(key, out[0] == '*' ? out + 1 : out) == 0);
	return 0;
}
