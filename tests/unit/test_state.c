/* test_state.c - state.json: format 2 written and read back field for
 * field (escapes included), format 1 (earlier releases) still read. */
#include <stdlib.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "plan.h"
#include "unit.h"
#include "util.h"

static char path[] = "/tmp/snisync-state-XXXXXX";

static void
put(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	fwrite(text, 1, len, f);
	fclose(f);
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
	char *text;
	size_t len;
	int fd = mkstemp(path);

	close(fd);
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

	text = state_render(&st, &len);
	UNIT_OK(strncmp(text, "{\"format\":2,", 12) == 0, "written as format 2");
	put(text, len);
	free(text);
	UNIT_INTEQ(state_load(path, &back), 0, "format 2 read back");
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
	text = state_render(&back, &len);
	{
		size_t len0;
		char *t0 = state_render(&st, &len0);

		UNIT_OK(len == len0 && memcmp(text, t0, len) == 0,
		    "read back renders the same bytes");
		free(t0);
	}
	free(text);
	state_free(&back);

	/* A byte outside ASCII cannot break the file. */
	e.lineage = "caf\xc3\xa9";
	text = state_render(&st, &len);
	put(text, len);
	free(text);
	UNIT_INTEQ(state_load(path, &back), 0, "non-ASCII lineage: loads");
	UNIT_STREQ(back.errs[0].lineage, "caf??", "non-ASCII bytes as ?");
	state_free(&back);

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
	put(v1, sizeof(v1) - 1);
	UNIT_INTEQ(state_load(path, &back), 0, "format 1 read");
	UNIT_OK(back.n == 1 && back.pairs[0].last_good &&
	    back.pairs[0].not_after == 2000000000 &&
	    back.pairs[0].src_chain_id.mtime_ns == 8 &&
	    strcmp(back.pairs[0].key_desc, "RSA 2048") == 0,
	    "format 1: the last good pair survives an upgrade");
	UNIT_OK(back.nerrs == 1 && back.errs[0].file == NULL &&
	    back.reload_pending[1], "format 1: errors and pending reloads");
	state_free(&back);

	put("{\"format\": 3, \"pairs\": []}", 26);
	UNIT_INTEQ(state_load(path, &back), 0, "unknown format: read as empty");
	UNIT_INTEQ((int)back.n, 0, "unknown format: no pairs");
	state_free(&back);
	unlink(path);
	return unit_failures != 0;
}
