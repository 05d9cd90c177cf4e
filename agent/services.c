/*
 * services.c - every question snisync asks Postfix and Dovecot, asked
 * once (services.h).
 *
 * The answers live here, in one place, for the run (a one-shot run) or
 * for as long as the daemon runs: services_begin() at each run's start
 * compares the identities of the services' configuration files (device,
 * inode, size, times) with those of the last run and forgets the
 * answers when one changed; SIGHUP forgets them. A query that fails
 * counts as its answer (no limit, no default certificate: logged once),
 * as the daemon always did; only Dovecot's version, a cheap question,
 * is asked again at the next run when it could not be told.
 * Runs postconf, doveconf and `dovecot --version`; writes nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "defaults.h"
#include "dovecot.h"
#include "fsio.h"
#include "log.h"
#include "run.h"
#include "services.h"
#include "util.h"

#define OUT_MAX		(64 * 1024)
#define ARGV_MAX	64

static struct {
	int			 have_fp;
	unsigned long long	 fp;		/* the configuration files */
	int			 syntax_asked;
	int			 syntax_rc;
	enum dovecot_syntax	 syntax;
	int			 asked[SVC__MAX];
	long long		 dc_limit;
	char			 dc_log[PATH_MAX];
	struct defaults		 d[SVC__MAX];
} sa;

void
services_forget(void)
{
	defaults_free(&sa.d[SVC_POSTFIX]);
	defaults_free(&sa.d[SVC_DOVECOT]);
	memset(&sa, 0, sizeof(sa));
}

/* ---- the configuration files' identity ---- */

static void
fnv(unsigned long long *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		*h ^= *b++;
		*h *= 1099511628211ULL;
	}
}

/* path's identity into h, unless it is skip (the include snisync
 * writes, by identity: its path may be spelt another way). */
static void
fp_file(unsigned long long *h, const char *path, const struct stat *skip)
{
	struct stat st;
	long long v[7];

	if (stat(path, &st) == -1) {
		fnv(h, path, strlen(path) + 1);
		fnv(h, "-", 1);
		return;
	}
	if (skip != NULL && st.st_dev == skip->st_dev &&
	    st.st_ino == skip->st_ino)
		return;
	fnv(h, path, strlen(path) + 1);
	v[0] = (long long)st.st_dev;
	v[1] = (long long)st.st_ino;
	v[2] = (long long)st.st_size;
	v[3] = (long long)st.st_mtim.tv_sec;
	v[4] = (long long)st.st_mtim.tv_nsec;
	v[5] = (long long)st.st_ctim.tv_sec;
	v[6] = (long long)st.st_ctim.tv_nsec;
	fnv(h, v, sizeof(v));
}

/* Dovecot's configuration files in dir (*.conf, *.ext), but skip. */
static void
fp_dir(unsigned long long *h, const char *dir, const struct stat *skip)
{
	char **names, path[PATH_MAX];
	size_t n, i, len;

	fnv(h, dir, strlen(dir) + 1);
	if (fsio_list(dir, &names, &n) == -1) {
		fnv(h, "-", 1);
		return;
	}
	for (i = 0; i < n; i++) {
		len = strlen(names[i]);
		if (!(len > 5 && strcmp(names[i] + len - 5, ".conf") == 0) &&
		    !(len > 4 && strcmp(names[i] + len - 4, ".ext") == 0))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path))
			continue;
		fp_file(h, path, skip);
	}
	fsio_list_free(names, n);
}

/* The value of "-c" in a query's argv, or NULL. */
static const char *
argv_config(char *const *argv)
{
	for (; argv != NULL && *argv != NULL; argv++)
		if (strcmp(*argv, "-c") == 0 && argv[1] != NULL)
			return argv[1];
	return NULL;
}

