/*
 * main.c - option parsing and dispatch only.
 */
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "setup.h"
#include "status.h"
#include "tlsa.h"
#include "verify.h"
#include "sync.h"
#include "util.h"
#include "watch.h"

static const char usage_text[] =
"usage: snisync [-v] [-c FILE] COMMAND [OPTIONS]\n"
"\n"
"Keeps Postfix's LMDB SNI map and Dovecot's local_name blocks in step\n"
"with the certificates certbot keeps under /etc/letsencrypt/live.\n"
"\n"
"Commands:\n"
"  resync [--dry-run] [--lineage NAME]...\n"
"                 validate every lineage, rewrite what changed, reload\n"
"                 only the services whose files changed\n"
"  check [--json] validate every lineage and print a table; write nothing\n"
"  watch          stay in the foreground, watch letsencrypt_dir with\n"
"                 inotify and resync what changes (systemd Type=notify)\n"
"  status [--json]\n"
"                 what is served (name, lineage, key, expiry, since,\n"
"                 last error) and reload counts, from the state file\n"
"  setup [--apply] [--postfix-dir DIR] [--dovecot-config FILE]\n"
"                 what Postfix and Dovecot still need for snisync, and\n"
"                 what in their configuration contradicts it\n"
"  tlsa [--port N] [NAME]...\n"
"                 DANE TLSA records (3 1 1 and 2 1 1) for what is served\n"
"  release NAME...\n"
"                 serve the new key that dane.hold_key_change held back\n"
"  verify [NAME]...\n"
"                 ask the local servers which certificate they present\n"
"                 for each name and compare it with what was applied\n"
"\n"
"Options:\n"
"  -c, --config FILE  configuration (default " CONF_DEFAULT_PATH ";\n"
"                     optional: built-in defaults when it is missing)\n"
"  -v, --verbose      debug messages\n"
"  -h, --help         this text (also after a command)\n"
"  -V, --version      print the version\n"
"\n"
"Exit status:\n"
"  0  every valid lineage is applied (changed or not)\n"
"  1  one or more lineages were rejected (each reported; all others\n"
"     applied; a rejected lineage keeps serving its last good pair)\n"
"  2  usage error\n"
"  3  configuration error\n"
"  4  an output could not be written, checked or reloaded (previous\n"
"     files kept), or the certificate tree could not be read\n"
"  5  another snisync run held the lock too long\n";

static const char resync_usage[] =
"usage: snisync [-c FILE] resync [--dry-run] [--defer-reload]\n"
"                               [--lineage NAME]...\n"
"\n"
"  -n, --dry-run        print what would change (names added, changed,\n"
"                       removed, and why); write and reload nothing\n"
"  -d, --defer-reload   write, and leave the reloads pending for the next\n"
"                       run without it (the deploy hook inside a certbot\n"
"                       run; the post hook reloads once at its end); a\n"
"                       renewal leaves each service's reload pending,\n"
"                       without asking postconf and doveconf\n"
"  -l, --lineage NAME   look at this lineage only (repeatable); the\n"
"                       others stay as last applied\n"
"\n"
"Exit status: 0 synced, 1 a lineage rejected, 2 usage, 3 config,\n"
"4 write/check/reload failed, 5 lock timeout (see snisync --help).\n";

static const char check_usage[] =
"usage: snisync [-c FILE] check [--json]\n"
"\n"
"Validates every lineage and prints lineage, verdict, expiry and the\n"
"names it would serve (or why it is rejected). Writes nothing.\n"
"  -j, --json   machine-readable output\n"
"\n"
"Exit status: 0 all valid, 1 a lineage rejected, 2 usage, 3 config,\n"
"4 the tree could not be read.\n";

