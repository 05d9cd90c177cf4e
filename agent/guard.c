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
 * hold at an earlier include is kept in struct guard (work.h: guard.c's
 * own, which sync.c saves) with its reason, its start and its counts
 * (dovecot_hold), and a daemon retries it only when
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
report_no_fit(const struct plan *plan, const struct guard *g,
    const char *text, size_t len, long long limit, long long need)
{
	char adv[32];

	dovecot_vsz_advice(need, adv, sizeof(adv));
	log_err("dovecot: the new configuration needs about %lld MB but "
	    "service config is limited to %lld MB (%zu blocks, %zu names): "
	    "kept the previous one (%zu blocks); raise it with: "
	    "service config { vsz_limit = %s }", (need >> 20) + 1,
	    limit >> 20, dovecot_blocks(text, len), plan->n,
	    g->had_old ? dovecot_blocks((const char *)g->old, g->oldlen) : 0,
	    adv);
}

void
guard_init(struct guard *g, const struct dovecot_state *dc)
{
	memset(g, 0, sizeof(*g));
	g->dc = *dc;
}

void
guard_free(struct guard *g)
{
	free(g->old);
	memset(g, 0, sizeof(*g));
}

/* The blocks of the include in service (g->old) and the names of the
 * plan it lacks. */
static void
held_counts(const struct plan *plan, struct guard *g)
{
	g->dc.held_blocks = g->had_old ? dovecot_blocks(
	    (const char *)g->old, g->oldlen) : 0;
	g->dc.lacking = dovecot_lacking(g->had_old ?
	    (const char *)g->old : NULL, g->oldlen, plan);
}

/* Dovecot is held back at the include it has (reason h); a hold that
 * goes on keeps its start. */
void
guard_hold(const struct work_ctx *x, const struct plan *plan,
    struct guard *g, enum dovecot_hold h)
{
	if (g->dc.held == DOVECOT_HOLD_NONE)
		g->dc.held_since = (long long)x->now;
	g->dc.held = h;
	g->dc.held_limit = services_dovecot_limit(x->c);
	held_counts(plan, g);
}

void
guard_unhold(struct guard *g)
{
	g->dc.held = DOVECOT_HOLD_NONE;
	g->dc.held_since = g->dc.held_limit = 0;
	g->dc.held_blocks = g->dc.lacking = 0;
}

/* Reads the include in service into g->old. 0, or -1 when it exists
 * but cannot be read (logged). */
static int
read_dovecot(const struct work_ctx *x, struct guard *g)
{
	const char *path = x->c->dovecot.path;
	char why[256];
	struct stat st;

	if (g->had_old || g->old != NULL)
		return 0;
	g->had_old = fsio_read(path, SCAN_MAX_FILE * 64, &g->old,
	    &g->oldlen, NULL, why, sizeof(why)) == 0;
	if (!g->had_old && lstat(path, &st) == 0) {
		log_err("dovecot: %s: %s", log_esc(path), why);
		return -1;
	}
	return 0;
}

/* Puts the include this run found back in service (or removes the new
 * one when there was none). */
void
guard_restore(const struct work_ctx *x, const struct guard *g)
{
	if (g->had_old)
		fsio_replace(x->c->dovecot.path, g->old, g->oldlen, 0644);
	else
		fsio_remove(x->c->dovecot.path);
}

/* Writes the Dovecot file and checks it, under the memory limit of
 * Dovecot's config service (a configuration that passes doveconf but
 * not that limit takes every login down); restores the old one when the
 * check fails. What the check measured goes to g->dc. Returns 0
 * applied, -1 rejected, -2 does not fit (old file in place). */
