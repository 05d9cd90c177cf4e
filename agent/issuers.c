/*
 * issuers.c - the issuing intermediates a CA picks from (issuers.h): the
 * built-in set, its parser and lookups.
 *
 * To update the built-in set: one line per intermediate, as issuers.h
 * says; the hash is
 *	openssl x509 -in INT.pem -noout -pubkey |
 *	    openssl pkey -pubin -outform DER | sha256sum
 * tests/data/lets-encrypt-gen-y/ holds the certificates these lines were
 * computed from, and tests/integration/tlsa.sh checks each line against
 * them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsio.h"
#include "issuers.h"
#include "util.h"

/*
 * Let's Encrypt, Gen Y (letsencrypt.org/certificates, read 2026-12-05):
 * YE1 YE2 and YR1 YR2 issue, one picked at random per issuance; YE3 and
 * YR3 are backups that "may begin issuing at any time, without warning".
 * ECDSA keys are issued by YE, RSA keys by YR. Gen X (E5-E9, R10-R14)
 * retired in July 2026.
 */
const char issuers_builtin_date[] = "2026-12-05";
const char issuers_builtin[] =
"# family                      name active|backup spki-sha256\n"
"lets-encrypt-gen-y-ecdsa      YE1  active "
    "6ebcefb4210b088654a38b03fea3d7d1c711b4fb1ddc363a45f9b1a4e53da01e\n"
"lets-encrypt-gen-y-ecdsa      YE2  active "
    "b3fb5d00e994cddf2cc9a4eea9f806bc5727e83cc0e4299bf956f2d524fe5376\n"
"lets-encrypt-gen-y-ecdsa      YE3  backup "
    "a698a20824be04e47a1a33c4fa488731be92011f23a31e900e2ca26c9c2acfce\n"
"lets-encrypt-gen-y-rsa        YR1  active "
    "2e8307068b6db620e4a39d068b5dee5d6ef5788cbb2c0b6d23ead84fcc17178c\n"
"lets-encrypt-gen-y-rsa        YR2  active "
    "9d637b3d27a9e570d07607b9ccadb80a70915c7af72afce12841b1b1da825fd1\n"
"lets-encrypt-gen-y-rsa        YR3  backup "
    "51aaa87d984b559ac69e929f888a022d832e089ff4dba0a412b5101bca4bc799\n";

static int
token_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	return 1;
}

int
issuers_parse(const char *text, const char *origin, struct issuers *set,
    char *why, size_t whysz)
{
	const char *p = text, *nl;
	char line[512], fam[128], name[128], role[16], spki[128], extra[2];
	int ln = 0;
	size_t i;

	for (; *p != '\0'; p = nl + 1) {
		struct issuer *e;
		char *hash;

		ln++;
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p) - 1;
		if ((size_t)(nl - p) >= sizeof(line)) {
			snprintf(why, whysz, "%s:%d: line too long", origin, ln);
			return -1;
		}
		memcpy(line, p, (size_t)(nl - p + 1));
		line[nl - p + 1] = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if (sscanf(line, "%127s", fam) != 1)
			continue;
		if (sscanf(line, "%127s %127s %15s %127s %1s", fam, name, role,
		    spki, extra) != 4) {
			snprintf(why, whysz, "%s:%d: want \"FAMILY NAME "
			    "active|backup SPKI-SHA256\"", origin, ln);
			return -1;
		}
		if (strlen(fam) >= sizeof(e->family) || !token_ok(fam) ||
		    strlen(name) >= sizeof(e->name) || !token_ok(name)) {
			snprintf(why, whysz, "%s:%d: family and name: 1 to 63 "
			    "of A-Z a-z 0-9 . _ -", origin, ln);
			return -1;
		}
		if (strcmp(role, "active") != 0 && strcmp(role, "backup") != 0) {
			snprintf(why, whysz, "%s:%d: \"%s\": want active or "
			    "backup", origin, ln, role);
			return -1;
		}
		if (strlen(spki) != 64 || spki[strspn(spki,
		    "0123456789abcdefABCDEF")] != '\0') {
			snprintf(why, whysz, "%s:%d: the SPKI SHA-256 must be 64 "
			    "hex digits", origin, ln);
			return -1;
		}
		for (i = 0; i < 64; i++)
			spki[i] = (char)tolower((unsigned char)spki[i]);
		if (issuers_find(set, spki) != NULL)
			continue;	/* the built-in set already has it */
		set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
		e = &set->v[set->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->family, fam, strlen(fam) + 1);
		memcpy(e->name, name, strlen(name) + 1);
		e->backup = strcmp(role, "backup") == 0;
		memcpy(e->spki, spki, 65);
	}
	return 0;
}

int
issuers_load(const char *file, struct issuers *set, char *why, size_t whysz)
{
	unsigned char *buf = NULL;
	struct fsio_id id;
	char err[256];
	size_t len = 0;
	int rc;

	memset(set, 0, sizeof(*set));
	if (issuers_parse(issuers_builtin, "built-in", set, why, whysz) == -1)
		return -1;
	if (file == NULL)
		return 0;
	if (fsio_read(file, 1 << 20, &buf, &len, &id, err, sizeof(err)) == -1) {
		snprintf(why, whysz, "%s: %s", file, err);
		issuers_free(set);
		return -1;
	}
	if (strlen((char *)buf) != len) {
		snprintf(why, whysz, "%s: NUL byte in the file", file);
		rc = -1;
	} else
		rc = issuers_parse((char *)buf, file, set, why, whysz);
	free(buf);
	if (rc == -1)
		issuers_free(set);
	return rc;
}

const struct issuer *
issuers_find(const struct issuers *set, const char *spki)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcasecmp(set->v[i].spki, spki) == 0)
			return &set->v[i];
	return NULL;
}

void
issuers_free(struct issuers *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}