static const char watch_usage[] =
"usage: snisync [-v] [-c FILE] watch\n"
"\n"
"Runs in the foreground: watches letsencrypt_dir, live/ and every lineage\n"
"with inotify; a burst of changes (certbot swapping links) settles, then\n"
"the changed lineages are synced. A lineage broken right after a change\n"
"is retried quietly and reported only if still broken later. A full\n"
"resync runs periodically and warns about certificates close to expiry.\n"
"Signals: HUP re-reads the configuration and resyncs everything (a bad\n"
"configuration is refused, the old one kept); TERM and INT stop after the\n"
"current sync. Under systemd it reports READY=1 after the first sync,\n"
"STATUS= lines and honours WatchdogSec=.\n"
"\n"
"Exit status: 0 stopped by a signal, 2 usage, 3 config.\n";

static const char status_usage[] =
"usage: snisync [-c FILE] status [--json]\n"
"\n"
"Prints every served name with its lineage, key type, days to expiry,\n"
"when its certificate was first served and the lineage's current error,\n"
"then failing lineages and each service's reloads. Reads only the state\n"
"file the last resync or the daemon wrote; writes nothing.\n"
"  -j, --json   machine-readable output (schema 1, see snisync(8))\n"
"\n"
"Exit status: 0 all well, 1 a lineage fails or a name's certificate has\n"
"less than a quarter of its lifetime left (or watch.expiry_warn_days\n"
"days, when set), 2 usage, 3 config, 4 the state is unreadable.\n";

static const char setup_usage[] =
"usage: snisync [-c FILE] setup [--apply] [--postfix-dir DIR]\n"
"                               [--dovecot-config FILE]\n"
"\n"
"Asks postconf and doveconf what is configured and prints what to add:\n"
"the tls_server_sni_maps line for main.cf, the !include line for Dovecot.\n"
"Warns about hand-written local_name blocks and entries of other SNI maps\n"
"that shadow or contradict snisync's. Never edits Dovecot's files.\n"
"  -a, --apply                set tls_server_sni_maps with postconf -e when\n"
"                             it is unset (never replaces a value), then\n"
"                             reload Postfix\n"
"  -p, --postfix-dir DIR      Postfix configuration directory (postconf -c)\n"
"  -d, --dovecot-config FILE  Dovecot's main configuration file\n"
"                             (doveconf -c; default\n"
"                             /etc/dovecot/dovecot.conf)\n"
"\n"
"Exit status: 0 nothing left to do, 1 something to add or a warning,\n"
"2 usage, 3 config, 4 postconf or doveconf could not be run.\n";

static const char tlsa_usage[] =
"usage: snisync [-c FILE] tlsa [--port N] [NAME]...\n"
"\n"
"Prints the TLSA records that match what snisync serves now, for every\n"
"served name or the names given: \"_25._tcp.NAME. IN TLSA 3 1 1 HASH\"\n"
"(SHA-256 of the served key; it breaks when a renewal makes a new key)\n"
"and \"... 2 1 1 HASH\" for every intermediate the issuer may draw from\n"
"(Let's Encrypt's current generation for the key type, backups included,\n"
"and dane.issuers_file; it breaks when the issuer moves to a new\n"
"generation). Never a root's. Reads the state and the store; writes\n"
"nothing.\n"
"  -p, --port N   the port in the owner name (default 25)\n"
"\n"
"Exit status: 0 printed, 1 a name is not served or its files are\n"
"unreadable, 2 usage, 3 config, 4 the state is unreadable.\n";

static const char release_usage[] =
"usage: snisync [-c FILE] release NAME...\n"
"\n"
"For each name listed in dane.hold_key_change whose lineage was renewed\n"
"with a new key, the previous pair kept serving: serve the new one now\n"
"(publish its TLSA 3 1 1 record first: snisync tlsa NAME shows the\n"
"current one). Runs a resync of those lineages.\n"
"\n"
"Exit status: as resync; 1 also when a name has no held key change.\n";

