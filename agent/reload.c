/*
 * reload.c - the reloads a run makes due, and Dovecot's confirmation.
 *
 * reload_run() runs each due service's reload command (an argv array,
 * with the command timeout: run.c) unless its default certificate is
 * mid-renewal, and sets the status each service reports; a reload that
 * fails stays due (the state records it) and is counted. After Dovecot's
 * reload it waits for a TLS handshake on an endpoint that completed one
 * before; when none completes, it puts the previous include back
 * (guard.c), reloads again and holds Dovecot back. reload_defaults()
 * reads which default certificates each service reads straight from
 * live/ (services.c asks them): a lineage that changed makes a reload
 * due, a failing one is reported, and while it is mid-renewal the
 * reload waits. Writes no file but the include it puts back.
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
reload(const struct work *w, const char *svc, char **argv)
{
	int status;

	if (argv == NULL) {
		log_info("%s: no reload command configured", svc);
		return 0;
	}
	if (run_cmd(argv, w->c->command_timeout, NULL, 0, &status) == -1) {
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
reload_defaults(struct work *w, struct svc_run *sv)
{
	const struct defaults *dp;
	size_t j, k;
	int i;

	/* The daemon asks at each full sync (its start, SIGHUP, the periodic
	 * resync) even when nothing changed: a renewal then reads the
	 * answers it keeps instead of running postconf and doveconf. */
	if ((w->nchanged == 0 && w->nfailing == 0 &&
	    !(w->o->daemon && w->o->nonly == 0)) ||
	    w->c->letsencrypt_dir == NULL)
		return;
	for (i = 0; i < SVC__MAX; i++) {
		if (!sv[i].on || sv[i].conf->query == NULL)
			continue;
		if (w->o->defer_reload) {
			/*
			 * Inside a certbot run (the deploy hook): asking
			 * doveconf costs a full parse of Dovecot's
			 * configuration (seconds at thousands of lineages)
			 * per renewed lineage. Whatever renewed, the
			 * service's reload is left pending instead: the
			 * next run (the post hook) reloads it once, which
			 * covers a default certificate among the renewals.
			 */
			if (w->nchanged > 0 && !sv[i].reload) {
				sv[i].reload = 1;
				log_debug("%s: default certificates not asked "
				    "(--defer-reload): a reload is left "
				    "pending for the renewal", sv[i].name);
			}
			continue;
		}
		dp = services_defaults(w->c, (enum svc_id)i);
		for (j = 0; j < dp->n; j++) {
			const struct default_use *u = &dp->v[j];
			const struct failing *f = NULL;
			char *params;

			for (k = 0; k < j; k++)
				if (strcmp(dp->v[k].lineage, u->lineage) == 0)
					break;
			if (k < j)
				continue;	/* reported with its first */
			for (k = 0; k < w->nfailing && f == NULL; k++)
				if (strcmp(w->failing[k].lineage,
				    u->lineage) == 0)
					f = &w->failing[k];
			if (f != NULL) {
				sv[i].hold |= f->transient;
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
			} else if (strv_has(w->changed, w->nchanged,
			    u->lineage) && !sv[i].for_default) {
				sv[i].for_default = sv[i].reload = 1;
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
 * endpoint where it completed one before (eps)? A configuration that
 * passes every check can still take the config process down (its memory
 * limit, a file it cannot open), and with it every login. Waits up to a
 * deadline that grows with the check's time (a big configuration takes
 * as long to parse after the reload); when no handshake completes, puts
 * the previous include back (when this run wrote a new one), reloads
 * again and asks again. Returns 0 confirmed (or nothing to ask), -1 not.
 */
static int
confirm_dovecot(struct work *w, struct svc_run *sv, const char *sni,
    const size_t *eps, size_t neps, off_t log_from)
{
	long long deadline = w->dc_check_ms > 0 ? 10000 + 3 * w->dc_check_ms :
	    (long long)w->c->command_timeout * 1000;
	char why[300], why2[300], logged[400];
	int tries = 0, tries2 = 0, ok2;
	long long t0 = util_mono_ms();

	if (neps == 0) {
		log_debug("dovecot: no endpoint of verify.endpoints completed "
		    "a handshake before the reload: not confirmed");
		return 0;
	}
	if (verify_dovecot_confirm(w->c, sni, eps, neps, deadline, &tries,
	    why, sizeof(why)) == 0) {
		log_debug("dovecot: a handshake completes after the reload "
		    "(%d probes, %lld ms)", tries, util_mono_ms() - t0);
		return 0;
	}
	guard_logged(w, log_from, logged, sizeof(logged));
	if (!sv->written) {
		log_err("dovecot: no TLS handshake completes after its reload "
		    "(%d probes in %lld ms; last: %s)%s%s", tries,
		    util_mono_ms() - t0, why, logged[0] ?
		    "; Dovecot logged: " : "", logged);
		return -1;
	}
	/* Dovecot's master throttles the services that failed to start
	 * (2 s, then 4, 8, 16 ...; a minute at most): give the previous
	 * config that long on top. */
	guard_restore(w);
	ok2 = reload(w, sv->name, sv->conf->reload) == 0 &&
	    verify_dovecot_confirm(w->c, sni, eps, neps, deadline + 60000,
	    &tries2, why2, sizeof(why2)) == 0;
	log_err("dovecot: no TLS handshake completes after the reload of the "
	    "new config (%zu blocks; %d probes in %lld ms; last: %s): put the "
	    "previous one back (%zu blocks) and reloaded: %s%s%s",
	    w->dc.blocks, tries, deadline, why, w->dc_had_old ?
	    dovecot_blocks((const char *)w->dc_old, w->dc_oldlen) : 0,
	    ok2 ? "handshakes complete again" : "still no handshake",
	    logged[0] ? "; Dovecot logged: " : "", logged);
	guard_hold(w, DOVECOT_HOLD_NO_HANDSHAKE);
	return -1;
}

void
reload_run(struct work *w, struct svc_run *sv)
{
	size_t *eps = NULL, neps = 0;
	off_t log_from = -1;
	const char *sni;
	int i;

	for (i = 0; i < SVC__MAX; i++) {
		if (!sv[i].reload)
			continue;
		if (sv[i].hold) {
			sv[i].status = sv[i].written || sv[i].files ?
			    "updated, reload held back: its default "
			    "certificate is mid-renewal" :
			    "reload held back: its default certificate is "
			    "mid-renewal";
			continue;
		}
		if (i == SVC_DOVECOT && !sv[i].written && !sv[i].files &&
		    guard_recheck(w) == -1) {
			sv[i].status = "pending reload held back: config "
			    "check fails";
			sv[i].failed = 1;
			continue;
		}
		/* Where does Dovecot answer now, before its reload? */
		sni = w->plan.n > 0 ? w->plan.e[0].name : "localhost";
		if (i == SVC_DOVECOT && sv[i].conf->reload != NULL) {
			eps = xcalloc(w->c->verify.nendpoints + 1,
			    sizeof(*eps));
			neps = verify_dovecot_endpoints(w->c, sni, eps);
			if (neps > 0)
				log_from = guard_log_size(w); /* log_path */
		}
		if (reload(w, sv[i].name, sv[i].conf->reload) == -1) {
			sv[i].status = "updated, reload failed (retried on the "
			    "next run)";
			sv[i].failed = 1;
			w->svc[i].failures++;
			continue;
		}
		sv[i].reload = 0;
		if (sv[i].conf->reload != NULL) {
			w->svc[i].reloads++;
			w->svc[i].last_reload = (long long)time(NULL);
		}
		if (sv[i].conf->reload != NULL)
			sv[i].status = sv[i].written ? "updated, reloaded" :
			    sv[i].files ? sv[i].held_back ? "held back, "
			    "renewed files of the config in service reloaded" :
			    "certificate files replaced, reloaded" :
			    sv[i].for_default ? "reloaded (default certificate "
			    "renewed)" : "reloaded (was pending)";
		if (i == SVC_DOVECOT && sv[i].conf->reload != NULL &&
		    confirm_dovecot(w, &sv[i], sni, eps, neps, log_from) == -1) {
			if (sv[i].written) {
				sv[i].status = "no handshake after the reload, "
				    "previous config put back";
				sv[i].written = 0;
				sv[i].held_back = 1;
			} else {
				sv[i].status = "reloaded, but no handshake "
				    "completes";
				sv[i].failed = 1;
			}
		}
	}
	free(eps);
}
