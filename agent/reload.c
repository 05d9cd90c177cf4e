/*
 * reload.c - the reloads a run makes due, and Dovecot's confirmation.
 *
 * reload_run() runs each due service's reload command (an argv array,
 * with the command timeout: run.c) unless its default certificate is
 * mid-renewal, and returns what happened and the status each service
 * reports (struct reload_out); a reload that fails stays due (the state
 * records it) and is counted. After Dovecot's reload it waits for a TLS
 * handshake on an endpoint that completed one before; when none
 * completes after the reload of a new include, it says so, sync.c puts
 * the previous include back (guard.c) and reload_rollback() reloads
 * again. reload_defaults()
 * reads which default certificates each service reads straight from
 * live/ (services.c asks them): a lineage that changed makes a reload
 * due, a failing one is reported, and while it is mid-renewal the
 * reload waits. Writes no file.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "defaults.h"
#include "dovecot.h"
#include "log.h"
#include "run.h"
#include "services.h"
#include "util.h"
#include "verify.h"
#include "work.h"

static int
reload(const struct work_ctx *x, const char *svc, char **argv)
{
	int status;

	if (argv == NULL) {
		log_info("%s: no reload command configured", svc);
		return 0;
	}
	if (run_cmd(argv, x->c->command_timeout, NULL, 0, &status) == -1) {
		log_err("%s: reload failed: %s", svc, run_argv_str(argv));
		return -1;
	}
	if (status != 0) {
		log_err("%s: reload failed: %s: exit status %d%s%s", svc,
		    run_argv_str(argv), status, run_last_stderr()[0] ?
		    ": " : "", run_last_stderr());
		return -1;
	}
	log_info("%s: reloaded (%s: exit status 0)", svc, run_argv_str(argv));
	return 0;
}

/*
 * Default certificates that a service reads straight from live/ (asked
 * only when some lineage changed or fails in this run): a service whose
 * default uses a lineage that changed is reloaded even when none of its
 * SNI entries changed; one whose default uses a failing lineage is warned
 * about, and while that lineage is mid-renewal its reload waits (the
 * service would read the new key beside the old certificate).
 */
/* The settings of dp that read the lineage of dp->v[j], as "a" or "a (and
 * b, c)": Postfix's cert and key files, and tlsproxy's copies of smtpd's,
 * name one lineage several times; it is reported once. */
static char *
default_params(const struct defaults *dp, size_t j)
{
	struct buf b = { 0 };
	size_t k, more = 0;

	buf_adds(&b, dp->v[j].param);
	for (k = j + 1; k < dp->n; k++)
		if (strcmp(dp->v[k].lineage, dp->v[j].lineage) == 0)
			buf_addf(&b, "%s%s", more++ ? ", " : " (and ",
			    dp->v[k].param);
	if (more)
		buf_adds(&b, ")");
	return b.p;
}

void
reload_defaults(const struct work_ctx *x, const struct validated *v,
    const struct svc_run *sv, struct defaults_due *dd)
{
	const struct defaults *dp;
	size_t j, k;
	int i;

	memset(dd, 0, sizeof(*dd));
	/* The daemon asks at each full sync (its start, SIGHUP, the periodic
	 * resync) even when nothing changed: a renewal then reads the
	 * answers it keeps instead of running postconf and doveconf. */
	if ((v->nchanged == 0 && v->nfailing == 0 &&
	    !(x->o->daemon && x->o->nonly == 0)) ||
	    x->c->letsencrypt_dir == NULL)
		return;
	for (i = 0; i < SVC__MAX; i++) {
		if (!sv[i].on || sv[i].conf->query == NULL)
			continue;
		if (x->o->defer_reload) {
			/*
			 * Inside a certbot run (the deploy hook): asking
			 * doveconf costs a full parse of Dovecot's
			 * configuration (seconds at thousands of lineages)
			 * per renewed lineage. Whatever renewed, the
			 * service's reload is left pending instead: the
			 * next run (the post hook) reloads it once, which
			 * covers a default certificate among the renewals.
			 */
			if (v->nchanged > 0 && !sv[i].reload) {
				dd->reload[i] = 1;
				log_debug("%s: default certificates not asked "
				    "(--defer-reload): a reload is left "
				    "pending for the renewal", sv[i].name);
			}
			continue;
		}
		dp = services_defaults(x->c, (enum svc_id)i);
		for (j = 0; j < dp->n; j++) {
			const struct default_use *u = &dp->v[j];
			const struct failing *f = NULL;
			char *params;

			for (k = 0; k < j; k++)
				if (strcmp(dp->v[k].lineage, u->lineage) == 0)
					break;
			if (k < j)
				continue;	/* reported with its first */
			for (k = 0; k < v->nfailing && f == NULL; k++)
				if (strcmp(v->failing[k].lineage,
				    u->lineage) == 0)
					f = &v->failing[k];
			if (f != NULL) {
				dd->hold[i] |= f->transient;
				params = default_params(dp, j);
				(f->deferred ? log_info : log_warn)("%s: %s "
				    "reads lineage %s from live/, which is %s: "
				    "%s%s", sv[i].name, params,
				    log_esc(u->lineage), f->transient ?
				    "mid-renewal or half-swapped" : "invalid",
				    f->why, f->transient ? "; reload held "
				    "back until it is whole" : "; the service "
				    "serves it as it is at its next restart");
				free(params);
			} else if (strv_has(v->changed, v->nchanged,
			    u->lineage) && !dd->for_default[i]) {
				dd->for_default[i] = dd->reload[i] = 1;
				params = default_params(dp, j);
				log_info("%s: %s reads lineage %s, which "
				    "changed: reload due", sv[i].name, params,
				    log_esc(u->lineage));
				free(params);
			}
		}
	}
}