static const char verify_usage[] =
"usage: snisync [-c FILE] verify [NAME]...\n"
"\n"
"Connects to every endpoint of verify.endpoints that listens on\n"
"127.0.0.1 (default smtp:25 smtp:587 tls:465 imap:143 tls:993 pop3:110\n"
"tls:995; smtp, imap and pop3 use STARTTLS), with each served name (or\n"
"each NAME) as SNI, and compares the certificate presented with the one\n"
"snisync applied. Prints every mismatch and failed probe, then a summary.\n"
"\n"
"Exit status: 0 every name served as applied, 1 a mismatch or a failed\n"
"probe, 2 usage, 3 config, 4 no endpoint listens or no state.\n";

static int
usage_error(const char *text, const char *what, const char *arg)
{
	fprintf(stderr, "snisync: %s \"%s\"\n%s", what, log_esc(arg), text);
	return EXIT_USAGE;
}

/*
 * A lineage is a name, or its live directory (certbot's RENEWED_LINEAGE),
 * which must then be under letsencrypt_dir/live: a hook for another
 * certbot tree must not sync a same-named lineage of ours. Returns the
 * name (inside arg), or NULL (logged).
 */
static char *
lineage_arg(char *arg, const struct conf *c)
{
	char *slash, *live, want[PATH_MAX], got[PATH_MAX];

	while (strlen(arg) > 1 && arg[strlen(arg) - 1] == '/')
		arg[strlen(arg) - 1] = '\0';
	if ((slash = strrchr(arg, '/')) == NULL)
		return arg;
	if (c == NULL)
		return slash + 1;
	if (c->letsencrypt_dir == NULL) {
		log_err("--lineage %s: no certbot tree is configured "
		    "(letsencrypt_dir is null); give a lineage name",
		    log_esc(arg));
		return NULL;
	}
	*slash = '\0';
	live = xasprintf("%s/live", c->letsencrypt_dir);
	if (realpath(arg[0] ? arg : "/", got) == NULL ||
	    realpath(live, want) == NULL || strcmp(got, want) != 0) {
		log_err("--lineage %s/%s: not a lineage under %s",
		    log_esc(arg), log_esc(slash + 1), log_esc(live));
		free(live);
		return NULL;
	}
	free(live);
	return slash + 1;
}

static int
cmd_resync(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "defer-reload", no_argument, NULL, 'd' },
		{ "lineage", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sync_opts o = { 0 };
	int ch, rc;

	o.only = xcalloc((size_t)argc + 1, sizeof(char *));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ndl:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o.dry_run = 1;
			break;
		case 'd':
			o.hold_reloads = o.defer_reload = 1;
			break;
		case 'l':
			if ((o.only[o.nonly] = lineage_arg(optarg, c)) == NULL) {
				free(o.only);
				return EXIT_USAGE;
			}
			o.nonly++;
			break;
		case 'h':
			fputs(resync_usage, stdout);
			free(o.only);
			return EXIT_SYNCED;
		default:
			free(o.only);
			fputs(resync_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		free(o.only);
		return usage_error(resync_usage, "resync: unexpected argument",
		    argv[optind]);
	}
	rc = sync_resync(c, &o);
	free(o.only);
	return rc;
}

/* check and status: --json or nothing. Returns -1 to go on (*json set),
 * or the exit status. */
static int
json_flag(int argc, char **argv, const char *usage, const char *what,
    int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*json = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_SYNCED;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return usage_error(usage, what, argv[optind]);
	return -1;
}

static int
cmd_check(int argc, char **argv, const struct conf *c)
{
	int json, rc = json_flag(argc, argv, check_usage,
	    "check: unexpected argument", &json);

	return rc >= 0 ? rc : sync_check(c, json);
}

static int
cmd_status(int argc, char **argv, const struct conf *c)
{
	int json, rc = json_flag(argc, argv, status_usage,
	    "status: unexpected argument", &json);

	return rc >= 0 ? rc : status_run(c, json);
}

