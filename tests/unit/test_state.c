/* test_state.c - the state database: every field saved and read back
 * bit for bit, a save that changes nothing writes nothing, a renewal
 * changes one record, malformed records are refused whole; the import of
 * 0.1's state.json (formats 2 and 1: migrate.c), then kept as
 * state.json.old. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "migrate.h"
#include "plan.h"
#include "state.h"
#include "staterec.h"
#include "unit.h"
#include "util.h"

static char dir[] = "/tmp/snisync-state-XXXXXX";

static void
put(const char *name, const char *text, size_t len)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fwrite(text, 1, len, f);
	fclose(f);
	free(path);
}

static int
exists(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat sb;
	int r = lstat(path, &sb) == 0;

	free(path);
	return r;
}

static void
rm(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);

	unlink(path);
	free(path);
}

static void
ident(struct stat *sb)
{
	char *path = xasprintf("%s/" STATE_DB, dir);

	memset(sb, 0, sizeof(*sb));
	stat(path, sb);
	free(path);
}

/* How many records differ between the encodings of a and b. */
static int
records_differ(const struct state *a, const struct state *b)
{
	struct state_records x, y;
	size_t i, j;
	int d = 0;

	staterec_encode(a, &x);
	staterec_encode(b, &y);
	for (i = 0, j = 0; i < x.n || j < y.n; ) {
		const struct state_record *p = &x.r[i], *q = &y.r[j];
		int c = i >= x.n ? 1 : j >= y.n ? -1 :
		    p->klen != q->klen ? (p->klen < q->klen ? -1 : 1) :
		    memcmp(p->key, q->key, p->klen);

		if (c != 0 || p->vlen != q->vlen ||
		    memcmp(p->val, q->val, p->vlen) != 0)
			d++;
		i += c <= 0;
		j += c >= 0;
	}
	staterec_free(&x);
	staterec_free(&y);
	return d;
}

