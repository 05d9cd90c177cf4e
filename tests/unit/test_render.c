/* test_render.c - Postfix source/base64 and Dovecot rendering (pure). */
#include <stdlib.h>

#include "dovecot.h"
#include "postfix.h"
#include "unit.h"
#include "util.h"

static void
b64(const char *in, const char *want)
{
	size_t n;
	char *got = postfix_base64((const unsigned char *)in, strlen(in), &n);

	UNIT_STREQ(got, want, "base64(\"%s\")", in);
	free(got);
}

/* An RSA lineage beside pairs[0] for mail.example.com: both groups. */
static void
dual(struct pair *pairs)
{
	char *n3[] = { "mail.example.com" };
	struct pair d[3] = { pairs[0], pairs[1] };
	struct plan pl;
	char *text;
	size_t len;

	strcpy(d[0].key_desc, "ECDSA P-256");
	memset(&d[2], 0, sizeof(d[2]));
	d[2].lineage = "example.com-rsa";
	d[2].names = n3;
	d[2].nnames = 1;
	strcpy(d[2].key_desc, "RSA 2048");
	strcpy(d[2].key_id, "k3");
	strcpy(d[2].chain_id, "c3");
	d[2].key = (unsigned char *)"RKEY\n";
	d[2].keylen = 5;
	d[2].chain = (unsigned char *)"RCHAIN\n";
	d[2].chainlen = 7;
	plan_build(d, 3, &pl);

	text = postfix_value(&d[0], &d[2], &len);
	/* base64("KEY\n\nCHAIN\n\nRKEY\n\nRCHAIN\n") */
	UNIT_STREQ(text, "S0VZCgpDSEFJTgoKUktFWQoKUkNIQUlOCg==",
	    "dual value = base64(key \"\\n\" chain \"\\n\" altkey "
	    "\"\\n\" altchain)");
	free(text);

	text = postfix_source(&pl, d, "/s", &len);
	UNIT_STREQ(text,
	    ".example.com /s/example.com.pem\n"
	    "mail.example.com /s/example.com.pem /s/example.com-rsa.pem\n"
	    "www.example.com /s/www.pem\n",
	    "postfix source: a dual name's line names both lineages' files");
	free(text);

	text = dovecot_render(&pl, d, "/s", DOVECOT_23, &len);
	UNIT_OK(strstr(text, "local_name mail.example.com {\n"
	    "  ssl_cert = </s/example.com.pem\n"
	    "  ssl_key = </s/example.com.pem\n"
	    "  ssl_alt_cert = </s/example.com-rsa.pem\n"
	    "  ssl_alt_key = </s/example.com-rsa.pem\n"
	    "}\n") != NULL, "2.3 dual block: the RSA pair as the alt pair");
	UNIT_OK(strstr(text, "local_name *.example.com {\n"
	    "  ssl_cert = </s/example.com.pem\n"
	    "  ssl_key = </s/example.com.pem\n"
	    "  ssl_alt_cert =\n"
	    "  ssl_alt_key =\n"
	    "}\n") != NULL, "2.3: other blocks keep empty alt lines");
	free(text);

	text = dovecot_render(&pl, d, "/s", DOVECOT_24, &len);
	UNIT_OK(strstr(text, "local_name mail.example.com {\n"
	    "  ssl_server_cert_file = /s/example.com.pem\n"
	    "  ssl_server_key_file = /s/example.com.pem\n"
	    "  ssl_server_alt_cert_file = /s/example.com-rsa.pem\n"
	    "  ssl_server_alt_key_file = /s/example.com-rsa.pem\n"
	    "}\n") != NULL, "2.4 dual block: alt files, plain paths");
	UNIT_OK(strstr(text, "local_name www.example.com {\n"
	    "  ssl_server_cert_file = /s/www.pem\n"
	    "  ssl_server_key_file = /s/www.pem\n"
	    "  ssl_server_alt_cert_file =\n"
	    "  ssl_server_alt_key_file =\n"
	    "}\n") != NULL, "2.4: other blocks keep empty alt lines");
	free(text);
	plan_free(&pl);
}

