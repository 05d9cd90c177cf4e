/*
 * setup.c - `snisync setup`.
 *
 * Postfix: `postconf -h tls_server_sni_maps` must list snisync's map;
 * with --apply an unset parameter is set with `postconf -e` (never a
 * different value: that is the administrator's) once the map exists, and
 * Postfix is reloaded. Other maps in the list are read from their source
 * files: an entry for one of snisync's names in a map searched before
 * snisync's shadows it, one after it is never used.
 * Dovecot: `doveconf -n` must accept the configuration; its main file
 * (and what it includes, recursively) must include snisync's file; a
 * `local_name` block in any other file is hand-written, and one for a
 * name snisync serves contradicts snisync's block (doveconf -n merges
 * same-named blocks, so the files are read as text for this).
 * Reads configuration, never edits Dovecot's.
 */
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "plan.h"
#include "run.h"
#include "setup.h"
#include "exit.h"
#include "status.h"
#include "util.h"

#define OUT_MAX		(16 * 1024 * 1024)
#define SRC_MAX		(64 * 1024 * 1024)

struct setup {
	const struct conf	*c;
	const struct setup_opts	*o;
	struct state		 st;
	struct plan		 plan;	/* what snisync serves now */
	int			 have_state;
	int			 todo;	/* something to add or a warning */
	int			 broken; /* a tool could not be run */
};

/* The Postfix key of a served name (a wildcard is ".example.com"). */
static const char *
pf_key(const char *name)
{
	return name_is_wildcard(name) ? name + 1 : name;
}

static const char *
served_by_key(const struct setup *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->plan.n; i++)
		if (strcasecmp(pf_key(s->plan.e[i].name), key) == 0)
			return s->plan.e[i].name;
	return NULL;
}

/* Runs argv, output in a malloc'd buffer; NULL when it did not run or
 * failed (logged with its stderr). */
static char *
capture(struct setup *s, char **argv)
{
	char *out = xmalloc(OUT_MAX);
	int status;

	if (run_cmd(argv, s->c->command_timeout, out, OUT_MAX, &status) == -1 ||
	    status != 0) {
		if (status != 0)
			log_err("%s: exit status %d%s%s", run_argv_str(argv),
			    status, run_last_stderr()[0] ? ": " : "",
			    run_last_stderr());
		free(out);
		s->broken = 1;
		return NULL;
	}
	return out;
}