static unsigned long long
fingerprint(const struct conf *c)
{
	unsigned long long h = 14695981039346656037ULL;
	const char *pf = argv_config(c->postfix.query);
	const char *dc = argv_config(c->dovecot.query);
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat inc;

	if (c->postfix.enabled && c->postfix.query != NULL) {
		pf = pf != NULL ? pf : "/etc/postfix";
		if (snprintf(path, sizeof(path), "%s/main.cf", pf) <
		    (int)sizeof(path))
			fp_file(&h, path, NULL);
		if (snprintf(path, sizeof(path), "%s/master.cf", pf) <
		    (int)sizeof(path))
			fp_file(&h, path, NULL);
	}
	if (c->dovecot.enabled && c->dovecot.query != NULL) {
		dc = dc != NULL ? dc : "/etc/dovecot/dovecot.conf";
		fp_file(&h, dc, NULL);
		fsio_dirname(dc, dir, sizeof(dir));
		if (stat(c->dovecot.path, &inc) == -1)
			memset(&inc, 0, sizeof(inc));
		fp_dir(&h, dir, &inc);
		if (snprintf(path, sizeof(path), "%s/conf.d", dir) <
		    (int)sizeof(path))
			fp_dir(&h, path, &inc);
	}
	return h;
}

void
services_begin(const struct conf *c, int keep)
{
	unsigned long long fp;

	if (!keep) {
		services_forget();
		return;
	}
	fp = fingerprint(c);
	if (sa.have_fp && fp != sa.fp) {
		log_debug("services: their configuration files changed: "
		    "asking them again");
		services_forget();
	}
	sa.have_fp = 1;
	sa.fp = fp;
	if (sa.syntax_asked && sa.syntax_rc == -1)
		sa.syntax_asked = 0;	/* `dovecot --version` is cheap */
}

/* ---- which services are on ---- */

void
services_on(const struct conf *c, int on[SVC__MAX])
{
	const struct svc_conf *s[SVC__MAX] = { &c->postfix, &c->dovecot };
	const char *name[SVC__MAX] = { "postfix", "dovecot" };
	char dir[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < SVC__MAX; i++) {
		on[i] = s[i]->enabled;
		if (!on[i] || s[i]->explicit)
			continue;
		fsio_dirname(s[i]->path, dir, sizeof(dir));
		if (stat(dir, &st) == -1) {
			log_info("%s: %s does not exist: %s not installed? "
			    "Skipping it (set \"%s\": null to say so)",
			    name[i], dir, name[i], name[i]);
			on[i] = 0;
		}
	}
}

/* ---- Dovecot's version ---- */

static int
ask_version(const struct conf *c, enum dovecot_syntax *syntax)
{
	char *argv[] = { "dovecot", "--version", NULL };
	char out[256];
	int status;

	*syntax = DOVECOT_AUTO;
	if (run_cmd(argv, c->command_timeout, out, sizeof(out),
	    &status) == -1 || status != 0) {
		log_err("dovecot: cannot detect the version (dovecot --version "
		    "failed%s%s); set \"dovecot\": {\"version\": \"2.3\"} or "
		    "\"2.4\"", run_last_stderr()[0] ? ": " : "",
		    run_last_stderr());
		return -1;
	}
	*syntax = dovecot_parse_version(out);
	if (*syntax == DOVECOT_AUTO) {
		log_err("dovecot: unsupported version \"%s\" (need 2.3 or "
		    "2.4)", log_esc(strtok(out, "\n") ? out : ""));
		return -1;
	}
	log_debug("dovecot: syntax %s", *syntax == DOVECOT_23 ? "2.3" : "2.4");
	return 0;
}

int
services_syntax(const struct conf *c, enum dovecot_syntax *syntax)
{
	if (c->dovecot.syntax != DOVECOT_AUTO) {
		*syntax = c->dovecot.syntax;
		return 0;
	}
	if (!sa.syntax_asked) {
		sa.syntax_asked = 1;
		sa.syntax_rc = ask_version(c, &sa.syntax);
	}
	*syntax = sa.syntax;
	return sa.syntax_rc;
}

/* ---- the questions ---- */

/* Runs prefix + names (+ names2); the output, or NULL (logged: a
 * command the configuration gives is a warning, the built-in one, a
 * guess, a debug line). */
