/*
 * guard.c - Dovecot's side of a commit: a new include stays in service
 * only when Dovecot's own check accepts it, within its memory limit.
 *
 * guard_write() replaces the include, then runs dovecot.check under
 * the memory limit of Dovecot's config service (services.c asks it), as
 * the version's calibration says
 * (dovecot_check_limit(), dovecot_need()): a configuration that passes
 * doveconf but not that limit takes every login down. Returns 0
 * applied, -1 rejected, -2 does not fit; on either failure the include
 * this run found is back in place (or removed when there was none). A
 * hold at an earlier include is kept in w->dc with its reason, its start
 * and its counts (dovecot_hold), and a daemon retries it only when
 * guard_still_held() says so. Also: the check of a reload an earlier run
 * left pending, and what Dovecot logged when it went wrong.
 * Never reloads Dovecot (reload.c does); writes no file but the include.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dovecot.h"
#include "fsio.h"
#include "log.h"
#include "run.h"
#include "scan.h"
#include "services.h"
#include "state.h"
#include "util.h"
#include "work.h"

/*
 * The check passed without a limit but failed under the config service's:
 * the new configuration does not fit. One line with the numbers.
 */
static void
report_no_fit(struct work *w, const char *text, size_t len, long long limit,
    long long need)
{
	char adv[32];

	dovecot_vsz_advice(need, adv, sizeof(adv));
	log_err("dovecot: the new configuration needs about %lld MB but "
	    "service config is limited to %lld MB (%zu blocks, %zu names): "
	    "kept the previous one (%zu blocks); raise it with: "
	    "service config { vsz_limit = %s }", (need >> 20) + 1,
	    limit >> 20, dovecot_blocks(text, len), w->plan.n,
	    w->dc_had_old ? dovecot_blocks((const char *)w->dc_old,
	    w->dc_oldlen) : 0, adv);
}

/* The blocks of the include in service (w->dc_old) and the names of
 * the plan it lacks. */
static void
held_counts(struct work *w)
{
	w->dc.held_blocks = w->dc_had_old ? dovecot_blocks(
	    (const char *)w->dc_old, w->dc_oldlen) : 0;
	w->dc.lacking = dovecot_lacking(w->dc_had_old ?
	    (const char *)w->dc_old : NULL, w->dc_oldlen, &w->plan);
}

/* Dovecot is held back at the include it has (reason h); a hold that
 * goes on keeps its start. */
void
guard_hold(struct work *w, enum dovecot_hold h)
{
	if (w->dc.held == DOVECOT_HOLD_NONE)
		w->dc.held_since = (long long)w->now;
	w->dc.held = h;
	w->dc.held_limit = services_dovecot_limit(w->c);
	held_counts(w);
}

void
guard_unhold(struct work *w)
{
	w->dc.held = DOVECOT_HOLD_NONE;
	w->dc.held_since = w->dc.held_limit = 0;
	w->dc.held_blocks = w->dc.lacking = 0;
}

/* Reads the include in service into w->dc_old. 0, or -1 when it exists
 * but cannot be read (logged). */
static int
read_dovecot(struct work *w)
{
	const char *path = w->c->dovecot.path;
	char why[256];
	struct stat st;

	if (w->dc_had_old || w->dc_old != NULL)
		return 0;
	w->dc_had_old = fsio_read(path, SCAN_MAX_FILE * 64, &w->dc_old,
	    &w->dc_oldlen, NULL, why, sizeof(why)) == 0;
	if (!w->dc_had_old && lstat(path, &st) == 0) {
		log_err("dovecot: %s: %s", log_esc(path), why);
		return -1;
	}
	return 0;
}

/* Puts the include this run found back in service (or removes the new
 * one when there was none). */
void
guard_restore(struct work *w)
{
	if (w->dc_had_old)
		fsio_replace(w->c->dovecot.path, w->dc_old, w->dc_oldlen, 0644);
	else
		fsio_remove(w->c->dovecot.path);
}

/* Writes the Dovecot file and checks it, under the memory limit of
 * Dovecot's config service (a configuration that passes doveconf but
 * not that limit takes every login down); restores the old one when the
 * check fails. What the check measured goes to w->dc. Returns 0
 * applied, -1 rejected, -2 does not fit (old file in place). */
