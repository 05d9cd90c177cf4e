/*
 * log.c - logging.
 *
 * Lines go to stderr as "snisync: warning: text". Under systemd (stderr is
 * the journal stream, JOURNAL_STREAM matches) each line starts with a
 * syslog priority "<N>" instead, which journald turns into the priority.
 * log_esc() makes untrusted strings safe to print on one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define ESC_MAX		200
#define ESC_BUFS	8

static const char *prog = "snisync";
static int verbose;
static int quiet;
static int journal;
static int deferring;		/* log_defer(): lines wait in held */
static char *held;
static size_t heldlen, heldcap;

void
log_init(const char *progname)
{
	const char *js;
	struct stat st;
	unsigned long dev, ino;

	if (progname != NULL)
		prog = progname;
	js = getenv("JOURNAL_STREAM");
	if (js != NULL && sscanf(js, "%lu:%lu", &dev, &ino) == 2 &&
	    fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		journal = 1;
}

void
log_set_verbose(int v)
{
	verbose = v;
}

void
log_set_quiet(int q)
{
	quiet = q;
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (deferring) {
		size_t n = strlen(line), need = heldlen + 1 + strlen(tag) +
		    n + 2;
		char *p;

		if (need > heldcap) {
			heldcap = need * 2;
			if ((p = realloc(held, heldcap)) == NULL)
				goto now;	/* no room: say it now */
			held = p;
		}
		held[heldlen++] = (char)prio;
		heldlen += (size_t)sprintf(held + heldlen, "%s%s", tag,
		    line) + 1;
		return;
	}
now:
	if (journal)
		fprintf(stderr, "<%d>%s%s\n", prio, tag, line);
	else
		fprintf(stderr, "%s: %s%s\n", prog, tag, line);
}

void
log_defer(void)
{
	deferring = 1;
	heldlen = 0;
}

void
log_defer_end(int emit)
{
	size_t i = 0;

	deferring = 0;
	while (emit && i < heldlen) {
		int prio = held[i++];
		const char *text = held + i;

		if (journal)
			fprintf(stderr, "<%d>%s\n", prio, text);
		else
			fprintf(stderr, "%s: %s\n", prog, text);
		i += strlen(text) + 1;
	}
	heldlen = 0;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog(7, "debug: ", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vlog(6, "", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(4, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(3, "error: ", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	log_defer_end(1);	/* what led here, first */
	va_start(ap, fmt);
	vlog(2, "fatal: ", fmt, ap);
	va_end(ap);
	exit(70);
}

const char *
log_escn(const char *s, size_t len)
{
	/* Per thread: validation runs on several threads. */
	static _Thread_local char bufs[ESC_BUFS][ESC_MAX * 4 + 8];
	static _Thread_local int next;
	char *out, *o;
	size_t i;

	out = bufs[next];
	next = (next + 1) % ESC_BUFS;
	if (s == NULL)
		return "(null)";
	o = out;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == ESC_MAX) {
			memcpy(o, "...", 4);
			return out;
		}
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"') {
			snprintf(o, 5, "\\x%02x", c);
			o += 4;
		} else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

const char *
log_esc(const char *s)
{
	return log_escn(s, s == NULL ? 0 : strlen(s));
}