static char *
ask(const struct conf *c, const char *what, char *const *prefix,
    const char *const *names, const char *const *names2)
{
	char *argv[ARGV_MAX], *out;
	size_t n = 0, np;
	int status = 0;

	while (prefix[n] != NULL && n < ARGV_MAX / 2)
		argv[n] = prefix[n], n++;
	np = n;
	for (; names != NULL && *names != NULL && n + 1 < ARGV_MAX; names++)
		argv[n++] = (char *)*names;
	for (; names2 != NULL && *names2 != NULL && n + 1 < ARGV_MAX; names2++)
		argv[n++] = (char *)*names2;
	argv[n] = NULL;
	out = xmalloc(OUT_MAX);
	if (run_cmd(argv, c->command_timeout, out, OUT_MAX, &status) == 0 &&
	    status == 0)
		return out;
	if (status != 0)
		(np == 1 ? log_debug : log_warn)("%s: %s: exit status %d%s%s",
		    what, run_argv_str(argv), status,
		    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	free(out);
	return NULL;
}

void
services_parse_dovecot(const char *text, enum dovecot_syntax syntax,
    const char *le_dir, long long *limit, char *log, size_t logsz,
    struct defaults *d)
{
	char *copy = xstrdup(text), *line, *save = NULL, *eq;
	long long def = 0, svc = 0;

	log[0] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strstr(line, " = ")) == NULL)
			continue;
		if (strncmp(line, "default_vsz_limit =", 19) == 0)
			def = dovecot_parse_size(eq + 3);
		else if (strncmp(line, "log_path =", 10) == 0)
			snprintf(log, logsz, "%s", eq + 3);
		else if (strstr(line, "vsz_limit =") != NULL)
			svc = dovecot_parse_size(eq + 3);
	}
	free(copy);
	*limit = svc > 0 ? svc : def;
	memset(d, 0, sizeof(*d));
	if (le_dir != NULL)
		defaults_dovecot_parse(text, syntax, le_dir, d);
}

/* Dovecot's answers, in one doveconf run: its config service's limit,
 * log_path and (when live/ is known and so is the version) the default
 * certificate settings. */
static void
ask_dovecot(const struct conf *c)
{
	static const char *const limits[] = { "default_vsz_limit",
	    "service/config/vsz_limit", "log_path", NULL };
	enum dovecot_syntax syntax = DOVECOT_AUTO;
	const char *le = c->letsencrypt_dir;
	char *out;

	if (sa.asked[SVC_DOVECOT])
		return;
	sa.asked[SVC_DOVECOT] = 1;
	if (c->dovecot.query == NULL)
		return;
	if (le != NULL && services_syntax(c, &syntax) == -1)
		le = NULL;
	if ((out = ask(c, "dovecot", c->dovecot.query, limits, le != NULL ?
	    defaults_dovecot_names(syntax) : NULL)) == NULL)
		return;
	services_parse_dovecot(out, syntax, le, &sa.dc_limit, sa.dc_log,
	    sizeof(sa.dc_log), &sa.d[SVC_DOVECOT]);
	free(out);
}

/* Postfix's: its main.cf settings (postconf -xh) and master.cf's -o
 * overrides (postconf -Px). */
static void
ask_postfix(const struct conf *c)
{
	static const char *const h[] = { "-xh", NULL }, *const p[] = { "-Px",
	    NULL };
	const char *what = "postfix: default certificates";
	char *hout, *pout = NULL;

	if (sa.asked[SVC_POSTFIX])
		return;
	sa.asked[SVC_POSTFIX] = 1;
	if (c->postfix.query == NULL || c->letsencrypt_dir == NULL)
		return;
	if ((hout = ask(c, what, c->postfix.query, h,
	    defaults_postfix_names())) != NULL &&
	    (pout = ask(c, what, c->postfix.query, p, NULL)) != NULL)
		defaults_postfix_parse(hout, pout, c->letsencrypt_dir,
		    &sa.d[SVC_POSTFIX]);
	free(hout);
	free(pout);
}

long long
services_dovecot_limit(const struct conf *c)
{
	ask_dovecot(c);
	return sa.dc_limit;
}

const char *
services_dovecot_log(const struct conf *c)
{
	ask_dovecot(c);
	return sa.dc_log;
}

const struct defaults *
services_defaults(const struct conf *c, enum svc_id svc)
{
	if (svc == SVC_POSTFIX)
		ask_postfix(c);
	else
		ask_dovecot(c);
	return &sa.d[svc];
}
