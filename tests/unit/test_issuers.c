/*
 * test_issuers.c - the built-in set of issuing intermediates (issuers.c)
 * against the certificates Let's Encrypt publishes (copied into
 * tests/data/lets-encrypt-gen-y/ from letsencrypt.org/certificates): each
 * hash is the certificate's, under its own CN, in the right family and
 * role; and the parser of dane.issuers_file refuses bad lines with
 * file:line.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/cert.h"
#include "../../agent/issuers.h"
#include "unit.h"

static const struct {
	const char	*file, *cn, *family;
	int		 backup;
} want[] = {
	{ "int-ye1.pem", "YE1", "lets-encrypt-gen-y-ecdsa", 0 },
	{ "int-ye2.pem", "YE2", "lets-encrypt-gen-y-ecdsa", 0 },
	{ "int-ye3.pem", "YE3", "lets-encrypt-gen-y-ecdsa", 1 },
	{ "int-yr1.pem", "YR1", "lets-encrypt-gen-y-rsa", 0 },
	{ "int-yr2.pem", "YR2", "lets-encrypt-gen-y-rsa", 0 },
	{ "int-yr3.pem", "YR3", "lets-encrypt-gen-y-rsa", 1 },
};

/* The repository's top, from argv[0] (TOP/build/KIND/tests/test_x). */
static void
top_of(const char *argv0, char *top, size_t sz)
{
	char *p;

	if (realpath(argv0, top) == NULL || (p = strstr(top, "/build/")) ==
	    NULL)
		snprintf(top, sz, ".");
	else
		*p = '\0';
}

int
main(int argc, char **argv)
{
	char top[PATH_MAX], path[PATH_MAX + 64], spki[65], cn[128], why[256];
	struct issuers set;
	unsigned char buf[8192];
	size_t i, n;
	int self;
	FILE *f;

	(void)argc;
	top_of(argv[0], top, sizeof(top));
	UNIT_OK(issuers_load(NULL, &set, why, sizeof(why)) == 0,
	    "the built-in set parses (%s)", why);
	UNIT_OK(set.n == 6, "six Gen Y intermediates built in (got %zu)",
	    set.n);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct issuer *e;

		snprintf(path, sizeof(path), "%s/tests/data/lets-encrypt-gen-y/%s",
		    top, want[i].file);
		if ((f = fopen(path, "r")) == NULL) {
			UNIT_OK(0, "%s readable", path);
			continue;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		UNIT_OK(cert_spki_sha256(buf, n, 0, spki) == 0 &&
		    cert_ca_describe(buf, n, 0, cn, sizeof(cn), &self) == 0,
		    "%s: a certificate", want[i].file);
		UNIT_STREQ(cn, want[i].cn, "%s: its CN", want[i].file);
		UNIT_OK(!self, "%s: not self-signed (an intermediate)",
		    want[i].file);
		e = issuers_find(&set, spki);
		UNIT_OK(e != NULL, "%s: its SPKI hash is built in",
		    want[i].file);
		if (e == NULL)
			continue;
		UNIT_STREQ(e->name, want[i].cn, "%s: under its own name",
		    want[i].file);
		UNIT_STREQ(e->family, want[i].family, "%s: in its family",
		    want[i].file);
		UNIT_OK(e->backup == want[i].backup, "%s: %s", want[i].file,
		    want[i].backup ? "a backup" : "active");
	}
	issuers_free(&set);

	memset(&set, 0, sizeof(set));
	UNIT_OK(issuers_parse("# a comment\n\nfam-a Y1 active "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    " # trailing\nfam-a Y2 backup "
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "f", &set, why, sizeof(why)) == 0 && set.n == 2,
	    "comments, blank lines, no final newline, any case (%s)", why);
	UNIT_OK(set.n == 2 && issuers_find(&set, "aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") != NULL,
	    "hashes found in any case");
	issuers_free(&set);
	UNIT_OK(issuers_parse("fam Y1 active abc\n", "f", &set, why,
	    sizeof(why)) == -1 && strcmp(why, "f:1: the SPKI SHA-256 must be "
	    "64 hex digits") == 0, "a short hash refused: %s", why);
	issuers_free(&set);
	UNIT_OK(issuers_parse("\nfam Y1 current "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "f", &set, why, sizeof(why)) == -1 && strstr(why, "f:2: ") == why,
	    "a bad role refused at its line: %s", why);
	issuers_free(&set);
	UNIT_OK(issuers_parse("fam Y1 active\n", "f", &set, why,
	    sizeof(why)) == -1 && strstr(why, "want \"FAMILY NAME") != NULL,
	    "a short line refused: %s", why);
	issuers_free(&set);
	UNIT_OK(issuers_parse("f\"am Y1 active "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "f", &set, why, sizeof(why)) == -1, "a quote in a family refused");
	issuers_free(&set);
	return unit_status();
}