/*
 * After a Dovecot reload: does Dovecot still complete a handshake on an
 * endpoint where it completed one before (out->eps)? A configuration
 * that passes every check can still take the config process down (its
 * memory limit, a file it cannot open), and with it every login. Waits
 * up to a deadline that grows with the check's time (a big configuration
 * takes as long to parse after the reload). Returns 0 confirmed (or
 * nothing to ask), -1 not: logged when the include in service is not
 * new (sv->written), else what the probes saw is in out for
 * reload_rollback().
 */
static int
confirm_dovecot(const struct work_ctx *x, const struct guard *g,
    const struct svc_run *sv, off_t log_from, struct reload_out *out)
{
	long long t0 = util_mono_ms();

	out->deadline = g->check_ms > 0 ? 10000 + 3 * g->check_ms :
	    (long long)x->c->command_timeout * 1000;
	if (out->neps == 0) {
		log_debug("dovecot: no endpoint of verify.endpoints completed "
		    "a handshake before the reload: not confirmed");
		return 0;
	}
	if (verify_dovecot_confirm(x->c, out->sni, out->eps, out->neps,
	    out->deadline, &out->tries, out->why, sizeof(out->why)) == 0) {
		log_debug("dovecot: a handshake completes after the reload "
		    "(%d probes, %lld ms)", out->tries, util_mono_ms() - t0);
		return 0;
	}
	guard_logged(x, log_from, out->logged, sizeof(out->logged));
	if (!sv->written) {
		log_err("dovecot: no TLS handshake completes after its reload "
		    "(%d probes in %lld ms; last: %s)%s%s", out->tries,
		    util_mono_ms() - t0, out->why, out->logged[0] ?
		    "; Dovecot logged: " : "", out->logged);
		return -1;
	}
	out->no_handshake = 1;
	return -1;
}

/*
 * The previous include is back in service (sync.c: guard_restore()):
 * Dovecot's master throttles the services that failed to start (2 s,
 * then 4, 8, 16 ...; a minute at most), so the previous config gets that
 * long on top of the deadline. One line says what happened.
 */
void
reload_rollback(const struct work_ctx *x, const struct guard *g,
    const struct svc_run *sv, struct reload_out *out)
{
	char why2[300];
	int tries2 = 0, ok2;

	ok2 = reload(x, sv->name, sv->conf->reload) == 0 &&
	    verify_dovecot_confirm(x->c, out->sni, out->eps, out->neps,
	    out->deadline + 60000, &tries2, why2, sizeof(why2)) == 0;
	log_err("dovecot: no TLS handshake completes after the reload of the "
	    "new config (%zu blocks; %d probes in %lld ms; last: %s): put the "
	    "previous one back (%zu blocks) and reloaded: %s%s%s",
	    g->dc.blocks, out->tries, out->deadline, out->why, g->had_old ?
	    dovecot_blocks((const char *)g->old, g->oldlen) : 0,
	    ok2 ? "handshakes complete again" : "still no handshake",
	    out->logged[0] ? "; Dovecot logged: " : "", out->logged);
	out->status[SVC_DOVECOT] = "no handshake after the reload, previous "
	    "config put back";
}

void
reload_out_free(struct reload_out *out)
{
	free(out->eps);
	memset(out, 0, sizeof(*out));
}

void
reload_run(const struct work_ctx *x, const struct plan *plan,
    const struct guard *g, const struct svc_run *sv, struct reload_out *out)
{
	off_t log_from = -1;
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < SVC__MAX; i++) {
		if (!sv[i].reload)
			continue;
		if (sv[i].hold) {
			out->status[i] = sv[i].written || sv[i].files ?
			    "updated, reload held back: its default "
			    "certificate is mid-renewal" :
			    "reload held back: its default certificate is "
			    "mid-renewal";
			continue;
		}
		if (i == SVC_DOVECOT && !sv[i].written && !sv[i].files &&
		    guard_recheck(x) == -1) {
			out->status[i] = "pending reload held back: config "
			    "check fails";
			out->failed[i] = 1;
			continue;
		}
		/* Where does Dovecot answer now, before its reload? */
		out->sni = plan->n > 0 ? plan->e[0].name : "localhost";
		if (i == SVC_DOVECOT && sv[i].conf->reload != NULL) {
			out->eps = xcalloc(x->c->verify.nendpoints + 1,
			    sizeof(*out->eps));
			out->neps = verify_dovecot_endpoints(x->c, out->sni,
			    out->eps);
			if (out->neps > 0)
				log_from = guard_log_size(x); /* log_path */
		}
		if (reload(x, sv[i].name, sv[i].conf->reload) == -1) {
			out->status[i] = "updated, reload failed (retried on "
			    "the next run)";
			out->failed[i] = 1;
			out->svc[i].failures++;
			continue;
		}
		out->reloaded[i] = 1;
		if (sv[i].conf->reload != NULL) {
			out->svc[i].reloads++;
			out->svc[i].last_reload = (long long)time(NULL);
		}
		if (sv[i].conf->reload != NULL)
			out->status[i] = sv[i].written ? "updated, reloaded" :
			    sv[i].files ? sv[i].held_back ? "held back, "
			    "renewed files of the config in service reloaded" :
			    "certificate files replaced, reloaded" :
			    sv[i].for_default ? "reloaded (default certificate "
			    "renewed)" : "reloaded (was pending)";
		if (i == SVC_DOVECOT && sv[i].conf->reload != NULL &&
		    confirm_dovecot(x, g, &sv[i], log_from, out) == -1 &&
		    !out->no_handshake) {
			out->status[i] = "reloaded, but no handshake completes";
			out->failed[i] = 1;
		}
	}
}