/* Checks the entries of another map (from its source file). */
static void
check_other_map(struct setup *s, const char *map, int before)
{
	const char *colon = strchr(map, ':');
	static const char *const types[] = { "lmdb", "hash", "btree", "cdb",
	    "dbm", "sdbm", "texthash", NULL };
	unsigned char *text;
	char why[256], *line, *save = NULL;
	size_t len, i;
	int known = 0;

	for (i = 0; colon != NULL && types[i] != NULL; i++)
		known |= (size_t)(colon - map) == strlen(types[i]) &&
		    strncmp(map, types[i], strlen(types[i])) == 0;
	if (!known || colon[1] != '/') {
		printf("postfix: %s: entries not checked (only indexed maps "
		    "with a source file are)\n", map);
		return;
	}
	if (fsio_read(colon + 1, SRC_MAX, &text, &len, NULL, why,
	    sizeof(why)) == -1) {
		printf("postfix: %s: source %s not readable (%s); entries not "
		    "checked\n", map, colon + 1, why);
		return;
	}
	for (line = strtok_r((char *)text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char key[300];
		const char *ours;

		if (line[0] == '#' || line[0] == ' ' || line[0] == '\t' ||
		    sscanf(line, "%299s", key) != 1)
			continue;
		if ((ours = served_by_key(s, key)) == NULL)
			continue;
		s->todo = 1;
		if (before)
			log_warn("postfix: %s, searched before snisync's map, "
			    "has an entry for %s: it shadows snisync's "
			    "certificate for %s; remove it", map, log_esc(key),
			    ours);
		else
			log_warn("postfix: %s has an entry for %s that is never "
			    "used (snisync's map comes first); remove it to "
			    "avoid confusion", map, log_esc(key));
	}
	util_free_wiped(text, len);
}

/* --apply: sets the unset parameter, once snisync's map exists (a map
 * Postfix cannot open fails every SNI handshake), then reloads Postfix. */
static void
apply_postfix(struct setup *s, const char *want)
{
	char *lmdb = xasprintf("%s.lmdb", s->c->postfix.path);
	char *set = xasprintf("tls_server_sni_maps = %s", want);
	char *argv[8];
	int n = 0, status;

	if (fsio_stamp_time(lmdb) == 0) {
		s->todo = 1;
		printf("postfix: %s does not exist yet: run `snisync resync` "
		    "first, then `snisync setup --apply`\n", lmdb);
		goto out;
	}
	argv[n++] = "postconf";
	if (s->o->postfix_dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = (char *)s->o->postfix_dir;
	}
	argv[n++] = "-e";
	argv[n++] = set;
	argv[n] = NULL;
	if (run_cmd(argv, s->c->command_timeout, NULL, 0, &status) == -1 ||
	    status != 0) {
		log_err("postfix: %s: failed%s%s", run_argv_str(argv),
		    run_last_stderr()[0] ? ": " : "", run_last_stderr());
		s->broken = 1;
		goto out;
	}
	printf("postfix: set %s\n", set);
	if (s->c->postfix.reload == NULL) {
		printf("postfix: no reload command configured; run "
		    "`postfix reload`\n");
		goto out;
	}
	if (run_cmd(s->c->postfix.reload, s->c->command_timeout, NULL, 0,
	    &status) == -1 || status != 0) {
		s->todo = 1;
		log_err("postfix: reload failed: %s%s%s",
		    run_argv_str(s->c->postfix.reload),
		    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	} else
		printf("postfix: reloaded (%s)\n",
		    run_argv_str(s->c->postfix.reload));
out:
	free(set);
	free(lmdb);
}

static void
setup_postfix(struct setup *s)
{
	char *want = xasprintf("lmdb:%s", s->c->postfix.path);
	char *argv[8], *val, *tok, *save = NULL, *copy;
	int n = 0, ours = -1, idx = 0;

	argv[n++] = "postconf";
	if (s->o->postfix_dir != NULL) {
		argv[n++] = "-c";
		argv[n++] = (char *)s->o->postfix_dir;
	}
	argv[n++] = "-h";
	argv[n++] = "tls_server_sni_maps";
	argv[n] = NULL;
	if ((val = capture(s, argv)) == NULL) {
		log_err("postfix: cannot read tls_server_sni_maps with "
		    "postconf");
		free(want);
		return;
	}
	val[strcspn(val, "\n")] = '\0';
	copy = xstrdup(val);
	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,\t", &save), idx++)
		if (strcmp(tok, want) == 0 && ours == -1)
			ours = idx;
	free(copy);
	if (ours >= 0) {
		printf("postfix: tls_server_sni_maps uses %s: nothing to add\n",
		    want);
	} else if (val[0] != '\0') {
		s->todo = 1;
		printf("postfix: tls_server_sni_maps is \"%s\" and does not "
		    "use snisync's map; add it first in main.cf:\n"
		    "  tls_server_sni_maps = %s, %s\n", val, want, val);
		if (s->o->apply)
			printf("postfix: --apply never replaces a value set "
			    "by hand; edit main.cf, then `postfix reload`\n");
	} else if (!s->o->apply) {
		s->todo = 1;
		printf("postfix: add to main.cf (or run `snisync setup "
		    "--apply`):\n  tls_server_sni_maps = %s\n", want);
	} else
		apply_postfix(s, want);
	/* Entries in the other maps of the list. */
	copy = xstrdup(val);
	idx = 0;
	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,\t", &save), idx++)
		if (strcmp(tok, want) != 0 && s->have_state)
			check_other_map(s, tok, ours == -1 || idx < ours);
	free(copy);
	free(val);
	free(want);
}

/* What the Dovecot configuration files say, read as text (doveconf -n
 * merges blocks with the same name, so it cannot show a duplicate). */
struct dc_walk {
	const char	*target;	/* snisync's file */
	int		 found;		/* some file includes target */
	char		**names;	/* local_name lines of other files */
	size_t		  nnames;
};

/*
 * Reads file and, recursively, what it includes (!include and
 * !include_try, globs expanded, relative to the including file's
 * directory; snisync's own file is noted, not read).
 */
static void
walk_conf(struct dc_walk *wk, const char *file, int depth)
{
	unsigned char *text;
	char why[256], dir[4096], *line, *save = NULL;
	size_t len;

	if (depth > 8 || fsio_read(file, SRC_MAX, &text, &len, NULL, why,
	    sizeof(why)) == -1)
		return;
	fsio_dirname(file, dir, sizeof(dir));
	for (line = strtok_r((char *)text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char arg[4096], *pat;
		glob_t g;
		size_t i;

		while (*line == ' ' || *line == '\t')
			line++;
		if (sscanf(line, "local_name %299s {", arg) == 1) {
			wk->names = xreallocarray(wk->names, wk->nnames + 1,
			    sizeof(char *));
			wk->names[wk->nnames++] = xstrdup(arg);
			continue;
		}
		/* "!include_try" first: "!include %s" would read "_try". */
		if (sscanf(line, "!include_try %4095s", arg) != 1 &&
		    (strncmp(line, "!include ", 9) != 0 ||
		    sscanf(line, "!include %4095s", arg) != 1))
			continue;
		pat = arg[0] == '/' ? xstrdup(arg) :
		    xasprintf("%s/%s", dir, arg);
		if (fnmatch(pat, wk->target, FNM_PATHNAME) == 0)
			wk->found = 1;
		if (glob(pat, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				if (strcmp(g.gl_pathv[i], wk->target) != 0)
					walk_conf(wk, g.gl_pathv[i], depth + 1);
			globfree(&g);
		}
		free(pat);
	}
	free(text);
}

/*
 * Capacity, from what the last sync measured: the blocks, the memory they
 * need and the config service's limit (what to raise above 80 % of it,
 * or while Dovecot is held back), and for 2.3 the block count above which
 * the first handshake after each reload takes more than a second
 * (DOVECOT23_SLOW_BLOCKS, measured by make bench).
 */
static void
setup_dovecot_capacity(struct setup *s)
{
	const struct dovecot_state *d = &s->st.dovecot;
	char *argv[] = { "dovecot", "--version", NULL }, out[256];
	int status;

	if (d->measured == 0)
		printf("dovecot: capacity: not measured yet (run `snisync "
		    "resync`)\n");
	else {
		status_print_dovecot(d, s->plan.n);
		if (d->held != DOVECOT_HOLD_NONE || (d->limit > 0 &&
		    d->need * 100 / d->limit >= DOVECOT_ADVISE_PCT))
			s->todo = 1;
	}
	if (run_cmd(argv, s->c->command_timeout, out, sizeof(out),
	    &status) == 0 && status == 0 &&
	    dovecot_parse_version(out) == DOVECOT_23)
		printf("dovecot: 2.3 parses every block again at each reload: "
		    "above about %d blocks the first handshake after a reload "
		    "takes more than a second (2 cores; docs/performance.md)"
		    "%s\n", DOVECOT23_SLOW_BLOCKS, d->measured && d->blocks >
		    DOVECOT23_SLOW_BLOCKS ? "; this include is above it" : "");
}

static void
setup_dovecot(struct setup *s)
{
	const char *main_conf = s->o->dovecot_conf ? s->o->dovecot_conf :
	    "/etc/dovecot/dovecot.conf";
	struct dc_walk wk = { 0 };
	char *argv[6], *out;
	size_t i, j;
	int n = 0;

	/* Dovecot must accept its configuration as it is. */
	argv[n++] = "doveconf";
	if (s->o->dovecot_conf != NULL) {
		argv[n++] = "-c";
		argv[n++] = (char *)s->o->dovecot_conf;
	}
	argv[n++] = "-n";
	argv[n] = NULL;
	if ((out = capture(s, argv)) == NULL) {
		log_err("dovecot: cannot read its configuration with doveconf");
		return;
	}
	free(out);
	wk.target = s->c->dovecot.path;
	walk_conf(&wk, main_conf, 0);
	if (wk.found)
		printf("dovecot: %s includes %s: nothing to add\n", main_conf,
		    s->c->dovecot.path);
	else {
		s->todo = 1;
		printf("dovecot: add to the end of %s:\n  !include %s\n",
		    main_conf, s->c->dovecot.path);
	}
	for (i = 0; i < wk.nnames; i++) {
		int served = 0;

		for (j = 0; j < s->plan.n && !served; j++)
			served = strcasecmp(wk.names[i], s->plan.e[j].name) == 0;
		if (served) {
			s->todo = 1;
			log_warn("dovecot: a hand-written local_name %s block "
			    "contradicts snisync's block for the same name "
			    "(one of them is ignored); remove it",
			    log_esc(wk.names[i]));
		} else
			printf("dovecot: hand-written local_name %s (not a "
			    "name snisync serves): left alone\n",
			    log_esc(wk.names[i]));
		free(wk.names[i]);
	}
	free(wk.names);
	setup_dovecot_capacity(s);
}
int
setup_run(const struct conf *c, const struct setup_opts *o)
{
	struct setup s = { 0 };

	s.c = c;
	s.o = o;
	if (status_load(c, &s.st, &s.plan) == 0)
		s.have_state = s.st.n > 0;
	if (!s.have_state)
		printf("no names applied yet (run `snisync resync`): entries "
		    "that would conflict with snisync's cannot be checked\n");
	if (c->postfix.enabled)
		setup_postfix(&s);
	else
		printf("postfix: off in the configuration\n");
	if (c->dovecot.enabled)
		setup_dovecot(&s);
	else
		printf("dovecot: off in the configuration\n");
	plan_free(&s.plan);
	state_free(&s.st);
	return s.broken ? EXIT_APPLY : s.todo ? EXIT_REJECTED : EXIT_SYNCED;
}