static const char hex_a[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char hex_b[] =
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

int
main(void)
{
	struct state st = { 0 }, back;
	struct pair p[2];
	struct state_error e = { "bad\"lin\\e\x01", "privkey.pem",
	    "subjectAltName \"x\\x22\": refused", 1700000000 };
	struct lineage_count cnt = { "bad\"lin\\e\x01", 3 };
	char *names0[] = { "a.example.test", "*.example.test", NULL };
	char *names1[] = { "b.example.test", NULL };
	struct state base = { 0 };
	struct stat s0, s1;

	if (mkdtemp(dir) == NULL)
		return 1;
	log_init("snisync");
	memset(p, 0, sizeof(p));
	p[0].lineage = "a.example.test";
	memcpy(p[0].key_id, hex_a, 65);
	memcpy(p[0].chain_id, hex_b, 65);
	p[0].names = names0;
	p[0].nnames = 2;
	p[0].not_before = 1700000000;
	p[0].not_after = 1800000000;
	snprintf(p[0].key_desc, sizeof(p[0].key_desc), "ECDSA P-256");
	snprintf(p[0].serial, sizeof(p[0].serial), "01AB");
	snprintf(p[0].fingerprint, sizeof(p[0].fingerprint), "AA:BB");
	p[0].since = 1750000000;
	p[0].key_since = 1740000000;
	p[0].src_key = "/le/archive/a.example.test/privkey3.pem";
	p[0].src_chain = "/le/archive/a.example.test/fullchain3.pem";
	p[0].src_key_id = (struct fsio_id){ 65024, 123456789012ULL, 241,
	    1795325615583358916LL, 0 };
	/* An identity beyond INT64_MAX (fuzz_state found one that did not
	 * read back) must come back bit for bit. */
	p[0].src_chain_id = (struct fsio_id){ 65024, 42, (unsigned long long)-283,
	    -5, 0 };
	p[1].lineage = "b.example.test";
	memcpy(p[1].key_id, hex_b, 65);
	memcpy(p[1].chain_id, hex_a, 65);
	p[1].names = names1;
	p[1].nnames = 1;
	p[1].last_good = 1;
	p[0].sole = 1;
	st.pairs = p;
	st.n = 2;
	st.errs = &e;
	st.nerrs = 1;
	st.counts = &cnt;
	st.ncounts = 1;
	st.svc[1] = (struct svc_stats){ 7, 2, 1790000000 };
	st.reload_pending[0] = 1;
	st.have_lmdb = 1;
	st.lmdb = (struct fsio_id){ 1, 2, 3, 4, 0 };
	st.out_id[0] = (struct fsio_id){ 5, 6, 7, 8, 0 };
	st.out_id[1] = (struct fsio_id){ 9, 10, 11, -12, 0 };
	st.nnames = 20000;
	memset(st.render_key[0], 0xa5, sizeof(st.render_key[0]));
	st.render_key[1][31] = 7;
	{
		static struct state_hold h;

		h.lineage = "a.example.test";
		memcpy(h.key_id, hex_b, 65);
		snprintf(h.serial, sizeof(h.serial), "0F");
		memcpy(h.spki, hex_a, 65);
		h.since = 1760000000;
		st.holds = &h;
		st.nholds = 1;
	}

	UNIT_INTEQ(state_load(dir, 1, &base), 0, "no state yet: loads empty");
	UNIT_INTEQ((int)base.n, 0, "no state yet: no pairs");
	UNIT_INTEQ(state_save(dir, &base, &st), 0, "saved");
	UNIT_OK(exists(STATE_DB), "the database is " STATE_DB);
	UNIT_INTEQ(state_load(dir, 1, &back), 0, "read back");
	UNIT_INTEQ((int)back.n, 2, "both pairs");
	UNIT_STREQ(back.pairs[0].lineage, "a.example.test", "lineage");
	UNIT_STREQ(back.pairs[0].key_id, hex_a, "key id");
	UNIT_STREQ(back.pairs[0].chain_id, hex_b, "chain id");
	UNIT_INTEQ((int)back.pairs[0].nnames, 2, "names");
	UNIT_STREQ(back.pairs[0].names[1], "*.example.test", "wildcard name");
	UNIT_OK(back.pairs[0].not_after == 1800000000 &&
	    back.pairs[0].not_before == 1700000000, "validity");
	UNIT_STREQ(back.pairs[0].key_desc, "ECDSA P-256", "key type");
	UNIT_STREQ(back.pairs[0].serial, "01AB", "serial");
	UNIT_STREQ(back.pairs[0].fingerprint, "AA:BB", "fingerprint");
	UNIT_OK(back.pairs[0].since == 1750000000, "since");
	UNIT_OK(back.pairs[0].key_since == 1740000000, "key since");
	UNIT_STREQ(back.pairs[0].src_key, p[0].src_key, "source key path");
	UNIT_OK(back.pairs[0].src_key_id.ino == 123456789012ULL &&
	    back.pairs[0].src_key_id.mtime_ns == 1795325615583358916LL &&
	    back.pairs[0].src_chain_id.size == (unsigned long long)-283 &&
	    back.pairs[0].src_chain_id.mtime_ns == -5, "source identities");
	UNIT_OK(back.pairs[1].last_good && back.pairs[1].src_key == NULL,
	    "last good pair without a source");
	UNIT_INTEQ((int)back.nerrs, 1, "error kept");
	UNIT_STREQ(back.errs[0].lineage, "bad\"lin\\e\x01", "escaped lineage");
	UNIT_STREQ(back.errs[0].error, e.error, "escaped error text");
	UNIT_OK(back.errs[0].since == 1700000000, "error since");
	UNIT_OK(back.ncounts == 1 && back.counts[0].n == 3 &&
	    strcmp(back.counts[0].lineage, cnt.lineage) == 0, "error counts");
	UNIT_OK(back.svc[1].reloads == 7 && back.svc[1].failures == 2 &&
	    back.svc[1].last_reload == 1790000000 && back.svc[0].reloads == 0,
	    "reload counts");
	UNIT_OK(back.reload_pending[0] && !back.reload_pending[1],
	    "pending reloads");
	UNIT_OK(back.have_lmdb && back.lmdb.mtime_ns == 4, "map identity");
	UNIT_OK(back.nholds == 1 && strcmp(back.holds[0].lineage,
	    "a.example.test") == 0 && strcmp(back.holds[0].key_id, hex_b) == 0 &&
	    strcmp(back.holds[0].serial, "0F") == 0 &&
	    strcmp(back.holds[0].spki, hex_a) == 0 &&
	    back.holds[0].since == 1760000000, "held key change");
	UNIT_OK(back.pairs[0].sole && !back.pairs[1].sole, "sole pairs");
	UNIT_OK(back.out_id[0].ino == 6 && back.out_id[1].mtime_ns == -12 &&
	    back.nnames == 20000, "outputs' identities and the name count");
	UNIT_OK(memcmp(back.render_key, st.render_key,
	    sizeof(st.render_key)) == 0, "what the outputs were rendered from");
	UNIT_INTEQ(records_differ(&back, &st), 0,
	    "read back encodes to the same records");

	/* A renewal reads its lineage's record and the run record alone. */
	{
		struct state some;
		char *only[] = { "b.example.test", "missing.example.test",
		    "b.example.test" };

		UNIT_INTEQ(state_load_some(dir, only, 3, &some), 0,
		    "load_some: read");
		UNIT_OK(some.n == 1 && strcmp(some.pairs[0].lineage,
		    "b.example.test") == 0 && some.pairs[0].last_good,
		    "load_some: the asked lineage's record alone");
		UNIT_OK(some.nerrs == 0 && some.nholds == 0 && some.ncounts == 0,
		    "load_some: no other lineage's parts");
		UNIT_OK(state_has_run(&some) && some.nnames == 20000 &&
		    some.reload_pending[0], "load_some: the run record");
		some.reload_pending[1] = 1;
		UNIT_INTEQ(state_save(dir, &some, &some), 0,
		    "load_some: a save of the part read");
		state_free(&some);
		UNIT_INTEQ(state_load(dir, 1, &some), 0, "load_some: reloaded");
		UNIT_OK(some.n == 2 && some.nerrs == 1 && some.nholds == 1 &&
		    some.reload_pending[1], "load_some: the save kept every "
		    "other record");
		state_free(&some);
		state_free(&back);
		UNIT_INTEQ(state_load(dir, 1, &back), 0, "load_some: read again");
		UNIT_INTEQ(state_save(dir, &back, &st), 0, "load_some: as it was");
		UNIT_INTEQ(records_differ(&back, &st), 1,
		    "load_some: the run record differed");
	}

	/* Nothing changed: nothing written. */
	ident(&s0);
	usleep(20000);
	UNIT_INTEQ(state_save(dir, &back, &st), 0, "an equal save");
	ident(&s1);
	UNIT_OK(s0.st_ino == s1.st_ino && s0.st_size == s1.st_size &&
	    s0.st_mtim.tv_nsec == s1.st_mtim.tv_nsec &&
	    s0.st_mtim.tv_sec == s1.st_mtim.tv_sec,
	    "an equal save touches nothing");

	/* A renewal: one record. */
	{
		struct state r = st;
		struct pair q[2] = { p[0], p[1] };

		snprintf(q[1].serial, sizeof(q[1].serial), "02");
		r.pairs = q;
		UNIT_INTEQ(records_differ(&st, &r), 1,
		    "a renewal changes one record");
		UNIT_INTEQ(state_save(dir, &back, &r), 0, "renewal saved");
		state_free(&back);
		UNIT_INTEQ(state_load(dir, 1, &back), 0, "read again");
		UNIT_STREQ(back.n == 2 ? back.pairs[1].serial : "", "02",
		    "the renewal is in the database");
		UNIT_STREQ(back.n == 2 ? back.pairs[0].serial : "", "01AB",
		    "the other lineage as it was");
		/* a lineage gone: its record deleted */
		r.n = 1;
		UNIT_INTEQ(state_save(dir, &back, &r), 0, "deletion saved");
		state_free(&back);
		state_load(dir, 1, &back);
		UNIT_INTEQ((int)back.n, 1, "a deleted lineage's record is gone");
		state_free(&back);
	}

	/* The decoder refuses malformed records whole. */
	{
		size_t n, i;
		struct state_records rs;
		struct state_record *rec;
		struct state t = { 0 };
		int refused = 0, bad_names = 0;

		staterec_encode(&st, &rs);
		rec = rs.r;
		n = rs.n;
		for (i = 0; i < n; i++)
			if (rec[i].key[0] == 'l' && rec[i].vlen > 8) {
				refused += staterec_decode(rec[i].key,
				    rec[i].klen, rec[i].val, rec[i].vlen - 1,
				    &t, 0) == -1;
				refused += staterec_decode(rec[i].key,
				    rec[i].klen, rec[i].val, rec[i].vlen, &t,
				    0) == -1 ? 0 : 1;
			}
		UNIT_INTEQ(refused, 6, "each lineage record: refused one byte "
		    "short, read whole");
		state_free(&t);
		memset(&t, 0, sizeof(t));
		{
			char *evil[] = { "evil}\n{.example.test", NULL };
			struct pair ep = p[1];
			struct state es = { 0 };
			struct state_records er;

			ep.names = evil;
			es.pairs = &ep;
			es.n = 1;
			staterec_encode(&es, &er);
			for (i = 0; i < er.n; i++)
				if (er.r[i].key[0] == 'l')
					bad_names += staterec_decode(
					    er.r[i].key, er.r[i].klen,
					    er.r[i].val, er.r[i].vlen, &t,
					    0) == -1;
			staterec_free(&er);
		}
		UNIT_OK(bad_names == 1 && t.n == 0, "a name that is not a "
		    "valid DNS name: the record is refused");
		state_free(&t);
		staterec_free(&rs);
	}
	state_free(&base);
	rm(STATE_DB);
	rm(STATE_DB "-lock");

	/* 0.1's state.json, format 2: imported by a run that writes. */
	static const char v2[] = "{\"format\":2,\n\"pairs\":[\n"
	    "[\"new.example.test\",\""
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\",\""
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "\",[\"new.example.test\"],1,2000000000,\"ECDSA P-256\",\"07\","
	    "\"DD\",false,1750000000,\"/k\",[1,2,3,4],\"/c\",[5,6,7,8],"
	    "1740000000]],\n\"errors\":[],\n\"error_counts\":{},\n"
	    "\"reloads\":{\"postfix\":{\"total\":3,\"failed\":0,\"last\":9},"
	    "\"dovecot\":{\"total\":1,\"failed\":1,\"last\":8}},\n"
	    "\"holds\":[],\n\"reload_pending\":{\"postfix\":false,"
	    "\"dovecot\":true},\n\"postfix_lmdb\":{\"dev\":1,\"ino\":2,"
	    "\"size\":3,\"mtime_ns\":4}}\n";
	put(STATE_JSON, v2, sizeof(v2) - 1);
	UNIT_INTEQ(state_load(dir, 1, &back), 0, "no database: state_load "
	    "reads nothing else");
	UNIT_INTEQ((int)back.n, 0, "no database: an empty state");
	state_free(&back);
	UNIT_INTEQ(migrate_load(dir, 1, 0, &back), 0, "format 2 read");
	UNIT_OK(!exists(STATE_DB) && exists(STATE_JSON), "a reader writes "
	    "nothing: no database, state.json in place");
	UNIT_OK(back.n == 1 && back.pairs[0].since == 1750000000 &&
	    back.pairs[0].key_since == 1740000000 &&
	    back.pairs[0].src_chain_id.mtime_ns == 8 &&
	    back.svc[0].reloads == 3 && back.reload_pending[1] &&
	    back.have_lmdb && back.lmdb.ino == 2, "format 2: every field");
	{
		struct state again;

		UNIT_INTEQ(migrate_load(dir, 1, 1, &again), 0, "imported");
		UNIT_OK(!exists(STATE_JSON) && exists(STATE_JSON ".old") &&
		    exists(STATE_DB), "imported once: state.json kept as "
		    "state.json.old");
		UNIT_INTEQ(records_differ(&again, &back), 0,
		    "read back from the database: what state.json held");
		state_free(&again);
		UNIT_INTEQ(state_load(dir, 1, &again), 0, "read from the "
		    "database");
		UNIT_INTEQ(records_differ(&again, &back), 0,
		    "the database holds what state.json held");
		state_free(&again);
	}
	state_free(&back);
	rm(STATE_DB);
	rm(STATE_DB "-lock");
	rm(STATE_JSON ".old");

	/* Format 1, as earlier releases wrote it. */
	static const char v1[] = "{\"format\": 1, \"pairs\": [{"
	    "\"lineage\": \"old.example.test\", \"key\": \""
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\", \"chain\": \""
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "\", \"names\": [\"old.example.test\"], \"not_before\": 1, "
	    "\"not_after\": 2000000000, \"key_type\": \"RSA 2048\", "
	    "\"serial\": \"05\", \"fingerprint\": \"CC\", \"last_good\": true, "
	    "\"source\": {\"key\": \"/k\", \"chain\": \"/c\", \"key_id\": "
	    "{\"dev\": 1, \"ino\": 2, \"size\": 3, \"mtime_ns\": 4}, "
	    "\"chain_id\": {\"dev\": 5, \"ino\": 6, \"size\": 7, "
	    "\"mtime_ns\": 8}}}], \"errors\": [{\"lineage\": "
	    "\"old.example.test\", \"file\": null, \"error\": \"why\"}], "
	    "\"reload_pending\": {\"postfix\": false, \"dovecot\": true}}";
	put(STATE_JSON, v1, sizeof(v1) - 1);
	UNIT_INTEQ(migrate_load(dir, 1, 0, &back), 0, "format 1 read");
	UNIT_OK(back.n == 1 && back.pairs[0].last_good &&
	    back.pairs[0].not_after == 2000000000 &&
	    back.pairs[0].src_chain_id.mtime_ns == 8 &&
	    strcmp(back.pairs[0].key_desc, "RSA 2048") == 0,
	    "format 1: the last good pair survives an upgrade");
	UNIT_OK(back.nerrs == 1 && back.errs[0].file == NULL &&
	    back.reload_pending[1], "format 1: errors and pending reloads");
	state_free(&back);

	put(STATE_JSON, "{\"format\": 3, \"pairs\": []}", 26);
	UNIT_INTEQ(migrate_load(dir, 1, 0, &back), 0,
	    "unknown format: read as empty");
	UNIT_INTEQ((int)back.n, 0, "unknown format: no pairs");
	state_free(&back);
	rm(STATE_JSON);
	rmdir(dir);
	return unit_failures != 0;
}
