/*
 * name.c - host name validation (pure; no I/O, no allocation).
 *
 * Only names that pass name_normalize() reach any output: this is what
 * keeps a hostile certificate from injecting text into a Dovecot config
 * or a Postfix map key. Uppercase is folded, not refused.
 */
#include <string.h>

#include "name.h"

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

const char *
name_normalize(const char *in, size_t len, char *out)
{
	size_t i, label = 0, labels = 0, start = 0;
	int wild = 0, alldigits = 1, lastdigits = 1;

	if (len == 0)
		return "empty name";
	if (len > NAME_MAX_LEN)
		return "name longer than 253 bytes";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '\0')
			return "NUL byte in name";
		if (c >= 0x80)
			return "non-ASCII name (use the A-label form)";
		out[i] = (char)c;
	}
	out[len] = '\0';
	if (out[len - 1] == '.')
		return "trailing dot";
	if (out[0] == '*') {
		if (len < 2 || out[1] != '.')
			return "wildcard must be the whole first label";
		wild = 1;
		start = 2;
	}
	for (i = start; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)out[i] : '.';

		if (c == '.') {
			if (label == 0)
				return "empty label";
			if (out[i - 1] == '-' || out[i - label] == '-')
				return "label starts or ends with '-'";
			labels++;
			lastdigits = alldigits;
			label = 0;
			alldigits = 1;
			continue;
		}
		if (c == '*')
			return "wildcard must be the whole first label";
		if (!is_ldh(c))
			return "character not allowed in a host name";
		if (c < '0' || c > '9')
			alldigits = 0;
		if (++label > 63)
			return "label longer than 63 bytes";
	}
	if (lastdigits)
		return "numeric top-level label (an address, not a name)";
	if (wild && labels < 2)
		return "wildcard needs at least two labels after '*.'";
	return NULL;
}

int
name_is_wildcard(const char *name)
{
	return name[0] == '*' && name[1] == '.';
}

void
name_postfix_key(const char *name, char *out)
{
	if (name_is_wildcard(name))
		name++;
	memmove(out, name, strlen(name) + 1);
}

const char *
name_from_user(const char *in, char *out)
{
	size_t len = strlen(in);

	if (len > 1 && in[len - 1] == '.')
		len--;
	return name_normalize(in, len, out);
}