/*
 * Packing: 2.3 writes one block per set of names with the same pair(s),
 * exact names and wildcards apart; 2.4 one block per name.
 */
static void
packed(void)
{
	char *na[] = { "*.a.test", "a.test", "imap.a.test", "mail.a.test" };
	char *nb[] = { "mail.b.test", "x.a.test" };
	struct pair p[2];
	struct plan pl;
	char *text;
	size_t len;

	memset(p, 0, sizeof(p));
	p[0].lineage = "a.test";
	p[0].names = na;
	p[0].nnames = 4;
	strcpy(p[0].key_id, "ka");
	strcpy(p[0].chain_id, "ca");
	p[1].lineage = "b.test";
	p[1].names = nb;
	p[1].nnames = 2;
	strcpy(p[1].key_id, "kb");
	strcpy(p[1].chain_id, "cb");
	plan_build(p, 2, &pl);

	text = dovecot_render(&pl, p, "/s", DOVECOT_23, &len);
	UNIT_STREQ(strchr(strchr(text, '\n') + 1, '\n') + 1,
	    "local_name \"a.test imap.a.test mail.a.test\" {\n"
	    "  ssl_cert = </s/a.test.pem\n  ssl_key = </s/a.test.pem\n"
	    "  ssl_alt_cert =\n  ssl_alt_key =\n}\n"
	    "local_name \"mail.b.test x.a.test\" {\n"
	    "  ssl_cert = </s/b.test.pem\n  ssl_key = </s/b.test.pem\n"
	    "  ssl_alt_cert =\n  ssl_alt_key =\n}\n"
	    "local_name *.a.test {\n"
	    "  ssl_cert = </s/a.test.pem\n  ssl_key = </s/a.test.pem\n"
	    "  ssl_alt_cert =\n  ssl_alt_key =\n}\n",
	    "2.3: one quoted block per pair's exact names, then the wildcard "
	    "(x.a.test before *.a.test)");
	UNIT_INTEQ(dovecot_blocks(text, len), 3, "2.3: 3 blocks for 6 names");
	{
		struct pair r[2] = { p[1], p[0] };
		struct plan rp;
		char *again;
		size_t rlen;

		plan_build(r, 2, &rp);
		again = dovecot_render(&rp, r, "/s", DOVECOT_23, &rlen);
		UNIT_STREQ(again, text, "2.3: the text does not depend on the "
		    "order of the pairs");
		free(again);
		plan_free(&rp);
	}

	UNIT_INTEQ(dovecot_lacking(text, len, &pl), 0,
	    "2.3: an include lacks none of the names it was rendered from");
	{
		/* an include without b.test's block: 2 names lack */
		char *cut = strstr(text, "local_name \"mail.b.test");
		char *end = strstr(cut, "}\n") + 2;
		char *held = xasprintf("%.*s%s", (int)(cut - text), text, end);

		UNIT_INTEQ(dovecot_lacking(held, strlen(held), &pl), 2,
		    "2.3: a block missing: its names lack");
		free(held);
	}
	UNIT_INTEQ(dovecot_lacking(NULL, 0, &pl), 6,
	    "no include: every name lacks");
	free(text);
	{
		/* refs: the served files an include names */
		char **refs;
		struct pair q = p[0];
		struct plan ql;
		size_t n, i;

		q.lineage = "a.test";
		plan_build(&q, 1, &ql);
		text = dovecot_render(&ql, &q, "/st/served", DOVECOT_23, &len);
		refs = dovecot_refs(text, len, "/st/served", &n);
		UNIT_INTEQ(n, 4, "refs: cert and key of the exact block and "
		    "of the wildcard block");
		UNIT_OK(n == 4 && strcmp(refs[0], "a.test.pem") == 0 &&
		    strcmp(refs[1], "a.test.pem") == 0, "refs: file names, in "
		    "order");
		for (i = 0; i < n; i++)
			free(refs[i]);
		free(refs);
		refs = dovecot_refs(text, len, "/st", &n);
		UNIT_OK(n == 0 && refs == NULL, "refs: not right under that "
		    "directory: none");
		refs = dovecot_refs(text, len, "/other", &n);
		UNIT_OK(n == 0 && refs == NULL, "refs: another store: none");
		free(text);
		plan_free(&ql);
		{
			const char *t24 = "  ssl_server_cert_file = /st/store/"
			    "0123.pem\n  ssl_server_key_file = /st/store/"
			    "4567.pem\n";

			refs = dovecot_refs(t24, strlen(t24), "/st/store", &n);
			UNIT_OK(n == 2 && strcmp(refs[0], "0123.pem") == 0 &&
			    strcmp(refs[1], "4567.pem") == 0, "refs: 2.4 "
			    "plain paths (the legacy store's names)");
			for (i = 0; i < n; i++)
				free(refs[i]);
			free(refs);
		}
	}

	text = dovecot_render(&pl, p, "/s", DOVECOT_24, &len);
	UNIT_INTEQ(dovecot_lacking(text, len, &pl), 0,
	    "2.4: an include lacks none of its names");
	UNIT_INTEQ(dovecot_blocks(text, len), 6, "2.4: one block per name");
	UNIT_OK(strchr(text, '"') == NULL, "2.4: no quoted name lists");
	UNIT_OK(strstr(text, "local_name *.a.test {") <
	    strstr(text, "local_name x.a.test {"),
	    "2.4: the wildcard before the exact name it covers");
	free(text);
	plan_free(&pl);
}

