/* test_render.c - Postfix source/base64 and Dovecot rendering (pure). */
#include <stdlib.h>

#include "dovecot.h"
#include "postfix.h"
#include "unit.h"

static void
b64(const char *in, const char *want)
{
	size_t n;
	char *got = postfix_base64((const unsigned char *)in, strlen(in), &n);

	UNIT_STREQ(got, want, "base64(\"%s\")", in);
	free(got);
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

	text = postfix_value(&pairs[0], &len);
	UNIT_STREQ(text, "S0VZCgpDSEFJTgo=",
	    "value = base64(key \"\\n\" chain), no separator after the last");
	free(text);

	text = postfix_source(&pl, pairs, "/s", &len);
	UNIT_STREQ(text,
	    ".example.com /s/k1.pem /s/c1.pem\n"
	    "mail.example.com /s/k1.pem /s/c1.pem\n"
	    "www.example.com /s/k2.pem /s/c2.pem\n",
	    "postfix source: wildcard as .parent key, sorted");
	free(text);

	text = dovecot_render(&pl, pairs, "/s", DOVECOT_23, &len);
	want = strstr(text, "local_name mail.example.com {\n"
	    "  ssl_cert = </s/c1.pem\n"
	    "  ssl_key = </s/k1.pem\n"
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
	    "  ssl_server_cert_file = /s/c1.pem\n"
	    "  ssl_server_key_file = /s/k1.pem\n"
	    "  ssl_server_alt_cert_file =\n"
	    "  ssl_server_alt_key_file =\n"
	    "}\n");
	UNIT_OK(want != NULL, "2.4 block with plain paths and empty alt lines");
	UNIT_OK(want != NULL && strstr(text, "local_name *.example.com") < want,
	    "2.4: wildcards before exact names (last match wins)");
	UNIT_OK(strstr(text, "<") == NULL, "2.4: no < in file settings");
	free(text);

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
