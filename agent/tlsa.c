/*
 * tlsa.c - `snisync tlsa`: the TLSA records (RFC 6698, 7671) that match
 * what snisync serves now: "3 1 1" pins the served key (DANE-EE); "2 1 1"
 * (DANE-TA) pins every intermediate of the issuer's family (issuers.h),
 * backups included, so a renewal that draws a sibling intermediate still
 * matches; an issuer of no known family gets its own record and a
 * warning; a root none. Hashes come from the served files (each checked
 * against the ids the state records), not from live/, so they match
 * what Postfix and Dovecot were given. A wildcard name is printed as a
 * comment: a TLSA record is looked up under the exact host name. A
 * dual-algorithm name (an ECDSA and an RSA pair) gets the records of
 * both keys, each 2 1 1 record once.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "fsio.h"
#include "issuers.h"
#include "log.h"
#include "name.h"
#include "plan.h"
#include "scan.h"
#include "exit.h"
#include "status.h"
#include "store.h"
#include "tlsa.h"
#include "util.h"

/* The 2 1 1 data printed for one name so far (a dual-algorithm name may
 * share them). */
struct ta_seen {
	char	v[16][65];
	size_t	n;
};

static int
ta_new(struct ta_seen *seen, const char *ta)
{
	size_t i;

	for (i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i], ta) == 0)
			return 0;
	if (seen->n < sizeof(seen->v) / sizeof(seen->v[0]))
		memcpy(seen->v[seen->n++], ta, 65);
	return 1;
}

static void
record(int port, const char *name, const char *usage, const char *data)
{
	printf("%s_%d._tcp.%s. IN TLSA %s %s\n", name_is_wildcard(name) ?
	    "; " : "", port, name, usage, data);
}

/* The 2 1 1 records for one pair whose chain's issuer is ta (cert 2 of
 * pem): every intermediate of its family, or its own key with a warning
 * when snisync does not know it, or none when it is a root. */
static void
print_ta(const struct issuers *is, int port, const char *name,
    const unsigned char *pem, size_t len, struct ta_seen *seen,
    struct ta_seen *warned)
{
	char ta[65], cn[300], members[600] = "";
	const struct issuer *fam;
	int root;
	size_t i;

	if (cert_spki_sha256(pem, len, 1, ta) == -1 ||
	    cert_ca_describe(pem, len, 1, cn, sizeof(cn), &root) == -1) {
		printf("; %s: the chain holds no issuer: no 2 1 1 record\n",
		    name);
		return;
	}
	if (root) {
		printf("; %s: issued by %s, a root: no 2 1 1 record (one for a "
		    "root matches only while the chain carries it)\n", name,
		    cn);
		return;
	}
	if ((fam = issuers_find(is, ta)) == NULL) {
		if (ta_new(warned, ta))	/* once per issuer */
			log_warn("tlsa: %s: its issuer %s is not an "
			    "intermediate snisync knows (Let's Encrypt's as "
			    "of %s, and dane.issuers_file): its 2 1 1 record "
			    "covers that one intermediate and breaks when a "
			    "renewal draws another; if it belongs to a new "
			    "generation, publish its records before renewals "
			    "use it", name, cn, issuers_builtin_date);
		if (ta_new(seen, ta)) {
			printf("; %s: issued by %s (not a known intermediate: "
			    "this record covers it alone)\n", name, cn);
			record(port, name, "2 1 1", ta);
		}
		return;
	}
	for (i = 0; i < is->n; i++)
		if (strcmp(is->v[i].family, fam->family) == 0) {
			size_t k = strlen(members);

			snprintf(members + k, sizeof(members) - k, "%s%s%s",
			    k ? " " : "", is->v[i].name, is->v[i].backup ?
			    " (backup)" : "");
		}
	if (!ta_new(seen, ta))
		return;
	printf("; %s: issued by %s, one of %s: %s\n", name, fam->name,
	    fam->family, members);
	for (i = 0; i < is->n; i++)
		if (strcmp(is->v[i].family, fam->family) == 0) {
			ta_new(seen, is->v[i].spki);
			record(port, name, "2 1 1", is->v[i].spki);
		}
}

