/*
 * fuzz_conf.c - libFuzzer target for conf_load() and conf_free().
 *
 * Input: the bytes of a configuration file. conf_load() takes a path and
 * opens it with O_NOFOLLOW, so a /proc/self/fd link will not do: each
 * process makes one temp file (mkstemp under $TMPDIR, else /tmp; removed
 * at exit) and rewrites it per input. Must never crash or leak. When the
 * file is accepted, the result must keep conf.h's promises: absolute,
 * plain paths (letters, digits, / . _ - + @; no /./ or /../; no trailing
 * slash), integers within their documented ranges, argv arrays NULL or
 * non-empty strings. -1 leaves nothing to free: the struct is not freed
 * then, so LeakSanitizer catches anything left behind.
 *
 * conf_load() logs each error: the stdio stream stderr is pointed at
 * /dev/null (glibc lets a program assign it). fd 2 itself stays open,
 * because libFuzzer and the sanitizers report there.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "name.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_file_init("fuzz_conf");
	return 0;
}

static int
path_ok(const char *s)
{
	const char *p;
	size_t len;

	if (s == NULL || s[0] != '/')
		return 0;
	len = strlen(s);
	if (len > 512 || (len > 1 && s[len - 1] == '/'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._-+@", *p) != NULL))
			return 0;
	return strstr(s, "/./") == NULL && strstr(s, "/../") == NULL;
}

static int
argv_ok(char **argv)
{
	size_t i;

	if (argv == NULL)
		return 1;
	if (argv[0] == NULL)
		return 0;	/* an empty array must come back as NULL */
	for (i = 0; argv[i] != NULL; i++)
		if (argv[i][0] == '\0')
			return 0;
	return 1;
}

static int
in(int v, int lo, int hi)
{
	return v >= lo && v <= hi;
}

static void
check_conf(const struct conf *c)
{
	FUZZ_CHECK(path_ok(c->letsencrypt_dir));
	FUZZ_CHECK(path_ok(c->state_dir));
	FUZZ_CHECK(path_ok(c->postfix.path));
	FUZZ_CHECK(path_ok(c->dovecot.path));
	FUZZ_CHECK(in(c->command_timeout, 1, 3600));
	FUZZ_CHECK(in(c->lock_timeout, 0, 3600));
	FUZZ_CHECK(in(c->postfix.enabled, 0, 1) && in(c->dovecot.enabled, 0, 1));
	FUZZ_CHECK(argv_ok(c->postfix.reload));
	FUZZ_CHECK(argv_ok(c->dovecot.reload));
	FUZZ_CHECK(argv_ok(c->dovecot.check));
	FUZZ_CHECK(in((int)c->dovecot.syntax, 0, DOVECOT__MAX - 1));
	FUZZ_CHECK(in(c->watch.settle_ms, 10, 600000));
	FUZZ_CHECK(in(c->watch.settle_max_ms, 10, 3600000));
	FUZZ_CHECK(in(c->watch.report_after_s, 0, 86400));
	FUZZ_CHECK(in(c->watch.resync_interval_s, 60, 30 * 86400));
	FUZZ_CHECK(c->watch.expiry_warn_days == EXPIRY_WARN_UNSET ||
	    in(c->watch.expiry_warn_days, 0, 365));
	FUZZ_CHECK(in(c->watch.certbot_wait_s, 0, 86400));
	FUZZ_CHECK(c->nhold == 0 || c->hold != NULL);
	for (size_t i = 0; i < c->nhold; i++) {
		char norm[NAME_MAX_LEN + 1];

		/* Held names are stored normalised. */
		FUZZ_CHECK(name_normalize(c->hold[i], strlen(c->hold[i]),
		    norm) == NULL && strcmp(norm, c->hold[i]) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;

	fuzz_file_put(data, size);
	if (conf_load(fuzz_file_path, 1, &c) == -1)
		return 0;
	check_conf(&c);
	conf_free(&c);
	conf_free(NULL);
	return 0;
}
