/*
 * report.c - the JSON snisync prints (report.h): `snisync check --json`
 * (report_json()) and `snisync status --json` (report_status_json(), schema 1,
 * documented in snisync(8)); with conf.c and state_json.c, one of the
 * three files that include <jansson.h>.
 *
 * Pure: each call turns what it is given into one malloc'd string
 * (object keys sorted, indented by two, so the same input prints the
 * same text); it reads no file, writes nothing, logs nothing and keeps
 * nothing between calls. Out of memory is fatal. Lineage names, and
 * check's errors, may hold any byte: they are escaped (log_esc()) first,
 * and a string jansson still refuses (not UTF-8) prints as "?" rather
 * than losing its key. Times are RFC 3339 strings in status (null:
 * never) and Unix seconds in check.
 */
#include <stddef.h>

#include <jansson.h>

#include "expiry.h"
#include "log.h"
#include "plan.h"
#include "report.h"
#include "state.h"
#include "util.h"

static json_t *
jstr(const char *s)
{
	json_t *v = json_string(s ? s : "");

	/* Everything we store passed validation, so it is ASCII. */
	return v ? v : json_string("?");
}

static json_t *
id_to_json(const struct fsio_id *id)
{
	json_t *o = json_object();

	json_object_set_new(o, "dev", json_integer((json_int_t)id->dev));
	json_object_set_new(o, "ino", json_integer((json_int_t)id->ino));
	json_object_set_new(o, "size", json_integer((json_int_t)id->size));
	json_object_set_new(o, "mtime_ns", json_integer(id->mtime_ns));
	return o;
}

static json_t *
pair_to_json(const struct pair *p)
{
	json_t *o = json_object(), *names = json_array();
	size_t i;

	for (i = 0; i < p->nnames; i++)
		json_array_append_new(names, jstr(p->names[i]));
	json_object_set_new(o, "lineage", jstr(p->lineage));
	json_object_set_new(o, "key", jstr(p->key_id));
	json_object_set_new(o, "chain", jstr(p->chain_id));
	json_object_set_new(o, "names", names);
	json_object_set_new(o, "not_before", json_integer(p->not_before));
	json_object_set_new(o, "not_after", json_integer(p->not_after));
	json_object_set_new(o, "key_type", jstr(p->key_desc));
	json_object_set_new(o, "serial", jstr(p->serial));
	json_object_set_new(o, "fingerprint", jstr(p->fingerprint));
	json_object_set_new(o, "last_good", json_boolean(p->last_good));
	if (p->since != 0)
		json_object_set_new(o, "since", json_integer(p->since));
	if (p->src_key != NULL && p->src_chain != NULL) {
		json_t *src = json_object();

		json_object_set_new(src, "key", jstr(p->src_key));
		json_object_set_new(src, "key_id", id_to_json(&p->src_key_id));
		json_object_set_new(src, "chain", jstr(p->src_chain));
		json_object_set_new(src, "chain_id",
		    id_to_json(&p->src_chain_id));
		json_object_set_new(o, "source", src);
	}
	return o;
}

/* ---- check --json ---- */

char *
report_json(const struct report_row *rows, size_t n, long long now)
{
	json_t *root = json_object(), *arr = json_array();
	char *text;
	size_t i, j;

	json_object_set_new(root, "now", json_integer(now));
	for (i = 0; i < n; i++) {
		const struct report_row *r = &rows[i];
		json_t *o = json_object(), *served = json_array();

		/* Lineage names and errors may hold any byte: escape. */
		json_object_set_new(o, "lineage", jstr(log_esc(r->lineage)));
		json_object_set_new(o, "verdict", jstr(r->verdict));
		json_object_set_new(o, "file", r->file ? jstr(r->file) :
		    json_null());
		json_object_set_new(o, "error", r->error ?
		    jstr(log_esc(r->error)) : json_null());
		if (r->pair != NULL) {
			json_t *p = pair_to_json(r->pair);

			json_object_del(p, "lineage");
			json_object_del(p, "last_good");
			json_object_set_new(p, "expires_in_days", json_integer(
			    (r->pair->not_after - now) / 86400));
			json_object_set_new(p, "expiry_warning",
			    json_boolean(r->expiry_due));
			json_object_set_new(o, "certificate", p);
		} else
			json_object_set_new(o, "certificate", json_null());
		for (j = 0; j < r->nserved; j++)
			json_array_append_new(served, jstr(r->served[j]));
		json_object_set_new(o, "served_names", served);
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "lineages", arr);
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		log_fatal("out of memory");
	return text;
}

/* ---- status --json ---- */

static json_t *
jtime(long long t)
{
	return t == 0 ? json_null() : json_string(fmt_rfc3339(t));
}

static long long
floor_days(long long secs)
{
	return secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
}

/* What status --json says of one pair serving a name (also the "alt"
 * member of a dual-algorithm name). */
