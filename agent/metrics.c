/*
 * metrics.c - Prometheus text exposition format 0.0.4: one HELP and one
 * TYPE line per metric family, then its samples; label values escaped
 * (backslash, double quote, newline); families in a fixed order, samples
 * sorted, so an unchanged state renders the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

/* A label value: \ " and newline escaped; bytes outside printable ASCII
 * (a lineage directory name may hold anything) become '?', so the file
 * stays valid UTF-8. */
static void
add_label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\')
			buf_adds(b, "\\\\");
		else if (ch == '"')
			buf_adds(b, "\\\"");
		else if (ch == '\n')
			buf_adds(b, "\\n");
		else if (ch < 0x20 || ch > 0x7e)
			buf_adds(b, "?");
		else
			buf_add(b, s, 1);
	}
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
name_sample(struct buf *b, const char *metric, const char *name,
    const char *lineage, long long v)
{
	buf_addf(b, "%s{name=\"", metric);
	add_label(b, name);
	buf_adds(b, "\",lineage=\"");
	add_label(b, lineage);
	buf_addf(b, "\"} %lld\n", v);
}

enum name_metric { NAME_EXPIRY, NAME_START, NAME_SINCE, NAME_KEY_SINCE,
    NAME_INFO };

/* One sample per name and pair serving it (two for a dual-algorithm
 * name: its lineages differ). */
static void
name_samples(struct buf *b, const struct state *st, const struct plan *plan,
    enum name_metric m)
{
	static const char *const metric[] = {
	    "snisync_certificate_expiry_timestamp_seconds",
	    "snisync_certificate_not_before_timestamp_seconds",
	    "snisync_certificate_served_since_timestamp_seconds",
	    "snisync_key_served_since_timestamp_seconds",
	    "snisync_certificate_info" };
	size_t i, ix[2], n, k;

	for (i = 0; i < plan->n; i++)
		for (n = plan_entry_pairs(&plan->e[i], ix), k = 0; k < n; k++) {
			const struct pair *p = &st->pairs[ix[k]];

			if (m == NAME_INFO) {
				buf_addf(b, "%s{name=\"", metric[m]);
				add_label(b, plan->e[i].name);
				buf_adds(b, "\",lineage=\"");
				add_label(b, p->lineage);
				buf_adds(b, "\",key_type=\"");
				add_label(b, p->key_desc);
				buf_adds(b, "\"} 1\n");
				continue;
			}
			name_sample(b, metric[m], plan->e[i].name, p->lineage,
			    m == NAME_EXPIRY ? p->not_after : m == NAME_START ?
			    p->not_before : m == NAME_SINCE ? p->since :
			    p->key_since);
		}
}

static void
lineage_sample(struct buf *b, const char *metric, const char *lineage,
    long long v)
{
	buf_addf(b, "%s{lineage=\"", metric);
	add_label(b, lineage);
	buf_addf(b, "\"} %lld\n", v);
}


