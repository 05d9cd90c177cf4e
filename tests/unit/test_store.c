/* test_store.c - served file names, content, and reading a pair back. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert.h"
#include "fsio.h"
#include "store.h"
#include "unit.h"
#include "util.h"

static const char key[] =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n"
    "-----END PRIVATE KEY-----\n";
static const char chain[] =
    "-----BEGIN CERTIFICATE-----\nMIIBLEAF\n-----END CERTIFICATE-----\n"
    "-----BEGIN CERTIFICATE-----\nMIIBISSUER\n-----END CERTIFICATE-----\n";

static void
names(void)
{
	char n[STORE_NAME_MAX], longname[300];

	store_file_name("mail.example.com", n);
	UNIT_STREQ(n, "mail.example.com.pem", "a plain lineage name is kept");
	store_file_name("example.com-0001", n);
	UNIT_STREQ(n, "example.com-0001.pem", "certbot's -0001 lineage");
	store_file_name("lego:mail.example.com", n);
	UNIT_OK(strncmp(n, "lego_mail.example.com~", 22) == 0 &&
	    strlen(n) == 22 + 16 + 4 && strcmp(n + 38, ".pem") == 0,
	    "a source lineage: ':' as '_', then ~ and 16 hex digits (%s)", n);
	{
		char m[STORE_NAME_MAX];

		store_file_name("lego_mail.example.com", m);
		UNIT_OK(strcmp(m, n) != 0, "no two lineages share a file "
		    "(%s, %s)", m, n);
		store_file_name("lego%mail.example.com", m);
		UNIT_OK(strcmp(m, n) != 0 && m[4] == '_', "another unsafe "
		    "character: another file (%s)", m);
	}
	store_file_name(".hidden", n);
	UNIT_OK(n[0] == '_' && strchr(n, '~') != NULL, "a leading dot is "
	    "never kept (%s)", n);
	store_file_name("a b{c}%d<e", n);
	UNIT_OK(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789._~-") ==
	    strlen(n), "nothing a config line could read as syntax (%s)", n);
	memset(longname, 'x', 255);
	longname[255] = '\0';
	store_file_name(longname, n);
	UNIT_OK(strlen(n) == 200 + 1 + 16 + 4, "a 255-character name is cut "
	    "to 200, then the hash (%zu)", strlen(n));
}

static struct pair
pair_of(const char *lineage)
{
	struct pair p;

	memset(&p, 0, sizeof(p));
	p.lineage = (char *)lineage;
	cert_sha256_hex(key, strlen(key), p.key_id);
	cert_sha256_hex(chain, strlen(chain), p.chain_id);
	strcpy(p.serial, "01");
	return p;
}

static void
load(void)
{
	char dir[] = "/tmp/snisync-test-store.XXXXXX", why[512];
	struct pair p = pair_of("a.test"), q;
	unsigned char *buf;
	size_t len;
	char *served, *legacy, *path;

	UNIT_OK(mkdtemp(dir) != NULL, "temp dir");
	served = xasprintf("%s/served", dir);
	legacy = xasprintf("%s/store", dir);
	mkdir(served, 0700);
	mkdir(legacy, 0700);

	p.key = (unsigned char *)key;
	p.keylen = strlen(key);
	p.chain = (unsigned char *)chain;
	p.chainlen = strlen(chain);
	buf = store_content(&p, &len);
	UNIT_OK(len == p.keylen + 1 + p.chainlen &&
	    memcmp(buf, key, p.keylen) == 0 && buf[p.keylen] == '\n' &&
	    memcmp(buf + p.keylen + 1, chain, p.chainlen) == 0,
	    "content: key, \"\\n\", chain (what postmap -F joins)");
	path = store_path(served, "a.test");
	UNIT_OK(fsio_replace(path, buf, len, 0600) == 0, "served file written");

	q = pair_of("a.test");
	UNIT_OK(store_load(served, NULL, &q, why, sizeof(why)) == 0 &&
	    q.keylen == strlen(key) && memcmp(q.key, key, q.keylen) == 0 &&
	    q.chainlen == strlen(chain) &&
	    memcmp(q.chain, chain, q.chainlen) == 0,
	    "load: split back into the key and the chain");
	free(q.key);
	free(q.chain);

	q = pair_of("a.test");
	q.chain_id[0] = q.chain_id[0] == '0' ? '1' : '0';
	UNIT_OK(store_load(served, NULL, &q, why, sizeof(why)) == -1 &&
	    q.key == NULL && strstr(why, "does not hold the pair") != NULL,
	    "load: another pair than the state records is refused (%s)",
	    why);

	/* a chain file with text before its first block */
	{
		const char *text = "subject=CN=a.test\n";
		char *c2 = xasprintf("%s%s", text, chain);
		unsigned char *b2;
		size_t l2;

		q = pair_of("b.test");
		cert_sha256_hex(c2, strlen(c2), q.chain_id);
		q.key = (unsigned char *)key;
		q.keylen = strlen(key);
		q.chain = (unsigned char *)c2;
		q.chainlen = strlen(c2);
		b2 = store_content(&q, &l2);
		free(path);
		path = store_path(served, "b.test");
		fsio_replace(path, b2, l2, 0600);
		q.key = q.chain = NULL;
		UNIT_OK(store_load(served, NULL, &q, why, sizeof(why)) == 0 &&
		    q.chainlen == strlen(c2), "load: a chain with text before "
		    "its first block splits right");
		free(q.key);
		free(q.chain);
		free(b2);
		free(c2);
	}

	/* upgraded host: no served file yet, the legacy store has both */
	q = pair_of("c.test");
	UNIT_OK(store_load(served, legacy, &q, why, sizeof(why)) == -1,
	    "load: neither a served file nor legacy files: refused");
	{
		char *kp = xasprintf("%s/%s.pem", legacy, q.key_id);
		char *cp = xasprintf("%s/%s.pem", legacy, q.chain_id);

		fsio_replace(kp, key, strlen(key), 0600);
		fsio_replace(cp, chain, strlen(chain), 0600);
		UNIT_OK(store_load(served, legacy, &q, why, sizeof(why)) == 0 &&
		    q.keylen == strlen(key) && q.chainlen == strlen(chain),
		    "load: from the legacy store when the served file is "
		    "missing");
		free(q.key);
		free(q.chain);
		q = pair_of("c.test");
		fsio_replace(cp, "tampered\n", 9, 0600);
		UNIT_OK(store_load(served, legacy, &q, why, sizeof(why)) == -1,
		    "load: a legacy file that does not hash to its name is "
		    "refused");
		unlink(kp);
		unlink(cp);
		free(kp);
		free(cp);
	}
	free(buf);
	unlink(path);
	free(path);
	path = store_path(served, "a.test");
	unlink(path);
	free(path);
	rmdir(served);
	rmdir(legacy);
	rmdir(dir);
	free(served);
	free(legacy);
}

int
main(void)
{
	names();
	load();
	return unit_status();
}