int
guard_write(const struct work_ctx *x, const struct plan *plan,
    enum dovecot_syntax syntax, struct guard *g, const char *text,
    size_t len)
{
	int status;
	long long limit, peak = 0, t0;

	if (read_dovecot(x, g) == -1)
		return -1;
	if (fsio_replace(x->c->dovecot.path, text, len, 0644) == -1)
		return -1;
	g->dc.blocks = dovecot_blocks(text, len);
	g->dc.measured = (long long)x->now;
	g->dc.need = 0;
	if (x->c->dovecot.check == NULL) {
		g->dc.limit = 0;	/* not asked: nothing to hold it to */
		return 0;
	}
	limit = g->dc.limit = services_dovecot_limit(x->c);
	t0 = util_mono_ms();
	if (run_cmd_mem(x->c->dovecot.check, x->c->command_timeout, NULL, 0,
	    &status, dovecot_check_limit(syntax, limit), &peak) == 0 &&
	    status == 0) {
		g->check_ms = util_mono_ms() - t0;
		g->dc.need = dovecot_need(syntax, peak * 1024);
		log_debug("dovecot: %s accepts the new config (peak %lld KB, "
		    "need %lld MB, config service limit %lld MB)",
		    run_argv_str(x->c->dovecot.check), peak, g->dc.need >> 20,
		    limit >> 20);
		if (limit <= 0 || g->dc.need <= limit)
			return 0;
		/* 2.4: the check's room is no measure, the need is. */
		report_no_fit(plan, g, text, len, limit, g->dc.need);
		guard_restore(x, g);
		return -2;
	}
	if (limit > 0 && run_cmd_mem(x->c->dovecot.check,
	    x->c->command_timeout, NULL, 0, &status, 0, &peak) == 0 &&
	    status == 0) {
		g->dc.need = dovecot_need(syntax, peak * 1024);
		report_no_fit(plan, g, text, len, limit, g->dc.need);
		guard_restore(x, g);
		return -2;
	}
	log_err("dovecot: %s rejected the new config (exit status "
	    "%d%s%s); previous config restored, dovecot not reloaded",
	    run_argv_str(x->c->dovecot.check), status,
	    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	guard_restore(x, g);
	return -1;
}

/* A Dovecot reload left pending by an earlier run: check the file first,
 * that run may have died before its check finished. */
int
guard_recheck(const struct work_ctx *x)
{
	int status;

	if (x->c->dovecot.check == NULL)
		return 0;
	if (run_cmd(x->c->dovecot.check, x->c->command_timeout, NULL, 0,
	    &status) == 0 && status == 0)
		return 0;
	log_err("dovecot: %s rejects the current config (exit status %d%s%s); "
	    "not reloading", run_argv_str(x->c->dovecot.check), status,
	    run_last_stderr()[0] ? ": " : "", run_last_stderr());
	return -1;
}

/* The size of Dovecot's log (log_path, when it is a file), or -1. */
off_t
guard_log_size(const struct work_ctx *x)
{
	const char *log = services_dovecot_log(x->c);
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
guard_logged(const struct work_ctx *x, off_t from, char *out, size_t sz)
{
	static const char *const what[] = { "vsz_limit", "Out of memory",
	    "Fatal:", "Error:" };
	char text[65536], line[320];
	off_t size = guard_log_size(x);
	ssize_t len = 0;
	size_t i, k, s, e;
	int fd;

	out[0] = '\0';
	if (from < 0 || size <= from)
		return;
	if (size - from > (off_t)sizeof(text))
		from = size - (off_t)sizeof(text);
	if ((fd = open(services_dovecot_log(x->c), O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
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
guard_still_held(const struct work_ctx *x, const struct plan *plan,
    struct guard *g)
{
	const struct sync_opts *o = x->o;
	long long limit;

	if (g->dc.held == DOVECOT_HOLD_NONE || !o->daemon || o->retry_held)
		return 0;
	if ((limit = services_dovecot_limit(x->c)) != g->dc.held_limit) {
		log_info("dovecot: service config's limit is now %lld MB "
		    "(was %lld MB): trying the new config", limit >> 20,
		    g->dc.held_limit >> 20);
		return 0;
	}
	if (read_dovecot(x, g) == -1)
		return 0;
	held_counts(plan, g);
	log_err("dovecot: held back since %s (%s): the config in service "
	    "lacks %zu of %zu names; tried again after SIGHUP or a change of "
	    "service config's vsz_limit", fmt_utc(g->dc.held_since),
	    state_hold_name(g->dc.held), g->dc.lacking, plan->n);
	return 1;
}
