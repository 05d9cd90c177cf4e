/*
 * verify.c - `snisync verify`: the most common complaint about renewals
 * is "renewed on disk, old certificate still served"; this asks the
 * servers themselves. Every configured endpoint (verify.endpoints, on
 * 127.0.0.1) that accepts a connection is probed with each served name
 * as SNI (a wildcard with a made-up host under it), and the SHA-256 of
 * the leaf presented is compared with the fingerprint of the pair
 * snisync applied for that name. A dual-algorithm name is probed twice,
 * by an RSA-only and by an ECDSA-only client, each compared with the
 * matching pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "name.h"
#include "plan.h"
#include "exit.h"
#include "status.h"
#include "tls.h"
#include "util.h"
#include "verify.h"

#define VERIFY_HOST	"127.0.0.1"

/* The SNI to send for a plan name: a wildcard gets a host under it. */
static void
probe_name(const char *name, char *out, size_t sz)
{
	if (name_is_wildcard(name))
		snprintf(out, sz, "snisync-verify%s", name + 1);
	else
		snprintf(out, sz, "%s", name);
}

struct tally {
	size_t	listening, ok, bad, errs;
};

/*
 * One probe of one name: pair p is expected. A dual-algorithm name is
 * probed once per pair, by a client that offers only that pair's
 * signature algorithms (label " (RSA client)"); any other name once, by
 * a client that offers OpenSSL's defaults.
 */
static int
probe_one(const struct conf *c, const struct verify_endpoint *ep,
    const char *name, const struct pair *p, int dual, int how,
    struct tally *t)
{
	char sni[NAME_MAX_LEN + 32], fp[96], why[256] = "", label[32] = "";
	const char *sigalgs = NULL;
	int r;

	if (dual) {
		int rsa = pair_alg(p) == PAIR_ALG_RSA;

		sigalgs = rsa ? TLS_SIGALGS_RSA : TLS_SIGALGS_ECDSA;
		snprintf(label, sizeof(label), " (%s client)",
		    rsa ? "RSA" : "ECDSA");
	}
	probe_name(name, sni, sizeof(sni));
	r = tls_probe(VERIFY_HOST, ep->port, ep->proto, sni, sigalgs,
	    c->verify.timeout_ms, fp, why, sizeof(why));
	if (r == 1)
		return 1;	/* nothing listens: not ours */
	if (r == -1) {
		t->errs++;
		if (how == 1)
			printf("error %s on %s:%d%s: %s\n", name,
			    tls_proto_name(ep->proto), ep->port, label, why);
		else if (how == 2)
			log_err("verify: %s on %s:%d%s: %s", name,
			    tls_proto_name(ep->proto), ep->port, label, why);
	} else if (strcmp(fp, p->fingerprint) != 0) {
		t->bad++;
		if (how == 1)
			printf("MISMATCH %s on %s:%d%s: serves %s; snisync "
			    "applied %s (lineage %s, serial %s)\n", name,
			    tls_proto_name(ep->proto), ep->port, label, fp,
			    p->fingerprint, log_esc(p->lineage), p->serial);
		else if (how == 2)
			log_err("verify: %s on %s:%d%s still presents %s, not "
			    "the certificate applied (lineage %s, serial %s)",
			    name, tls_proto_name(ep->proto), ep->port, label,
			    fp, log_esc(p->lineage), p->serial);
	} else
		t->ok++;
	return 0;
}

/*
 * Probes each endpoint with each name of todo. how: 1 prints each
 * mismatch and error on stdout, 2 logs them as errors, 0 says nothing.
 */
static void
probe_all(const struct conf *c, const struct state *st,
    const struct plan_entry **todo, size_t ntodo, int how, struct tally *t)
{
	size_t i, j, ix[2], n, k;

	memset(t, 0, sizeof(*t));
	for (j = 0; j < c->verify.nendpoints && ntodo > 0; j++) {
		const struct verify_endpoint *ep = &c->verify.endpoints[j];
		int up = 0, closed = 0;

		for (i = 0; i < ntodo && !closed; i++)
			for (n = plan_entry_pairs(todo[i], ix), k = 0;
			    k < n && !closed; k++) {
				closed = probe_one(c, ep, todo[i]->name,
				    &st->pairs[ix[k]], n == 2, how, t);
				up |= !closed;
			}
		t->listening += up;
	}
}

int
verify_run(const struct conf *c, char **names, size_t n)
{
	const struct plan_entry **todo;
	size_t ntodo = 0, i, errs = 0;
	struct state st;
	struct plan plan;
	struct tally t;
	int rc;

	if (status_load(c, &st, &plan) == -1)
		return EXIT_APPLY;
	log_set_quiet(0);
	todo = xcalloc(plan.n + n + 1, sizeof(*todo));
	if (n == 0)
		for (i = 0; i < plan.n; i++)
			todo[ntodo++] = &plan.e[i];
	for (i = 0; i < n; i++) {
		const struct plan_entry *e = status_find(&plan, names[i]);

		if (e == NULL)
			errs++;
		else
			todo[ntodo++] = e;
	}
	probe_all(c, &st, todo, ntodo, 1, &t);
	t.errs += errs;
	printf("verify: %zu names on %zu endpoints listening on %s: %zu "
	    "served as applied, %zu mismatches, %zu errors\n", ntodo,
	    t.listening, VERIFY_HOST, t.ok, t.bad, t.errs);
	rc = t.bad || t.errs ? EXIT_REJECTED : EXIT_SYNCED;
	if (t.listening == 0 && ntodo > 0) {
		log_err("verify: no endpoint of verify.endpoints listens on %s",
		    VERIFY_HOST);
		rc = EXIT_APPLY;
	}
	free(todo);
	plan_free(&plan);
	state_free(&st);
	return rc;
}

