/*
 * status.c - `snisync status`: the applied state as a table or JSON.
 *
 * Everything comes from what the last sync saved (the state: pairs,
 * errors, reload counts; the last-sync, last-applied and last-success
 * stamp files), so
 * it is as current as the daemon or the last resync left it, and cheap.
 * Error texts were made printable when they were recorded (untrusted
 * parts escaped by the code that wrote them): printed as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dovecot.h"
#include "expiry.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "migrate.h"
#include "plan.h"
#include "report.h"
#include "exit.h"
#include "status.h"
#include "util.h"

static const char *
when(long long t)
{
	return t == 0 ? "never" : fmt_utc(t);
}

/* One row: a name and one pair serving it. */
static void
print_row(const struct status_view *v, const char *name,
    const struct pair *p)
{
	const struct state *st = v->st;
	const struct state_error *e = p->last_good ?
	    state_error_of(st, p->lineage) : NULL;
	long long left = p->not_after - v->now;
	char exp[32], since[32] = "-", ksince[32] = "-", held[400];
	const struct state_hold *h;
	const char *note = "-";

	int due = expiry_due(v->warn_days, p->not_before, p->not_after,
	    v->now);
	char rule[80], overdue[120];

	if (left < 0)
		snprintf(exp, sizeof(exp), "expired");
	else if (left >= 3 * 86400)
		snprintf(exp, sizeof(exp), "%lldd%s", left / 86400,
		    due ? "!" : "");
	else
		snprintf(exp, sizeof(exp), "%lldh%s", left / 3600,
		    due ? "!" : "");
	if (due && left >= 0) {
		snprintf(overdue, sizeof(overdue), "renewal overdue: %s",
		    expiry_rule(rule, sizeof(rule), v->warn_days,
		    p->not_before, p->not_after));
		note = overdue;
	}
	if (p->since != 0)
		snprintf(since, sizeof(since), "%.16s UTC", fmt_utc(p->since));
	if (p->key_since != 0)
		snprintf(ksince, sizeof(ksince), "%.10s",
		    fmt_utc(p->key_since));
	if (e == NULL && (h = state_hold_of(st, p->lineage)) != NULL) {
		snprintf(held, sizeof(held), "new key held since %.10s: "
		    "snisync release %s", fmt_utc(h->since), name);
		note = held;
	}
	printf("%-32s %-24s %-12s %-8s %-20s %-10s %s\n", name,
	    log_esc(p->lineage), p->key_desc[0] ? p->key_desc : "-", exp,
	    since, ksince, e != NULL ? e->error : note);
}

/* Dovecot's capacity, and whether it is held back. */
void
status_print_dovecot(const struct dovecot_state *d, size_t names)
{
	char adv[32];
	long long pct;

	if (d->held != DOVECOT_HOLD_NONE) {
		dovecot_vsz_advice(d->need, adv, sizeof(adv));
		printf("dovecot: HELD BACK since %s (%s): the config in service "
		    "lacks %zu of %zu names (%zu blocks in service); raise "
		    "service config { vsz_limit = %s }, then reload snisync\n",
		    when(d->held_since), state_hold_name(d->held),
		    d->lacking, names, d->held_blocks, adv);
	}
	if (d->measured == 0)
		return;
	if (d->need == 0) {
		printf("dovecot: capacity: %zu blocks; memory not measured (no "
		    "check command)\n", d->blocks);
		return;
	}
	if (d->limit == 0) {
		printf("dovecot: capacity: %zu blocks need about %lld MB; the "
		    "config service has no memory limit\n", d->blocks,
		    (d->need >> 20) + 1);
		return;
	}
	pct = d->need * 100 / d->limit;
	printf("dovecot: capacity: %zu blocks need about %lld MB of service "
	    "config's %lld MB (%lld %%)", d->blocks, (d->need >> 20) + 1,
	    d->limit >> 20, pct);
	if (pct >= DOVECOT_ADVISE_PCT) {
		dovecot_vsz_advice(d->need, adv, sizeof(adv));
		printf("; above %d %%: raise it with service config { "
		    "vsz_limit = %s }", DOVECOT_ADVISE_PCT, adv);
	}
	printf("\n");
}

