/*
 * tlsa.c - `snisync tlsa`: the TLSA records (RFC 6698, 7671) that match
 * what snisync serves now: "3 1 1" pins the served key (DANE-EE), "2 1 1"
 * the key of the CA that issued it (DANE-TA). Hashes come from the
 * served files (each checked against the ids the state records), not
 * from live/, so they match what Postfix and Dovecot were given. A wildcard
 * name is printed as a comment: a TLSA record is looked up under the
 * exact host name. A dual-algorithm name (an ECDSA and an RSA pair) gets
 * the records of both keys (the 2 1 1 record once when both share an
 * issuing key).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "fsio.h"
#include "log.h"
#include "name.h"
#include "plan.h"
#include "scan.h"
#include "exit.h"
#include "status.h"
#include "store.h"
#include "tlsa.h"
#include "util.h"

/* Prints the records of one pair serving name; ta: the 2 1 1 data printed
 * for the name so far ("" none), updated. 0, or -1 (logged). */
static int
print_pair(const struct conf *c, int port, const char *name,
    const struct pair *p, const struct state_hold *h, char ta_seen[65])
{
	char *served = xasprintf("%s/" STORE_SERVED, c->state_dir);
	char *legacy = xasprintf("%s/" STORE_LEGACY, c->state_dir);
	char why[PATH_MAX + 200], ee[65], ta[65];
	struct pair q = *p;
	const unsigned char *pem;
	size_t len;
	int rc = -1;

	q.key = q.chain = NULL;
	if (store_load(served, legacy, &q, why, sizeof(why)) == -1) {
		log_err("%s: %s", name, log_esc(why));
		goto out;
	}
	pem = q.chain;
	len = q.chainlen;
	if (cert_spki_sha256(pem, len, 0, ee) == -1) {
		log_err("%s: lineage %s: no certificate", name,
		    log_esc(p->lineage));
		goto out;
	}
	if (name_is_wildcard(name) && ta_seen[0] == '\0')
		printf("; %s: a wildcard has no TLSA owner name; publish the "
		    "records below under each host it serves\n", name);
	printf("%s_%d._tcp.%s. IN TLSA 3 1 1 %s\n",
	    name_is_wildcard(name) ? "; " : "", port, name, ee);
	if (cert_spki_sha256(pem, len, 1, ta) == 0 &&
	    strcmp(ta, ta_seen) != 0) {
		printf("%s_%d._tcp.%s. IN TLSA 2 1 1 %s\n",
		    name_is_wildcard(name) ? "; " : "", port, name, ta);
		memcpy(ta_seen, ta, 65);
	}
	if (h != NULL && h->spki[0] != '\0')
		printf("; held back (dane.hold_key_change), served after "
		    "`snisync release %s`: publish it first:\n"
		    "; _%d._tcp.%s. IN TLSA 3 1 1 %s\n", name, port, name,
		    h->spki);
	rc = 0;
out:
	if (q.key != NULL)
		free_wiped(q.key, q.keylen);
	free(q.chain);
	free(served);
	free(legacy);
	return rc;
}

/* Prints one name's records, for each pair serving it. 0, or -1. */
static int
print_name(const struct conf *c, int port, const struct plan_entry *e,
    const struct state *st)
{
	char ta_seen[65] = "";
	size_t ix[2], n = plan_entry_pairs(e, ix), k;
	int rc = 0;

	for (k = 0; k < n; k++)
		if (print_pair(c, port, e->name, &st->pairs[ix[k]],
		    state_hold_of(st, st->pairs[ix[k]].lineage), ta_seen) == -1)
			rc = -1;
	return rc;
}

int
tlsa_run(const struct conf *c, int port, char **names, size_t n)
{
	struct state st;
	struct plan plan;
	int rc = EXIT_SYNCED;
	size_t i;

	if (status_load(c, &st, &plan) == -1)
		return EXIT_APPLY;
	if (n == 0) {
		for (i = 0; i < plan.n; i++)
			if (print_name(c, port, &plan.e[i], &st) == -1)
				rc = EXIT_REJECTED;
	} else
		for (i = 0; i < n; i++) {
			const struct plan_entry *e = status_find(&plan,
			    names[i]);

			if (e == NULL) {
				rc = EXIT_REJECTED;
				continue;
			}
			if (print_name(c, port, e, &st) == -1)
				rc = EXIT_REJECTED;
		}
	plan_free(&plan);
	state_free(&st);
	return rc;
}
