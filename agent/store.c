/*
 * store.c - the served files (store.h): their names, their content and
 * reading a pair back from one.
 *
 * A served file is written by the pipeline (commit.c, through fsio) only
 * after its pair validated, and replaced whole by rename: a reader, or
 * Dovecot restarting at any instant, gets the old pair or the new one.
 * Reading one back never trusts it: it is split where the chain starts
 * and each half must hash to the id the state recorded for it, or the
 * pair is refused. Files from the legacy store (one per key or chain,
 * named by its SHA-256) are read the same way, for hosts upgraded from
 * it: their pairs keep serving until their served files are written.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "fsio.h"
#include "scan.h"
#include "store.h"
#include "util.h"

#define STORE_KEEP	200	/* name characters kept */

static int
safe_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

void
store_file_name(const char *lineage, char out[STORE_NAME_MAX])
{
	size_t i, n = strlen(lineage);
	int plain = n > 0 && n <= STORE_KEEP && lineage[0] != '.';
	char hex[65];

	for (i = 0; plain && i < n; i++)
		plain = safe_char((unsigned char)lineage[i]);
	if (plain) {
		snprintf(out, STORE_NAME_MAX, "%s.pem", lineage);
		return;
	}
	for (i = 0; i < n && i < STORE_KEEP; i++)
		out[i] = safe_char((unsigned char)lineage[i]) &&
		    !(i == 0 && lineage[i] == '.') ? lineage[i] : '_';
	cert_sha256_hex(lineage, n, hex);
	snprintf(out + i, STORE_NAME_MAX - i, "~%.16s.pem", hex);
}

char *
store_path(const char *dir, const char *lineage)
{
	char name[STORE_NAME_MAX];

	store_file_name(lineage, name);
	return xasprintf("%s/%s", dir, name);
}

unsigned char *
store_content(const struct pair *p, size_t *len)
{
	unsigned char *b = xmalloc(p->keylen + 1 + p->chainlen + 1);

	memcpy(b, p->key, p->keylen);
	b[p->keylen] = '\n';
	memcpy(b + p->keylen + 1, p->chain, p->chainlen);
	*len = p->keylen + 1 + p->chainlen;
	b[*len] = '\0';
	return b;
}

static int
is_id(const unsigned char *b, size_t len, const char *id)
{
	char got[65];

	cert_sha256_hex(b, len, got);
	return strcmp(got, id) == 0;
}

/* The split point s (key = buf[0, s), "\n" at s, chain after it) whose
 * halves hash to p's ids; SIZE_MAX when none. Tried first where a line
 * "-----BEGIN " starts (the chain's first block), then at every line
 * end (a chain file with text before its first block). */
static size_t
split_at(const unsigned char *buf, size_t len, const struct pair *p)
{
	static const char begin[] = "\n-----BEGIN ";
	size_t s;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (s = 0; s < len; s++) {
			if (buf[s] != '\n')
				continue;
			if (pass == 0 && (len - s < sizeof(begin) - 1 ||
			    memcmp(buf + s, begin, sizeof(begin) - 1) != 0))
				continue;
			if (is_id(buf, s, p->key_id) &&
			    is_id(buf + s + 1, len - s - 1, p->chain_id))
				return s;
		}
	return (size_t)-1;
}

static int
load_legacy(const char *legacy, struct pair *p, char *why, size_t whysz)
{
	const char *ids[2] = { p->key_id, p->chain_id };
	unsigned char *b[2] = { NULL, NULL };
	size_t l[2] = { 0, 0 };
	int i;

	for (i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s.pem", legacy, ids[i]), w[128];

		if (fsio_read(path, SCAN_MAX_FILE, &b[i], &l[i], NULL, w,
		    sizeof(w)) == -1)
			snprintf(why, whysz, "%s: %s", path, w);
		else if (!is_id(b[i], l[i], ids[i])) {
			snprintf(why, whysz, "%s: content does not match its "
			    "name", path);
			util_free_wiped(b[i], l[i]);
			b[i] = NULL;
		}
		free(path);
		if (b[i] == NULL) {
			if (i == 1)
				util_free_wiped(b[0], l[0]);
			return -1;
		}
	}
	p->key = b[0];
	p->keylen = l[0];
	p->chain = b[1];
	p->chainlen = l[1];
	return 0;
}

int
store_load(const char *served, const char *legacy, struct pair *p,
    char *why, size_t whysz)
{
	char *path = store_path(served, p->lineage), w[128], lw[PATH_MAX + 200];
	unsigned char *buf = NULL;
	size_t len = 0, s;
	int rc = -1;

	if (fsio_read(path, 2 * SCAN_MAX_FILE + 1, &buf, &len, NULL, w,
	    sizeof(w)) == -1) {
		snprintf(why, whysz, "%s: %s", path, w);
		if (legacy != NULL && load_legacy(legacy, p, lw,
		    sizeof(lw)) == 0)
			rc = 0;
		goto out;
	}
	if ((s = split_at(buf, len, p)) == (size_t)-1) {
		snprintf(why, whysz, "%s: does not hold the pair the state "
		    "records (serial %s)", path, p->serial);
		goto out;
	}
	p->key = xmalloc(s + 1);
	memcpy(p->key, buf, s);
	p->key[s] = '\0';
	p->keylen = s;
	p->chainlen = len - s - 1;
	p->chain = xmalloc(p->chainlen + 1);
	memcpy(p->chain, buf + s + 1, p->chainlen);
	p->chain[p->chainlen] = '\0';
	rc = 0;
out:
	if (buf != NULL)
		util_free_wiped(buf, len);
	free(path);
	return rc;
}