int
guard_write(struct work *w, const char *text, size_t len)
{
	int status;
	long long limit, peak = 0, t0;

	if (read_dovecot(w) == -1)
		return -1;
	if (fsio_replace(w->c->dovecot.path, text, len, 0644) == -1)
		return -1;
	w->dc.blocks = dovecot_blocks(text, len);
	w->dc.measured = (long long)w->now;
	w->dc.need = 0;
	if (w->c->dovecot.check == NULL) {
		w->dc.limit = 0;	/* not asked: nothing to hold it to */
		return 0;
	}
	limit = w->dc.limit = services_dovecot_limit(w->c);
	t0 = util_mono_ms();
	if (run_cmd_mem(w->c->dovecot.check, w->c->command_timeout, NULL, 0,
	    &status, dovecot_check_limit(w->syntax, limit), &peak) == 0 &&
	    status == 0) {
		w->dc_check_ms = util_mono_ms() - t0;
		w->dc.need = dovecot_need(w->syntax, peak * 1024);
		log_debug("dovecot: %s accepts the new config (peak %lld KB, "
		    "need %lld MB, config service limit %lld MB)",
		    run_argv_str(w->c->dovecot.check), peak, w->dc.need >> 20,
		    limit >> 20);
		if (limit <= 0 || w->dc.need <= limit)
			return 0;
		/* 2.4: the check's room is no measure, the need is. */
		report_no_fit(w, text, len, limit, w->dc.need);
		guard_restore(w);
		return -2;
	}
	if (limit > 0 && run_cmd_mem(w->c->dovecot.check,
	    w->c->command_timeout, NULL, 0, &status, 0, &peak) == 0 &&
	    status == 0) {
		w->dc.need = dovecot_need(w->syntax, peak * 1024);
		report_no_fit(w, text, len, limit, w->dc.need);
		guard_restore(w);
		return -2;
	}
	log_err("dovecot: %s rejected the new config (exit status "
	    "%d%s%s); previous config restored, dovecot not reloaded",
	    run_argv_str(w->c->dovecot.check), status,
	    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	guard_restore(w);
	return -1;
}

/* A Dovecot reload left pending by an earlier run: check the file first,
 * that run may have died before its check finished. */
int
guard_recheck(struct work *w)
{
	int status;

	if (w->c->dovecot.check == NULL)
		return 0;
	if (run_cmd(w->c->dovecot.check, w->c->command_timeout, NULL, 0,
	    &status) == 0 && status == 0)
		return 0;
	log_err("dovecot: %s rejects the current config (exit status %d%s%s); "
	    "not reloading", run_argv_str(w->c->dovecot.check), status,
	    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	return -1;
}

/* The size of Dovecot's log (log_path, when it is a file), or -1. */
off_t
guard_log_size(struct work *w)
{
	const char *log = services_dovecot_log(w->c);
	struct stat st;

	if (log[0] != '/' || strncmp(log, "/dev/", 5) == 0 ||
	    stat(log, &st) == -1 || !S_ISREG(st.st_mode))
		return -1;
	return st.st_size;
}

/* What Dovecot logged after offset from that went wrong: its last line
 * naming vsz_limit (2.3 says which limit it hit), else "Out of memory",
 * "Fatal:", "Error:" (of the last 64 KB), escaped; "" when there is
 * none or no log file. */
void
guard_logged(struct work *w, off_t from, char *out, size_t sz)
{
	static const char *const what[] = { "vsz_limit", "Out of memory",
	    "Fatal:", "Error:" };
	char text[65536], line[320];
	off_t size = guard_log_size(w);
	ssize_t len = 0;
	size_t i, k, s, e;
	int fd;

	out[0] = '\0';
	if (from < 0 || size <= from)
		return;
	if (size - from > (off_t)sizeof(text))
		from = size - (off_t)sizeof(text);
	if ((fd = open(services_dovecot_log(w->c), O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return;
	len = pread(fd, text, (size_t)(size - from), from);
	close(fd);
	for (k = 0; k < sizeof(what) / sizeof(what[0]); k++)
		for (e = len > 0 ? (size_t)len : 0; e > 0;
		    e = s > 0 ? s - 1 : 0) {
			for (s = e; s > 0 && text[s - 1] != '\n'; s--)
				;
			if (memmem(text + s, e - s, what[k],
			    strlen(what[k])) == NULL)
				continue;
			for (i = 0; s + i < e && i + 1 < sizeof(line); i++)
				line[i] = text[s + i];
			line[i] = '\0';
			snprintf(out, sz, "%s", log_esc(line));
			return;
		}
}

/*
 * Dovecot is held back at an earlier include and this run leaves it so:
 * the daemon tries a new include again at its start, after SIGHUP
 * (o->retry_held) and once the config service's limit changed, not on
 * every event; `snisync resync` always tries. One line says so.
 */
int
guard_still_held(struct work *w, const struct sync_opts *o)
{
	long long limit;

	if (w->dc.held == DOVECOT_HOLD_NONE || !o->daemon || o->retry_held)
		return 0;
	if ((limit = services_dovecot_limit(w->c)) != w->dc.held_limit) {
		log_info("dovecot: service config's limit is now %lld MB "
		    "(was %lld MB): trying the new config", limit >> 20,
		    w->dc.held_limit >> 20);
		return 0;
	}
	if (read_dovecot(w) == -1)
		return 0;
	held_counts(w);
	log_err("dovecot: held back since %s (%s): the config in service "
	    "lacks %zu of %zu names; tried again after SIGHUP or a change of "
	    "service config's vsz_limit", fmt_utc(w->dc.held_since),
	    state_hold_name(w->dc.held), w->dc.lacking, w->plan.n);
	return 1;
}
