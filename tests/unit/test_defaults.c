/* test_defaults.c - which lineages a service's default certificate
 * settings read (postconf -h / -P and doveconf output, parsed). */
#include <stdlib.h>

#include "defaults.h"
#include "unit.h"

static const struct {
	const char	*path;
	const char	*want;		/* lineage, or NULL */
} paths[] = {
	{ "/etc/letsencrypt/live/mx/fullchain.pem", "mx" },
	{ "/etc/letsencrypt/live/mx.example.com-0001/privkey.pem",
	    "mx.example.com-0001" },
	{ "/etc/letsencrypt/archive/mx/fullchain3.pem", NULL },
	{ "/etc/letsencrypt/live/mx", NULL },
	{ "/etc/letsencrypt/live/mx/", NULL },
	{ "/etc/letsencrypt/live//fullchain.pem", NULL },
	{ "/etc/letsencrypt/live/mx/sub/fullchain.pem", NULL },
	{ "/etc/letsencrypt/live/../x/fullchain.pem", NULL },
	{ "/etc/letsencrypt/live/README", NULL },
	{ "/etc/letsencryptx/live/mx/fullchain.pem", NULL },
	{ "/etc/ssl/certs/ssl-cert-snakeoil.pem", NULL },
	{ "live/mx/fullchain.pem", NULL },
};

static void
check(const char *what, const struct defaults *d, const char *const *want)
{
	size_t i, n = 0;
	char got[1024] = "", exp[1024] = "";

	for (i = 0; i < d->n; i++) {
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s=%s",
		    i ? " " : "", d->v[i].param, d->v[i].lineage);
	}
	for (; want[n] != NULL; n++)
		snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%s%s",
		    n ? " " : "", want[n]);
	UNIT_STREQ(got, exp, "%s", what);
}

int
main(void)
{
	static const char *const pf[] = { "smtpd_tls_chain_files",
	    "smtpd_tls_cert_file", "smtpd_tls_key_file", NULL };
	static const char *const dc[] = { "ssl_cert", "ssl_key",
	    "ssl_alt_cert", "ssl_alt_key", NULL };
	static const char *const dc24[] = { "cert_file", "key_file", NULL };
	const char *le = "/etc/letsencrypt";
	struct defaults d;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *got = defaults_lineage(le, paths[i].path);

		UNIT_STREQ(got, paths[i].want, "lineage of %s", paths[i].path);
		free(got);
	}
	{
		char *got = defaults_lineage("/etc/letsencrypt/",
		    "/etc/letsencrypt/live/a/privkey.pem");

		UNIT_STREQ(got, "a", "a letsencrypt_dir with a trailing slash");
		free(got);
	}

	memset(&d, 0, sizeof(d));
	defaults_parse("/etc/letsencrypt/live/a/privkey.pem, "
	    "/etc/letsencrypt/live/a/fullchain.pem,/etc/letsencrypt/live/b/"
	    "privkey.pem\t/etc/letsencrypt/live/b/fullchain.pem\n"
	    "/etc/ssl/certs/snakeoil.pem\n"
	    "\n", pf, 1, le, &d);
	check("postconf -h: a list of two lineages, one use each, in order",
	    &d, (const char *const[]){ "smtpd_tls_chain_files=a",
	    "smtpd_tls_chain_files=b", NULL });
	defaults_free(&d);

	memset(&d, 0, sizeof(d));
	defaults_parse("\n/etc/letsencrypt/live/c/cert.pem\n"
	    "/etc/letsencrypt/live/c/privkey.pem\n"
	    "/etc/letsencrypt/live/extra/privkey.pem\n", pf, 1, le, &d);
	check("postconf -h: lines follow the names; extra lines ignored", &d,
	    (const char *const[]){ "smtpd_tls_cert_file=c",
	    "smtpd_tls_key_file=c", NULL });
	defaults_free(&d);

	memset(&d, 0, sizeof(d));
	defaults_parse("submission/inet/smtpd_tls_chain_files = "
	    "/etc/letsencrypt/live/s/privkey.pem,/etc/letsencrypt/live/s/"
	    "fullchain.pem\n"
	    "submission/inet/syslog_name = /etc/letsencrypt/live/no/x.pem\n"
	    "127.0.0.1:2525/inet/smtpd_tls_cert_file = "
	    "/etc/letsencrypt/live/t/fullchain.pem\n", pf, 0, le, &d);
	check("postconf -P: master.cf overrides, other parameters ignored", &d,
	    (const char *const[]){
	    "submission/inet/smtpd_tls_chain_files=s",
	    "127.0.0.1:2525/inet/smtpd_tls_cert_file=t", NULL });
	defaults_free(&d);

	memset(&d, 0, sizeof(d));
	defaults_parse("ssl_alt_cert = \nssl_alt_key = \n"
	    "ssl_cert = </etc/letsencrypt/live/mx/fullchain.pem\n"
	    "ssl_key = </etc/letsencrypt/live/mx/privkey.pem\n", dc, 0, le, &d);
	check("doveconf 2.3: '<' dropped, empty alt pair ignored", &d,
	    (const char *const[]){ "ssl_cert=mx", "ssl_key=mx", NULL });
	defaults_free(&d);

	memset(&d, 0, sizeof(d));
	defaults_parse("ssl_server {\n"
	    "  cert_file = /etc/letsencrypt/live/n/fullchain.pem\n}\n"
	    "ssl_server {\n"
	    "  key_file = /etc/letsencrypt/live/n/privkey.pem\n}\n"
	    "ssl_cert = </etc/letsencrypt/live/old/x.pem\n",
	    dc24, 0, le, &d);
	check("doveconf 2.4: nested blocks, plain paths; names not asked for "
	    "ignored", &d, (const char *const[]){ "cert_file=n",
	    "key_file=n", NULL });
	defaults_free(&d);

	memset(&d, 0, sizeof(d));
	defaults_parse("ssl_cert = </etc/letsencrypt/live/mx/fullchain.pem\n"
	    "ssl_cert = </etc/letsencrypt/live/mx/fullchain.pem\n"
	    "garbage line\n= \nssl_key\n", dc, 0, le, &d);
	check("duplicates dropped, malformed lines skipped", &d,
	    (const char *const[]){ "ssl_cert=mx", NULL });
	defaults_free(&d);
	defaults_free(NULL);
	return unit_status();
}
