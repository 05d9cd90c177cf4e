/*
 * defaults.c - which lineages the services' default certificates read.
 *
 * A default certificate (the one served without SNI, or when no SNI entry
 * matches) is usually a path into certbot's live/ directory, read by the
 * service itself: snisync cannot make it atomic, but it can reload the
 * service when that lineage renews and warn when the service would read
 * it half-swapped. The services are asked (postconf, doveconf: by
 * services.c) rather than their files parsed; this file reads their
 * answers and runs nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "scan.h"
#include "util.h"

static const char *const pf_params[] = {
	"smtpd_tls_chain_files", "smtpd_tls_cert_file", "smtpd_tls_key_file",
	"smtpd_tls_eccert_file", "smtpd_tls_eckey_file",
	"tlsproxy_tls_chain_files", "tlsproxy_tls_cert_file",
	"tlsproxy_tls_key_file", "tlsproxy_tls_eccert_file",
	"tlsproxy_tls_eckey_file", NULL
};

static const char *const dc23_params[] = {
	"ssl_cert", "ssl_key", "ssl_alt_cert", "ssl_alt_key", NULL
};

/* 2.4 keeps ssl_server_cert_file as cert_file in an ssl_server block:
 * `doveconf ssl_server/cert_file` prints "ssl_server {", "  cert_file =
 * PATH", "}" (nothing for an empty value). */
static const char *const dc24_query[] = {
	"ssl_server/cert_file", "ssl_server/key_file",
	"ssl_server/alt_cert_file", "ssl_server/alt_key_file", NULL
};

static const char *const dc24_params[] = {
	"cert_file", "key_file", "alt_cert_file", "alt_key_file", NULL
};

char *
defaults_lineage(const char *le_dir, const char *path)
{
	size_t n = strlen(le_dir);
	const char *p, *slash;
	char *name;

	while (n > 1 && le_dir[n - 1] == '/')
		n--;
	if (strncmp(path, le_dir, n) != 0 || strncmp(path + n, "/live/", 6))
		return NULL;
	p = path + n + 6;
	if ((slash = strchr(p, '/')) == NULL || slash == p ||
	    slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
		return NULL;
	name = xstrndup(p, (size_t)(slash - p));
	if (scan_lineage_name_ok(name) != NULL) {
		free(name);
		return NULL;
	}
	return name;
}

static void
add_use(struct defaults *d, const char *param, char *lineage)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].param, param) == 0 &&
		    strcmp(d->v[i].lineage, lineage) == 0) {
			free(lineage);
			return;
		}
	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n++] = (struct default_use){ xstrdup(param), lineage };
}

static void
add_value(struct defaults *d, const char *param, const char *value,
    const char *le_dir)
{
	char *copy = xstrdup(value), *tok, *save = NULL, *lineage;

	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,\t", &save)) {
		if (tok[0] == '<')
			tok++;
		if ((lineage = defaults_lineage(le_dir, tok)) != NULL)
			add_use(d, param, lineage);
	}
	free(copy);
}

static int
wanted(const char *const *names, const char *name)
{
	const char *base = strrchr(name, '/');

	base = base != NULL ? base + 1 : name;
	for (; *names != NULL; names++)
		if (strcmp(*names, base) == 0)
			return 1;
	return 0;
}

void
defaults_parse(const char *text, const char *const *names, int bare,
    const char *le_dir, struct defaults *d)
{
	char *copy = xstrdup(text), *line, *next, *eq;
	size_t i = 0;

	for (line = copy; line != NULL && *line != '\0'; line = next, i++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (!bare)
			line += strspn(line, " \t");
		if (bare) {
			if (names[i] == NULL)
				break;
			add_value(d, names[i], line, le_dir);
			continue;
		}
		if ((eq = strstr(line, " = ")) == NULL &&
		    (eq = strstr(line, " =")) == NULL)
			continue;
		*eq = '\0';
		if (wanted(names, line))
			add_value(d, line, eq + 2 + (eq[2] == ' '), le_dir);
	}
	free(copy);
}

const char *const *
defaults_postfix_names(void)
{
	return pf_params;
}

void
defaults_postfix_parse(const char *h, const char *p, const char *le_dir,
    struct defaults *d)
{
	memset(d, 0, sizeof(*d));
	defaults_parse(h, pf_params, 1, le_dir, d);
	defaults_parse(p, pf_params, 0, le_dir, d);
}

const char *const *
defaults_dovecot_names(enum dovecot_syntax syntax)
{
	return syntax == DOVECOT_24 ? dc24_query : dc23_params;
}

void
defaults_dovecot_parse(const char *text, enum dovecot_syntax syntax,
    const char *le_dir, struct defaults *d)
{
	int v24 = syntax == DOVECOT_24;
	char *name;
	size_t i;

	memset(d, 0, sizeof(*d));
	defaults_parse(text, v24 ? dc24_params : dc23_params, 0, le_dir, d);
	for (i = 0; v24 && i < d->n; i++) {
		name = xasprintf("ssl_server_%s", d->v[i].param);
		free(d->v[i].param);
		d->v[i].param = name;
	}
}

void
defaults_free(struct defaults *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].param);
		free(d->v[i].lineage);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
