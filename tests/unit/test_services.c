/* test_services.c - Dovecot's answers from one doveconf run: the config
 * service's limit, log_path and the default certificate settings, as
 * doveconf 2.3.19 and 2.4.1 print them for the query services.c runs
 * (`doveconf default_vsz_limit service/config/vsz_limit log_path` and
 * the version's default certificate names). */
#include <stdlib.h>

#include "defaults.h"
#include "services.h"
#include "unit.h"

static void
uses(const struct defaults *d, char *out, size_t sz)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < d->n; i++)
		snprintf(out + strlen(out), sz - strlen(out), "%s%s=%s",
		    i ? " " : "", d->v[i].param, d->v[i].lineage);
}

static const struct {
	const char		*what;
	enum dovecot_syntax	 syntax;
	const char		*le;
	const char		*text;
	long long		 limit;
	const char		*log;
	const char		*uses;
} cases[] = {
	{ "2.3: the service's own limit, log_path, cert and key",
	    DOVECOT_23, "/etc/letsencrypt",
	    "default_vsz_limit = 256 M\n"
	    "service/config/vsz_limit = 1 G\n"
	    "log_path = /var/log/dovecot-x.log\n"
	    "ssl_cert = </etc/letsencrypt/live/mx.example.test/fullchain.pem\n"
	    "ssl_key = </etc/letsencrypt/live/mx.example.test/privkey.pem\n"
	    "ssl_alt_cert = \n"
	    "ssl_alt_key = \n",
	    1LL << 30, "/var/log/dovecot-x.log",
	    "ssl_cert=mx.example.test ssl_key=mx.example.test" },
	{ "2.3: the service's limit unset (printed as its maximum): the "
	    "default's", DOVECOT_23, "/etc/letsencrypt",
	    "default_vsz_limit = 256 M\n"
	    "service/config/vsz_limit = 18446744073709551615 B\n"
	    "log_path = syslog\n"
	    "ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem\n"
	    "ssl_key = </etc/ssl/private/ssl-cert-snakeoil.key\n",
	    256LL << 20, "syslog", "" },
	{ "2.4: the limit in a service block, nested ssl_server answers",
	    DOVECOT_24, "/etc/letsencrypt",
	    "default_vsz_limit = 256 M\n"
	    "service config {\n"
	    "  vsz_limit = 1G\n"
	    "}\n"
	    "log_path = /var/log/dovecot-x.log\n"
	    "ssl_server {\n"
	    "  cert_file = /etc/letsencrypt/live/192.0.2.11/fullchain.pem\n"
	    "}\n"
	    "ssl_server {\n"
	    "  key_file = /etc/letsencrypt/live/192.0.2.11/privkey.pem\n"
	    "}\n",
	    1LL << 30, "/var/log/dovecot-x.log",
	    "ssl_server_cert_file=192.0.2.11 ssl_server_key_file=192.0.2.11" },
	{ "2.4: no service block (its default), no log_path line",
	    DOVECOT_24, "/etc/letsencrypt",
	    "default_vsz_limit = 1G\n"
	    "ssl_server {\n"
	    "  cert_file = /etc/letsencrypt/live/n/fullchain.pem\n"
	    "}\n",
	    1LL << 30, "", "ssl_server_cert_file=n" },
	{ "2.4 names read with 2.3's: nothing taken for a default "
	    "certificate", DOVECOT_23, "/etc/letsencrypt",
	    "default_vsz_limit = 256 M\n"
	    "ssl_server {\n"
	    "  cert_file = /etc/letsencrypt/live/n/fullchain.pem\n"
	    "}\n",
	    256LL << 20, "", "" },
	{ "no live/ known: the limit alone", DOVECOT_23, NULL,
	    "default_vsz_limit = 64 M\n"
	    "ssl_cert = </etc/letsencrypt/live/mx/fullchain.pem\n",
	    64LL << 20, "", "" },
};

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct defaults d;
		long long limit = -1;
		char log[256] = "junk", got[512];

		services_parse_dovecot(cases[i].text, cases[i].syntax,
		    cases[i].le, &limit, log, sizeof(log), &d);
		UNIT_OK(limit == cases[i].limit, "%s: limit %lld, want %lld",
		    cases[i].what, limit, cases[i].limit);
		UNIT_STREQ(log, cases[i].log, "%s: log_path", cases[i].what);
		uses(&d, got, sizeof(got));
		UNIT_STREQ(got, cases[i].uses, "%s: default certificates",
		    cases[i].what);
		defaults_free(&d);
	}
	return unit_status();
}