char *
metrics_render(const struct state *st, const struct plan *plan,
    long long last_sync, long long last_success, size_t *len)
{
	static const char *const svc[2] = { "postfix", "dovecot" };
	struct buf b = { 0 };
	const char **failing;
	size_t i, nf = 0;
	int k;

	family(&b, "snisync_certificate_expiry_timestamp_seconds", "gauge",
	    "notAfter of the certificate served for a name (Unix time).");
	name_samples(&b, st, plan, NAME_EXPIRY);
	family(&b, "snisync_certificate_not_before_timestamp_seconds",
	    "gauge", "notBefore of the certificate served for a name (Unix "
	    "time): with the expiry, its lifetime; snisync warns when less "
	    "than a quarter of it is left.");
	name_samples(&b, st, plan, NAME_START);
	family(&b, "snisync_certificate_served_since_timestamp_seconds",
	    "gauge", "When the certificate served for a name was first "
	    "applied (Unix time).");
	name_samples(&b, st, plan, NAME_SINCE);
	family(&b, "snisync_key_served_since_timestamp_seconds", "gauge",
	    "Since when a name's lineage serves its current key (Unix time); "
	    "a recent value after a renewal means DANE TLSA 3 1 1 records "
	    "must follow.");
	name_samples(&b, st, plan, NAME_KEY_SINCE);
	family(&b, "snisync_certificate_info", "gauge",
	    "1 for each certificate served for a name, with its key type (a "
	    "dual-algorithm name has an ECDSA and an RSA one).");
	name_samples(&b, st, plan, NAME_INFO);

	/* One sample per failing lineage, sorted, each once. */
	failing = xcalloc(st->nerrs + 1, sizeof(*failing));
	for (i = 0; i < st->nerrs; i++)
		failing[nf++] = st->errs[i].lineage;
	qsort(failing, nf, sizeof(*failing), strv_cmp);
	family(&b, "snisync_lineage_error", "gauge",
	    "1 while a lineage fails validation (its last good pair, if any, "
	    "keeps serving).");
	for (i = 0; i < nf; i++)
		if (i == 0 || strcmp(failing[i], failing[i - 1]) != 0)
			lineage_sample(&b, "snisync_lineage_error", failing[i],
			    1);
	free(failing);
	family(&b, "snisync_lineage_errors_total", "counter",
	    "Times a lineage started failing or failed for another reason.");
	for (i = 0; i < st->ncounts; i++)
		lineage_sample(&b, "snisync_lineage_errors_total",
		    st->counts[i].lineage, st->counts[i].n);

	family(&b, "snisync_key_change_held", "gauge",
	    "1 while a lineage's new key waits for `snisync release` "
	    "(dane.hold_key_change); its previous pair keeps serving.");
	for (i = 0; i < st->nholds; i++)
		lineage_sample(&b, "snisync_key_change_held",
		    st->holds[i].lineage, 1);
	family(&b, "snisync_last_sync_timestamp_seconds", "gauge",
	    "End of the last sync, whatever its result (Unix time).");
	buf_addf(&b, "snisync_last_sync_timestamp_seconds %lld\n", last_sync);
	family(&b, "snisync_last_success_timestamp_seconds", "gauge",
	    "End of the last sync that applied every lineage and wrote and "
	    "reloaded every output (Unix time; 0: never).");
	buf_addf(&b, "snisync_last_success_timestamp_seconds %lld\n",
	    last_success);
	family(&b, "snisync_reloads_total", "counter",
	    "Reload commands that succeeded.");
	for (k = 0; k < 2; k++)
		buf_addf(&b, "snisync_reloads_total{service=\"%s\"} %lld\n",
		    svc[k], st->svc[k].reloads);
	family(&b, "snisync_reload_failures_total", "counter",
	    "Reload commands that failed or timed out.");
	for (k = 0; k < 2; k++)
		buf_addf(&b, "snisync_reload_failures_total{service=\"%s\"} "
		    "%lld\n", svc[k], st->svc[k].failures);
	family(&b, "snisync_dovecot_held_back_since_timestamp_seconds",
	    "gauge", "Since when Dovecot keeps an earlier include because the "
	    "new one does not fit its config service's memory or took its "
	    "handshakes down (Unix time; 0: not held back).");
	buf_addf(&b, "snisync_dovecot_held_back_since_timestamp_seconds "
	    "%lld\n", st->dovecot.held == DOVECOT_HOLD_NONE ? 0 :
	    st->dovecot.held_since);
	family(&b, "snisync_dovecot_names_lacking", "gauge",
	    "Names Postfix serves that the Dovecot include in service lacks "
	    "while Dovecot is held back.");
	buf_addf(&b, "snisync_dovecot_names_lacking %zu\n",
	    st->dovecot.held == DOVECOT_HOLD_NONE ? 0 : st->dovecot.lacking);
	family(&b, "snisync_dovecot_config_blocks", "gauge",
	    "local_name blocks of the Dovecot include last checked.");
	buf_addf(&b, "snisync_dovecot_config_blocks %zu\n",
	    st->dovecot.blocks);
	family(&b, "snisync_dovecot_config_memory_bytes", "gauge",
	    "What the last check of a new Dovecot include needed (need) and "
	    "what Dovecot's config service may use (limit; 0: none), "
	    "in bytes.");
	buf_addf(&b, "snisync_dovecot_config_memory_bytes{kind=\"need\"} "
	    "%lld\nsnisync_dovecot_config_memory_bytes{kind=\"limit\"} "
	    "%lld\n", st->dovecot.need, st->dovecot.limit);
	*len = b.len;
	return b.p;
}