static json_t *
served_json(const struct status_view *v, const struct pair *p)
{
	const struct state *st = v->st;
	const struct state_error *e = p->last_good ?
	    state_error_of(st, p->lineage) : NULL;
	const struct state_hold *h;
	json_t *o = json_object();

	json_object_set_new(o, "lineage", jstr(log_esc(p->lineage)));
	json_object_set_new(o, "key_type", jstr(p->key_desc));
	json_object_set_new(o, "not_before", jtime(p->not_before));
	json_object_set_new(o, "not_after", jtime(p->not_after));
	json_object_set_new(o, "expires_in_days",
	    json_integer(floor_days(p->not_after - v->now)));
	json_object_set_new(o, "expiry_warning", json_boolean(expiry_due(
	    v->warn_days, p->not_before, p->not_after, v->now)));
	json_object_set_new(o, "served_since", jtime(p->since));
	json_object_set_new(o, "key_since", jtime(p->key_since));
	json_object_set_new(o, "last_error", e == NULL ? json_null() :
	    jstr(e->error));
	if ((h = state_hold_of(st, p->lineage)) != NULL) {
		json_t *ho = json_object();

		json_object_set_new(ho, "serial", jstr(h->serial));
		json_object_set_new(ho, "since", jtime(h->since));
		json_object_set_new(o, "key_held", ho);
	} else
		json_object_set_new(o, "key_held", json_null());
	return o;
}

/* Dovecot's capacity and hold, in its service object. */
static void
dovecot_json(json_t *o, const struct dovecot_state *d)
{
	json_t *h;

	json_object_set_new(o, "blocks", d->measured ?
	    json_integer((json_int_t)d->blocks) : json_null());
	json_object_set_new(o, "memory_need", d->need ?
	    json_integer(d->need) : json_null());
	json_object_set_new(o, "memory_limit", d->measured && d->limit ?
	    json_integer(d->limit) : json_null());
	json_object_set_new(o, "capacity_measured", jtime(d->measured));
	if (d->held == DOVECOT_HOLD_NONE) {
		json_object_set_new(o, "held_back", json_null());
		return;
	}
	h = json_object();
	json_object_set_new(h, "reason", jstr(state_hold_name(d->held)));
	json_object_set_new(h, "since", jtime(d->held_since));
	json_object_set_new(h, "names_lacking",
	    json_integer((json_int_t)d->lacking));
	json_object_set_new(h, "blocks_in_service",
	    json_integer((json_int_t)d->held_blocks));
	json_object_set_new(h, "memory_limit", d->held_limit ?
	    json_integer(d->held_limit) : json_null());
	json_object_set_new(o, "held_back", h);
}

char *
report_status_json(const struct status_view *v)
{
	const struct state *st = v->st;
	json_t *root = json_object(), *names = json_array();
	json_t *errs = json_array(), *svcs = json_object();
	char *text;
	size_t i;
	int k;

	json_object_set_new(root, "schema", json_integer(1));
	json_object_set_new(root, "generated_at", jtime(v->now));
	json_object_set_new(root, "last_sync", jtime(v->last_sync));
	json_object_set_new(root, "last_success", jtime(v->last_success));
	json_object_set_new(root, "last_applied", jtime(v->last_applied));
	json_object_set_new(root, "rejected_since", jtime(v->rejected_since));
	for (i = 0; i < v->plan->n; i++) {
		const struct plan_entry *pe = &v->plan->e[i];
		json_t *o = served_json(v, &st->pairs[pe->pair]);

		json_object_set_new(o, "name", jstr(pe->name));
		json_object_set_new(o, "alt", pe->alt == PLAN_NO_ALT ?
		    json_null() : served_json(v, &st->pairs[pe->alt]));
		json_array_append_new(names, o);
	}
	json_object_set_new(root, "names", names);
	for (i = 0; i < st->nerrs; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "lineage",
		    jstr(log_esc(st->errs[i].lineage)));
		json_object_set_new(o, "file", st->errs[i].file ?
		    jstr(st->errs[i].file) : json_null());
		json_object_set_new(o, "error", jstr(st->errs[i].error));
		json_object_set_new(o, "since", jtime(st->errs[i].since));
		json_array_append_new(errs, o);
	}
	json_object_set_new(root, "errors", errs);
	for (k = 0; k < 2; k++) {
		json_t *o = json_object();

		json_object_set_new(o, "enabled", json_boolean(v->enabled[k]));
		json_object_set_new(o, "reloads",
		    json_integer(st->svc[k].reloads));
		json_object_set_new(o, "reload_failures",
		    json_integer(st->svc[k].failures));
		json_object_set_new(o, "last_reload",
		    jtime(st->svc[k].last_reload));
		json_object_set_new(o, "reload_pending",
		    json_boolean(st->reload_pending[k]));
		if (k == 1)
			dovecot_json(o, &st->dovecot);
		json_object_set_new(svcs, state_svc_names[k], o);
	}
	json_object_set_new(root, "services", svcs);
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		log_fatal("out of memory");
	return text;
}
