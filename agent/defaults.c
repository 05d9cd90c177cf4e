/*
 * defaults.c - which lineages the services' default certificates read.
 *
 * A default certificate (the one served without SNI, or when no SNI entry
 * matches) is usually a path into certbot's live/ directory, read by the
 * service itself: snisync cannot make it atomic, but it can reload the
 * service when that lineage renews and warn when the service would read
 * it half-swapped. Asks the services (postconf, doveconf) rather than
 * parsing their files. Never fails a run: a query that cannot be run is
 * one warning and no uses.
 */
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "log.h"
#include "run.h"
#include "scan.h"
#include "util.h"

#define OUT_MAX	(64 * 1024)

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

/* Runs prefix + extra; the output, or NULL (logged). */
static char *
query(char *const *prefix, const char *const *extra, int timeout)
{
	char **argv, *out;
	size_t n = 0, m = 0, i;
	int status;

	while (prefix[n] != NULL)
		n++;
	while (extra[m] != NULL)
		m++;
	argv = xcalloc(n + m + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		argv[i] = prefix[i];
	for (i = 0; i < m; i++)
		argv[n + i] = (char *)extra[i];
	out = xmalloc(OUT_MAX);
	status = 0;
	if (run_cmd(argv, timeout, out, OUT_MAX, &status) == -1 ||
	    status != 0) {
		/* The built-in command is a guess (a host may have no
		 * main.cf, or Dovecot elsewhere): a failure is a debug line;
		 * a command the configuration gives is a warning. */
		if (status != 0)
			(n == 1 ? log_debug : log_warn)("default certificates: "
			    "%s: exit status %d%s%s", run_argv_str(argv), status,
			    run_last_stderr()[0] ? ": " : "",
			    run_last_stderr());
		free(out);
		out = NULL;
	}
	free(argv);
	return out;
}

int
defaults_postfix(char *const *prefix, int timeout, const char *le_dir,
    struct defaults *d)
{
	const char *h[16] = { "-xh" }, *p[] = { "-Px", NULL };
	char *out;
	size_t i;

	memset(d, 0, sizeof(*d));
	for (i = 0; pf_params[i] != NULL; i++)
		h[i + 1] = pf_params[i];
	if ((out = query(prefix, h, timeout)) == NULL)
		return -1;
	defaults_parse(out, pf_params, 1, le_dir, d);
	free(out);
	if ((out = query(prefix, p, timeout)) == NULL)
		return -1;
	defaults_parse(out, pf_params, 0, le_dir, d);
	free(out);
	return 0;
}

int
defaults_dovecot(char *const *prefix, int timeout, enum dovecot_syntax syntax,
    const char *le_dir, struct defaults *d)
{
	int v24 = syntax == DOVECOT_24;
	char *out, *name;
	size_t i;

	memset(d, 0, sizeof(*d));
	if ((out = query(prefix, v24 ? dc24_query : dc23_params,
	    timeout)) == NULL)
		return -1;
	defaults_parse(out, v24 ? dc24_params : dc23_params, 0, le_dir, d);
	free(out);
	for (i = 0; v24 && i < d->n; i++) {
		name = xasprintf("ssl_server_%s", d->v[i].param);
		free(d->v[i].param);
		d->v[i].param = name;
	}
	return 0;
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
