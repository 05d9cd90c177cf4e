/*
 * verify.c - `snisync verify`: the most common complaint about renewals
 * is "renewed on disk, old certificate still served"; this asks the
 * servers themselves. Every configured endpoint (verify.endpoints, on
 * 127.0.0.1) that accepts a connection is probed with each served name
 * as SNI (a wildcard with a made-up host under it), and the SHA-256 of
 * the leaf presented is compared with the fingerprint of the pair
 * snisync applied for that name.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "name.h"
#include "plan.h"
#include "status.h"
#include "sync.h"
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

int
verify_run(const struct conf *c, char **names, size_t n)
{
	const struct plan_entry **todo;
	size_t ntodo = 0, i, j, listening = 0, ok = 0, bad = 0, errs = 0;
	struct state st;
	struct plan plan;
	int rc;

	if (status_load(c, &st, &plan) == -1)
		return EXIT_APPLY;
	log_set_quiet(0);
	signal(SIGPIPE, SIG_IGN);	/* a server may close on us */
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
	for (j = 0; j < c->verify.nendpoints && ntodo > 0; j++) {
		const struct verify_endpoint *ep = &c->verify.endpoints[j];
		int up = 0;

		for (i = 0; i < ntodo; i++) {
			const struct pair *p = &st.pairs[todo[i]->pair];
			char sni[NAME_MAX_LEN + 32], fp[96], why[256] = "";
			int r;

			probe_name(todo[i]->name, sni, sizeof(sni));
			r = tls_probe(VERIFY_HOST, ep->port, ep->proto, sni,
			    c->verify.timeout_ms, fp, why, sizeof(why));
			if (r == 1)
				break;	/* nothing listens: not ours */
			up = 1;
			if (r == -1) {
				printf("error %s on %s:%d: %s\n", todo[i]->name,
				    tls_proto_name(ep->proto), ep->port, why);
				errs++;
			} else if (strcmp(fp, p->fingerprint) != 0) {
				printf("MISMATCH %s on %s:%d: serves %s; snisync "
				    "applied %s (lineage %s, serial %s)\n",
				    todo[i]->name, tls_proto_name(ep->proto),
				    ep->port, fp, p->fingerprint,
				    log_esc(p->lineage), p->serial);
				bad++;
			} else
				ok++;
		}
		listening += up;
	}
	printf("verify: %zu names on %zu endpoints listening on %s: %zu "
	    "served as applied, %zu mismatches, %zu errors\n", ntodo,
	    listening, VERIFY_HOST, ok, bad, errs);
	rc = bad || errs ? EXIT_REJECTED : EXIT_SYNCED;
	if (listening == 0 && ntodo > 0) {
		log_err("verify: no endpoint of verify.endpoints listens on %s",
		    VERIFY_HOST);
		rc = EXIT_APPLY;
	}
	free(todo);
	plan_free(&plan);
	state_free(&st);
	return rc;
}