int
verify_lineages(const struct conf *c, char *const *lineages, size_t n,
    int retry_ms)
{
	const struct plan_entry **todo;
	size_t ntodo = 0, i;
	struct state st;
	struct plan plan;
	struct tally t;

	if (status_load(c, &st, &plan) == -1)
		return -1;
	log_set_quiet(0);
	todo = xcalloc(plan.n + 1, sizeof(*todo));
	for (i = 0; i < plan.n; i++) {
		size_t ix[2], np = plan_entry_pairs(&plan.e[i], ix), k;
		int want = n == 0;

		for (k = 0; k < np; k++)
			want |= strv_has(lineages, n, st.pairs[ix[k]].lineage);
		if (want)
			todo[ntodo++] = &plan.e[i];
	}
	probe_all(c, &st, todo, ntodo, 0, &t);
	if ((t.bad || t.errs) && retry_ms > 0) {
		/* A server may still be finishing its reload: once more. */
		struct timespec ts = { retry_ms / 1000,
		    (long)(retry_ms % 1000) * 1000000 };

		log_debug("verify: %zu mismatches, %zu errors; again in %d ms",
		    t.bad, t.errs, retry_ms);
		nanosleep(&ts, NULL);
		probe_all(c, &st, todo, ntodo, 2, &t);
	}
	if (t.bad == 0 && t.errs == 0)
		log_info("verify: %zu names on %zu endpoints: served as "
		    "applied", ntodo, t.listening);
	free(todo);
	plan_free(&plan);
	state_free(&st);
	return (int)(t.bad + t.errs);
}

/* ---- Dovecot after its reload ---- */

/* Dovecot's greeting, IMAP's or POP3's. */
static int
dovecot_greets(const char *g)
{
	return strncmp(g, "* OK", 4) == 0 || strncmp(g, "+OK", 3) == 0;
}

size_t
verify_dovecot_endpoints(const struct conf *c, const char *sni, size_t *idx)
{
	char fp[96], greet[128], why[256], name[NAME_MAX_LEN + 32];
	size_t j, n = 0;

	probe_name(sni, name, sizeof(name));
	for (j = 0; j < c->verify.nendpoints; j++) {
		const struct verify_endpoint *ep = &c->verify.endpoints[j];

		if (ep->proto == TLS_SMTP)
			continue;
		if (tls_probe_greeting(VERIFY_HOST, ep->port, ep->proto, name,
		    NULL, c->verify.timeout_ms, fp, greet, sizeof(greet), why,
		    sizeof(why)) == 0 && dovecot_greets(greet))
			idx[n++] = j;
	}
	return n;
}

int
verify_dovecot_confirm(const struct conf *c, const char *sni,
    const size_t *idx, size_t n, long long deadline_ms, int *tries,
    char *why, size_t whysz)
{
	long long end = util_mono_ms() + deadline_ms, left;
	char fp[96], greet[128], r_why[256], name[NAME_MAX_LEN + 32];
	size_t k;
	int t = 0, r;

	probe_name(sni, name, sizeof(name));
	snprintf(why, whysz, "no endpoint to probe");
	while (n > 0) {
		for (k = 0; k < n; k++) {
			const struct verify_endpoint *ep =
			    &c->verify.endpoints[idx[k]];

			left = end - util_mono_ms();
			if (left < 100)
				left = 100;
			t++;
			r = tls_probe_greeting(VERIFY_HOST, ep->port,
			    ep->proto, name, NULL, left < c->verify.timeout_ms ?
			    (int)left : c->verify.timeout_ms, fp, greet,
			    sizeof(greet), r_why, sizeof(r_why));
			if (r == 0 && dovecot_greets(greet)) {
				*tries = t;
				return 0;
			}
			if (r == -1 && ep->proto != TLS_DIRECT &&
			    greet[0] == '\0')
				snprintf(r_why, sizeof(r_why), "no greeting");
			snprintf(why, whysz, "%s:%d: %s",
			    tls_proto_name(ep->proto), ep->port, r == 1 ?
			    "connection refused" : r == 0 ? "no greeting "
			    "after the handshake" : r_why);
		}
		if (util_mono_ms() + 500 >= end || t >= VERIFY_DOVECOT_TRIES)
			break;
		nanosleep(&(struct timespec){ 0, 500 * 1000000L }, NULL);
	}
	*tries = t;
	return -1;
}