/* Prints the records of one pair serving name. 0, or -1 (logged). */
static int
print_pair(const struct conf *c, const struct issuers *is, int port,
    const char *name, const struct pair *p, const struct state_hold *h,
    struct ta_seen *seen, struct ta_seen *warned)
{
	char *served = xasprintf("%s/" STORE_SERVED, c->state_dir);
	char *legacy = xasprintf("%s/" STORE_LEGACY, c->state_dir);
	char why[PATH_MAX + 200], ee[65];
	struct pair q = *p;
	int rc = -1;

	q.key = q.chain = NULL;
	if (store_load(served, legacy, &q, why, sizeof(why)) == -1) {
		log_err("%s: %s", name, log_esc(why));
		goto out;
	}
	if (cert_spki_sha256(q.chain, q.chainlen, 0, ee) == -1) {
		log_err("%s: lineage %s: no certificate", name,
		    log_esc(p->lineage));
		goto out;
	}
	if (name_is_wildcard(name) && seen->n == 0)
		printf("; %s: a wildcard has no TLSA owner name; publish the "
		    "records below under each host it serves\n", name);
	printf("; %s: lineage %s, %s key\n", name, log_esc(p->lineage),
	    p->key_desc);
	record(port, name, "3 1 1", ee);
	print_ta(is, port, name, q.chain, q.chainlen, seen, warned);
	if (h != NULL && h->spki[0] != '\0')
		printf("; held back (dane.hold_key_change), served after "
		    "`snisync release %s`: publish it first:\n"
		    "; _%d._tcp.%s. IN TLSA 3 1 1 %s\n", name, port, name,
		    h->spki);
	rc = 0;
out:
	if (q.key != NULL)
		util_free_wiped(q.key, q.keylen);
	free(q.chain);
	free(served);
	free(legacy);
	return rc;
}

/* Prints one name's records, for each pair serving it. 0, or -1. */
static int
print_name(const struct conf *c, const struct issuers *is, int port,
    const struct plan_entry *e, const struct state *st,
    struct ta_seen *warned)
{
	struct ta_seen seen = { .n = 0 };
	size_t ix[2], n = plan_entry_pairs(e, ix), k;
	int rc = 0;

	for (k = 0; k < n; k++)
		if (print_pair(c, is, port, e->name, &st->pairs[ix[k]],
		    state_hold_of(st, st->pairs[ix[k]].lineage), &seen,
		    warned) == -1)
			rc = -1;
	return rc;
}

int
tlsa_run(const struct conf *c, int port, char **names, size_t n)
{
	struct ta_seen warned = { .n = 0 };
	struct issuers is;
	struct state st;
	struct plan plan;
	char why[PATH_MAX + 200];
	int rc = EXIT_SYNCED;
	size_t i;

	if (issuers_load(c->issuers_file, &is, why, sizeof(why)) == -1) {
		log_err("dane.issuers_file: %s", log_esc(why));
		return EXIT_CONFIG;
	}
	if (status_load(c, &st, &plan) == -1) {
		issuers_free(&is);
		return EXIT_APPLY;
	}
	printf("; 3 1 1 (DANE-EE) pins the served key: it breaks when a "
	    "renewal makes a new key\n; (certbot's default; --reuse-key "
	    "keeps it; dane.hold_key_change serves a new one only\n; after "
	    "`snisync release`, once its record is published).\n"
	    "; 2 1 1 (DANE-TA) pins an issuing intermediate: all of the "
	    "issuer's current set\n; for the key type are listed, backups "
	    "included, so a renewal that draws another\n; still matches; "
	    "they break when the issuer moves to a new generation.\n"
	    "; No root is pinned. Publish both kinds: either one matching "
	    "is enough.\n");
	if (n == 0) {
		for (i = 0; i < plan.n; i++)
			if (print_name(c, &is, port, &plan.e[i], &st,
			    &warned) == -1)
				rc = EXIT_REJECTED;
	} else
		for (i = 0; i < n; i++) {
			const struct plan_entry *e = status_find(&plan,
			    names[i]);

			if (e == NULL) {
				rc = EXIT_REJECTED;
				continue;
			}
			if (print_name(c, &is, port, e, &st, &warned) == -1)
				rc = EXIT_REJECTED;
		}
	plan_free(&plan);
	state_free(&st);
	issuers_free(&is);
	return rc;
}