static void
print_table(const struct status_view *v)
{
	const struct state *st = v->st;
	static const char *const svc[2] = { "postfix", "dovecot" };
	size_t i, ix[2], n, k;

	printf("last sync: %s; every valid lineage applied: %s\n",
	    when(v->last_sync), when(v->last_applied));
	if (st->nerrs > 0)
		printf("rejected: %zu lineage%s, since %s; last sync with "
		    "nothing rejected: %s\n", st->nerrs, st->nerrs == 1 ? "" :
		    "s", when(v->rejected_since), when(v->last_success));
	else
		printf("nothing rejected; last success: %s\n",
		    when(v->last_success));
	if (v->plan->n > 0)
		printf("%-32s %-24s %-12s %-8s %-20s %-10s %s\n", "NAME",
		    "LINEAGE", "KEY", "EXPIRES", "SERVED SINCE", "KEY SINCE",
		    "LAST ERROR");
	/* A dual-algorithm name has a second row for its RSA pair. */
	for (i = 0; i < v->plan->n; i++)
		for (n = plan_entry_pairs(&v->plan->e[i], ix), k = 0; k < n;
		    k++)
			print_row(v, v->plan->e[i].name, &st->pairs[ix[k]]);
	for (i = 0; i < st->nerrs; i++) {
		const struct state_error *e = &st->errs[i];
		int serves = 0;
		size_t j;

		for (j = 0; j < v->plan->n && !serves; j++)
			serves = plan_entry_serves(&v->plan->e[j], st->pairs,
			    e->lineage);
		if (serves)
			continue;
		printf("lineage %s: serves nothing: %s%s%s (since %s)\n",
		    log_esc(e->lineage), e->file ? e->file : "",
		    e->file ? ": " : "", e->error, when(e->since));
	}
	for (k = 0; k < 2; k++) {
		if (!v->enabled[k]) {
			printf("%s: off\n", svc[k]);
			continue;
		}
		printf("%s: %lld reloads, %lld failed, last reload %s%s\n",
		    svc[k], st->svc[k].reloads, st->svc[k].failures,
		    when(st->svc[k].last_reload), st->reload_pending[k] ?
		    "; a reload is pending" : "");
		if (k == 1)
			status_print_dovecot(&st->dovecot, v->plan->n);
	}
}

int
status_load(const struct conf *c, struct state *st, struct plan *plan)
{
	int rc;

	log_set_quiet(1);
	rc = migrate_load(c->state_dir, 0, 0, st);
	if (rc == -1) {
		memset(plan, 0, sizeof(*plan));
		return -1;
	}
	plan_build(st->pairs, st->n, plan);
	return 0;
}

const struct plan_entry *
status_find(const struct plan *plan, const char *arg)
{
	char norm[NAME_MAX_LEN + 1];
	const struct plan_entry *e = NULL;

	if (name_from_user(arg, norm) == NULL)
		e = plan_find(plan, norm);
	if (e == NULL)
		log_err("%s: not a name snisync serves", log_esc(arg));
	return e;
}

int
status_run(const struct conf *c, int json)
{
	char *s1 = xasprintf("%s/" STAMP_LAST_SYNC, c->state_dir);
	char *s2 = xasprintf("%s/" STAMP_LAST_SUCCESS, c->state_dir);
	char *s3 = xasprintf("%s/" STAMP_LAST_APPLIED, c->state_dir);
	struct status_view v = { 0 };
	struct state st;
	struct plan plan;
	int rc = EXIT_SYNCED;
	size_t i;

	if (status_load(c, &st, &plan) == -1) {
		free(s1);
		free(s2);
		free(s3);
		return EXIT_APPLY;
	}
	v.st = &st;
	v.plan = &plan;
	v.now = (long long)time(NULL);
	v.warn_days = c->watch.expiry_warn_days;
	v.last_sync = fsio_stamp_time(s1);
	v.last_success = fsio_stamp_time(s2);
	v.last_applied = fsio_stamp_time(s3);
	for (i = 0; i < st.nerrs; i++)
		if (v.rejected_since == 0 || (st.errs[i].since != 0 &&
		    st.errs[i].since < v.rejected_since))
			v.rejected_since = st.errs[i].since;
	v.enabled[0] = c->postfix.enabled;
	v.enabled[1] = c->dovecot.enabled;
	if (json) {
		char *text = report_status_json(&v);

		printf("%s\n", text);
		free(text);
	} else if (v.last_sync == 0 && st.n == 0 && st.nerrs == 0)
		printf("no state yet in %s: snisync has not synced; run "
		    "`snisync resync`\n", c->state_dir);
	else
		print_table(&v);
	if (st.nerrs > 0 || st.dovecot.held != DOVECOT_HOLD_NONE)
		rc = EXIT_REJECTED;
	for (i = 0; i < plan.n; i++) {
		size_t ix[2], k, n = plan_entry_pairs(&plan.e[i], ix);

		for (k = 0; k < n; k++)
			if (expiry_due(v.warn_days, st.pairs[ix[k]].not_before,
			    st.pairs[ix[k]].not_after, v.now))
				rc = EXIT_REJECTED;
	}
	plan_free(&plan);
	state_free(&st);
	free(s1);
	free(s2);
	free(s3);
	return rc;
}