static int
cmd_setup(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "apply", no_argument, NULL, 'a' },
		{ "postfix-dir", required_argument, NULL, 'p' },
		{ "dovecot-config", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct setup_opts o = { 0 };
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "ap:d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.apply = 1;
			break;
		case 'p':
			o.postfix_dir = optarg;
			break;
		case 'd':
			o.dovecot_conf = optarg;
			break;
		case 'h':
			fputs(setup_usage, stdout);
			return EXIT_SYNCED;
		default:
			fputs(setup_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return usage_error(setup_usage, "setup: unexpected argument",
		    argv[optind]);
	return setup_run(c, &o);
}

static int
cmd_tlsa(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, port = 25;
	char *end;
	long v;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    v > 65535)
				return usage_error(tlsa_usage,
				    "tlsa: --port must be 1 to 65535, not", optarg);
			port = (int)v;
			break;
		case 'h':
			fputs(tlsa_usage, stdout);
			return EXIT_SYNCED;
		default:
			fputs(tlsa_usage, stderr);
			return EXIT_USAGE;
		}
	}
	return tlsa_run(c, port, argv + optind, (size_t)(argc - optind));
}

/* Commands whose only option is --help. Returns -1 to go on (operands
 * from optind), or the exit status. */
static int
help_only(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return EXIT_SYNCED;
		}
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static int
cmd_release(int argc, char **argv, const struct conf *c)
{
	int rc = help_only(argc, argv, release_usage);

	if (rc >= 0)
		return rc;
	if (optind == argc) {
		fputs(release_usage, stderr);
		return EXIT_USAGE;
	}
	return sync_release(c, argv + optind, (size_t)(argc - optind));
}

static int
cmd_verify(int argc, char **argv, const struct conf *c)
{
	int rc = help_only(argc, argv, verify_usage);

	if (rc >= 0)
		return rc;
	return verify_run(c, argv + optind, (size_t)(argc - optind));
}

static int
cmd_watch(int argc, char **argv, const char *conf_path, int explicit_conf,
    struct conf *c)
{
	int rc = help_only(argc, argv, watch_usage);

	if (rc >= 0)
		return rc;
	if (optind != argc)
		return usage_error(watch_usage, "watch: unexpected argument",
		    argv[optind]);
	return watch_run(conf_path, explicit_conf, c);
}

static int
dispatch(const char *cmd, int argc, char **argv, const char *conf_path,
    int explicit_conf, struct conf *c)
{
	if (strcmp(cmd, "resync") == 0)
		return cmd_resync(argc, argv, c);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc, argv, c);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc, argv, c);
	if (strcmp(cmd, "setup") == 0)
		return cmd_setup(argc, argv, c);
	if (strcmp(cmd, "tlsa") == 0)
		return cmd_tlsa(argc, argv, c);
	if (strcmp(cmd, "release") == 0)
		return cmd_release(argc, argv, c);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv, c);
	return cmd_watch(argc, argv, conf_path, explicit_conf, c);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf_path = CONF_DEFAULT_PATH, *cmd;
	int ch, explicit_conf = 0, rc;
	struct conf c;

	/* Large blocks straight from mmap, always: LMDB callocs a 2 MB
	 * dirty list at each write open, and once glibc's threshold has
	 * grown past it (after the first is freed) each comes from the heap
	 * and is cleared page by page, most of a renewal's CPU. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	log_init("snisync");
	while ((ch = getopt_long(argc, argv, "+c:vhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			explicit_conf = 1;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_SYNCED;
		case 'V':
			printf("snisync %s\n", SNISYNC_VERSION);
			return EXIT_SYNCED;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "resync") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "watch") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "setup") != 0 && strcmp(cmd, "tlsa") != 0 &&
	    strcmp(cmd, "release") != 0 && strcmp(cmd, "verify") != 0)
		return usage_error(usage_text, "unknown command", cmd);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return dispatch(cmd, argc, argv, NULL, 0, NULL);
	if (conf_load(conf_path, explicit_conf, &c) == -1)
		return EXIT_CONFIG;
	rc = dispatch(cmd, argc, argv, conf_path, explicit_conf, &c);
	conf_free(&c);
	return rc;
}
