/*
 * fuzz_cert.c - libFuzzer target for cert_validate().
 *
 * Input: two bytes, big-endian, giving the length of the key file (cut
 * to what is left), then the key file, then the full chain file. Each
 * part is copied into a buffer of its exact size, so a read past either
 * end is an ASan error rather than a read of the neighbour. "now" is
 * fixed (2030-01-01 UTC), so a crash replays the same way any day; the
 * seed certificates are valid from 2000 to 2099.
 *
 * Must never crash or leak. On success every returned name passes
 * name_normalize() unchanged, the names are sorted, now lies within the
 * validity dates, the chain has 1..10 certificates, key type, serial and
 * fingerprint are filled in. On failure: *file names one of the two
 * files, info holds no names, and why is one non-empty line of printable
 * ASCII (cert.h: "a one-line reason"; callers log it as it is).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "fuzz.h"
#include "name.h"

#define FUZZ_NOW	((time_t)1893456000)	/* 2030-01-01 00:00:00 UTC */

static unsigned char *
dup_exact(const uint8_t *p, size_t n)
{
	unsigned char *d = malloc(n);

	FUZZ_CHECK(d != NULL || n == 0);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static int
printable_line(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return i > 0 && i < max;
}

/* show(s, max): s on fd 2, unprintable bytes as \xNN. */
static void
show(const char *s, size_t max)
{
	size_t i;

	dprintf(2, "fuzz: why = \"");
	for (i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '\\' || c == '"')
			dprintf(2, "\\x%02x", c);
		else
			dprintf(2, "%c", c);
	}
	dprintf(2, "\"%s\n", i == max ? " (no NUL)" : "");
}

static int
hexpair(const char *s)
{
	return strchr("0123456789ABCDEF", s[0]) != NULL && s[0] != '\0' &&
	    strchr("0123456789ABCDEF", s[1]) != NULL && s[1] != '\0';
}

static void
check_ok(const struct cert_info *info)
{
	char norm[NAME_MAX_LEN + 1];
	size_t i;

	/* At least one name or address; addresses are never names. */
	FUZZ_CHECK(info->nnames + info->nips >= 1 && info->names != NULL);
	for (i = 0; i < info->nips; i++)
		FUZZ_CHECK(info->ips[i] != NULL && (strchr(info->ips[i], '.') !=
		    NULL || strchr(info->ips[i], ':') != NULL ||
		    strcmp(info->ips[i], "?") == 0));
	for (i = 0; i < info->nnames; i++) {
		const char *n = info->names[i];

		FUZZ_CHECK(name_normalize(n, strlen(n), norm) == NULL);
		FUZZ_CHECK(strcmp(norm, n) == 0);
		if (i > 0)
			FUZZ_CHECK(strcmp(info->names[i - 1], n) <= 0);
	}
	FUZZ_CHECK(info->not_before <= FUZZ_NOW && FUZZ_NOW <= info->not_after);
	FUZZ_CHECK(info->chain_len >= 1 && info->chain_len <= 10);
	FUZZ_CHECK(info->key_type >= 0 && info->key_type < KEY__MAX);
	FUZZ_CHECK(memchr(info->key_desc, '\0', sizeof(info->key_desc)) !=
	    NULL && info->key_desc[0] != '\0');
	FUZZ_CHECK(memchr(info->serial, '\0', sizeof(info->serial)) != NULL &&
	    info->serial[0] != '\0');
	FUZZ_CHECK(strlen(info->fingerprint) == 32 * 3 - 1);
	for (i = 0; i < 32; i++) {
		FUZZ_CHECK(hexpair(info->fingerprint + 3 * i));
		FUZZ_CHECK(info->fingerprint[3 * i + 2] == (i < 31 ? ':' : '\0'));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_info info;
	enum cert_file file = CERT_FILE__MAX;
	unsigned char *key, *chain;
	char why[256];
	size_t keylen;

	if (size < 2)
		return 0;
	keylen = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (keylen > size)
		keylen = size;
	key = dup_exact(data, keylen);
	chain = dup_exact(data + keylen, size - keylen);
	memset(why, 'X', sizeof(why));	/* no NUL: an unset why shows */

	if (cert_validate(key, keylen, chain, size - keylen, FUZZ_NOW, &info,
	    &file, why, sizeof(why)) == 0) {
		check_ok(&info);
	} else {
		FUZZ_CHECK(file == CERT_FILE_KEY || file == CERT_FILE_CHAIN);
		FUZZ_CHECK(info.names == NULL && info.nnames == 0);
		if (!printable_line(why, sizeof(why))) {
			show(why, sizeof(why));
			FUZZ_CHECK(!"why is one line of printable ASCII");
		}
	}
	cert_info_free(&info);
	free(key);
	free(chain);
	return 0;
}
