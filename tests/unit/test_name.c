/* test_name.c - table-driven tests of name_normalize() and friends. */
#include "name.h"
#include "unit.h"

static const struct {
	const char	*in;
	const char	*want;		/* normalised, or NULL when refused */
} cases[] = {
	{ "mail.example.com", "mail.example.com" },
	{ "MAIL.Example.COM", "mail.example.com" },
	{ "*.example.com", "*.example.com" },
	{ "*.Example.Com", "*.example.com" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
	{ "a-b.c-d.example", "a-b.c-d.example" },
	{ "localhost", "localhost" },
	{ "3com.example", "3com.example" },
	{ "", NULL },
	{ ".", NULL },
	{ "example.com.", NULL },
	{ "a..b.example", NULL },
	{ ".example.com", NULL },
	{ "-a.example.com", NULL },
	{ "a-.example.com", NULL },
	{ "under_score.example", NULL },
	{ "sp ace.example", NULL },
	{ "br}ace.example", NULL },
	{ "quo\"te.example", NULL },
	{ "semi;colon.example", NULL },
	{ "new\nline.example", NULL },
	{ "b\xc3\xbc" "cher.example", NULL },
	{ "*.*.example.com", NULL },
	{ "a.*.example.com", NULL },
	{ "*a.example.com", NULL },
	{ "*", NULL },
	{ "*.com", NULL },
	{ "192.0.2.1", NULL },
	{ "1.2.3.4.5", NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.ex",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.ex" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.ex",
	    NULL },
};

int
main(void)
{
	char out[NAME_MAX_LEN + 1], big[300], key[NAME_MAX_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = name_normalize(cases[i].in,
		    strlen(cases[i].in), out);

		UNIT_STREQ(why == NULL ? out : NULL, cases[i].want,
		    "name_normalize case %zu", i);
	}
	/* 253 bytes is the limit; 254 is refused. */
	memset(big, 'a', sizeof(big));
	for (i = 63; i < 253; i += 64)
		big[i] = '.';
	UNIT_OK(name_normalize(big, 253, out) == NULL, "253-byte name accepted");
	big[253] = 'a';
	UNIT_OK(name_normalize(big, 254, out) != NULL, "254-byte name refused");
	/* An embedded NUL is refused, not truncated. */
	UNIT_OK(name_normalize("a.example\0.evil", 15, out) != NULL,
	    "embedded NUL refused");
	name_postfix_key("*.example.com", key);
	UNIT_STREQ(key, ".example.com", "wildcard postfix key");
	name_postfix_key("mail.example.com", key);
	UNIT_STREQ(key, "mail.example.com", "exact postfix key");
	UNIT_INTEQ(name_is_wildcard("*.x.y"), 1, "is wildcard");
	UNIT_INTEQ(name_is_wildcard("x.y"), 0, "not wildcard");
	return unit_status();
}