/*
 * The memory guard's calibration, on what the real Dovecot measured
 * (docs/performance.md, "The memory guard"): doveconf -xn's peak RSS for
 * N blocks, and whether the config service held them under its limit.
 */
static void
guard_calibration(void)
{
	static const struct {
		enum dovecot_syntax syn;
		int blocks, rss_mb, limit_mb, held;
	} t[] = {
		/* 2.4 under the default 256 MB: served up to 12,000 blocks
		 * (11,000 and 12,000 are held back: a margin), died at
		 * 13,000. */
		{ DOVECOT_24, 10000, 228, 256, 1 },
		{ DOVECOT_24, 11000, 249, 256, 0 },
		{ DOVECOT_24, 13000, 293, 256, 0 },
		{ DOVECOT_24, 17000, 379, 256, 0 },
		{ DOVECOT_24, 2000, 56, 256, 1 },
		/* Under 80 MB: 200 blocks served, 2,000 took it down. */
		{ DOVECOT_24, 200, 17, 80, 1 },
		{ DOVECOT_24, 2000, 56, 80, 0 },
		/* 2.3: the check's own room decides; the need stays below. */
		{ DOVECOT_23, 1000, 138, 256, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long need = dovecot_need(t[i].syn,
		    (long long)t[i].rss_mb << 20);

		UNIT_INTEQ(need <= (long long)t[i].limit_mb << 20, t[i].held,
		    "%s, %d blocks (doveconf %d MB): need %lld MB %s %d MB",
		    t[i].syn == DOVECOT_23 ? "2.3" : "2.4", t[i].blocks,
		    t[i].rss_mb, need >> 20, t[i].held ? "fits" : "exceeds",
		    t[i].limit_mb);
	}
	UNIT_INTEQ(dovecot_check_limit(DOVECOT_23, 256LL << 20),
	    (256LL << 20) / 100 * 90, "2.3: the check runs under 90 %% of the limit");
	UNIT_INTEQ(dovecot_check_limit(DOVECOT_24, 256LL << 20), 1024LL << 20,
	    "2.4: the check runs under 4 times the limit");
	UNIT_INTEQ(dovecot_check_limit(DOVECOT_24, 0), 0,
	    "no limit: the check runs unbounded");
}

int
main(void)
{
	char *n1[] = { "*.example.com", "mail.example.com" };
	char *n2[] = { "www.example.com" };
	struct pair pairs[2];
	struct plan pl;
	char *text, *want;
	size_t len;

	b64("", "");
	b64("f", "Zg==");
	b64("fo", "Zm8=");
	b64("foo", "Zm9v");
	b64("foob", "Zm9vYg==");
	b64("-----BEGIN", "LS0tLS1CRUdJTg==");

	memset(pairs, 0, sizeof(pairs));
	pairs[0].lineage = "example.com";
	pairs[0].names = n1;
	pairs[0].nnames = 2;
	strcpy(pairs[0].key_id, "k1");
	strcpy(pairs[0].chain_id, "c1");
	pairs[0].key = (unsigned char *)"KEY\n";
	pairs[0].keylen = 4;
	pairs[0].chain = (unsigned char *)"CHAIN\n";
	pairs[0].chainlen = 6;
	pairs[1].lineage = "www";
	pairs[1].names = n2;
	pairs[1].nnames = 1;
	strcpy(pairs[1].key_id, "k2");
	strcpy(pairs[1].chain_id, "c2");
	plan_build(pairs, 2, &pl);

	text = postfix_value(&pairs[0], NULL, &len);
	UNIT_STREQ(text, "S0VZCgpDSEFJTgo=",
	    "value = base64(key \"\\n\" chain), no separator after the last");
	free(text);

	text = postfix_source(&pl, pairs, "/s", &len);
	UNIT_STREQ(text,
	    ".example.com /s/example.com.pem\n"
	    "mail.example.com /s/example.com.pem\n"
	    "www.example.com /s/www.pem\n",
	    "postfix source: wildcard as .parent key, sorted");
	free(text);

	text = dovecot_render(&pl, pairs, "/s", DOVECOT_23, &len);
	want = strstr(text, "local_name mail.example.com {\n"
	    "  ssl_cert = </s/example.com.pem\n"
	    "  ssl_key = </s/example.com.pem\n"
	    "  ssl_alt_cert =\n"
	    "  ssl_alt_key =\n"
	    "}\n");
	UNIT_OK(want != NULL, "2.3 block with < paths and empty alt lines");
	UNIT_OK(want != NULL && strstr(text, "local_name *.example.com") > want,
	    "2.3: exact names before wildcards (first match wins)");
	UNIT_OK(strstr(text, "ssl_server") == NULL, "2.3: no 2.4 setting names");
	free(text);

	text = dovecot_render(&pl, pairs, "/s", DOVECOT_24, &len);
	want = strstr(text, "local_name mail.example.com {\n"
	    "  ssl_server_cert_file = /s/example.com.pem\n"
	    "  ssl_server_key_file = /s/example.com.pem\n"
	    "  ssl_server_alt_cert_file =\n"
	    "  ssl_server_alt_key_file =\n"
	    "}\n");
	UNIT_OK(want != NULL, "2.4 block with plain paths and empty alt lines");
	UNIT_OK(want != NULL && strstr(text, "local_name *.example.com") < want,
	    "2.4: wildcards before exact names (last match wins)");
	UNIT_OK(strstr(text, "<") == NULL, "2.4: no < in file settings");
	free(text);

	plan_free(&pl);
	packed();
	dual(pairs);
	plan_build(pairs, 2, &pl);

	UNIT_INTEQ(dovecot_parse_size("256 M"), 256LL << 20, "size 256 M");
	UNIT_INTEQ(dovecot_parse_size("1G\n"), 1LL << 30, "size 1G");
	UNIT_INTEQ(dovecot_parse_size("18446744073709551615 B"), 0,
	    "size: the 'default' maximum is no limit of its own");
	UNIT_INTEQ(dovecot_parse_size("0"), 0, "size 0: unlimited");
	UNIT_INTEQ(dovecot_parse_size("12 X"), 0, "size: unknown unit");
	guard_calibration();
	UNIT_INTEQ(dovecot_parse_version("2.3.19.1 (9b53102964)"), DOVECOT_23,
	    "version 2.3");
	UNIT_INTEQ(dovecot_parse_version("2.4.1-4 (7d8c0e5759)"), DOVECOT_24,
	    "version 2.4");
	UNIT_INTEQ(dovecot_parse_version("2.2.36"), DOVECOT_AUTO,
	    "version 2.2 unsupported");
	UNIT_INTEQ(dovecot_parse_version("garbage"), DOVECOT_AUTO,
	    "unparsable version");
	plan_free(&pl);
	return unit_status();
}
