/*
 * cert.c - certificates and keys: with tls.c (the client of `snisync
 * verify`), the only file that includes <openssl/...>.
 *
 * cert_validate() decides whether a key file and a full chain file may be
 * served: returns 0 with what it learned (names, dates, key type, serial,
 * fingerprint), or -1 naming the file and the reason in one line. It
 * refuses anything Postfix or Dovecot would choke on or serve wrongly
 * (FACTS.md): unknown PEM labels, encrypted or weak keys, mismatched
 * pairs, chains out of order, expired or not yet valid leaves, names that
 * are not valid host names. Key bytes are parsed from memory, never
 * logged, and OpenSSL's copies are freed with the key object.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "log.h"
#include "name.h"
#include "util.h"

#define MAX_CHAIN	10
#define MAX_NAMES	1000
#define ISS_CACHE	16

/* A PEM block: where it starts and ends in its file. */
struct pem_block {
	size_t	 off, len;
};

struct iss_ent {
	unsigned char	 md[32];	/* SHA-256 of the PEM block text */
	X509		*x;
	unsigned char	 signer[32];	/* verified as issued by this, or 0 */
	int		 signed_ok;
};

struct cert_ctx {
	OSSL_DECODER_CTX	*dctx;
	EVP_PKEY		*dkey;		/* where dctx puts a key */
	struct iss_ent		 iss[ISS_CACHE];
	int			 niss, next;
};

static const char *const cert_labels[] = {
	"CERTIFICATE", "X509 CERTIFICATE", NULL
};
static const char *const key_labels[] = {
	"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", NULL
};
static const char *const enc_labels[] = { "ENCRYPTED PRIVATE KEY", NULL };

const char *
cert_key_type_name(enum key_type t)
{
	switch (t) {
	case KEY_RSA:
		return "RSA";
	case KEY_ECDSA:
		return "ECDSA";
	case KEY_ED25519:
		return "Ed25519";
	default:
		return "unknown";
	}
}

/* SHA-256 fetched once: EVP_sha256() fetches it again at each digest,
 * which costs as much as hashing a record (the state digests every
 * record at each load and save). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

void
cert_sha256(const void *buf, size_t len, unsigned char *out)
{
	unsigned int mdlen = 0;

	EVP_Digest(buf, len, out, &mdlen, sha256(), NULL);
}

void
cert_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	EVP_Digest(buf, len, md, &mdlen, sha256(), NULL);
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

void
cert_info_free(struct cert_info *info)
{
	size_t i;

	if (info == NULL)
		return;
	for (i = 0; i < info->nnames; i++)
		free(info->names[i]);
	free(info->names);
	info->names = NULL;
	info->nnames = 0;
	for (i = 0; i < info->nips; i++)
		free(info->ips[i]);
	free(info->ips);
	info->ips = NULL;
	info->nips = 0;
}

static int
label_ok(const char *label, size_t n, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strlen(*allowed) == n && memcmp(*allowed, label, n) == 0)
			return 1;
	return 0;
}

static const unsigned char *
find_line(const unsigned char *p, const unsigned char *end,
    const char *prefix)
{
	size_t n = strlen(prefix);

	while (p < end) {
		if ((size_t)(end - p) >= n && memcmp(p, prefix, n) == 0)
			return p;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p == NULL)
			return NULL;
		p++;
	}
	return NULL;
}

/*
 * pem_scan(): the file is PEM blocks with allowed labels and only
 * whitespace around them. Returns the number of blocks, or -1 with why.
 */
static int
pem_scan(const unsigned char *buf, size_t len, const char *const *allowed,
    int is_key, struct pem_block *blk, int maxblk, char *why, size_t whysz)
{
	const unsigned char *p = buf, *end = buf + len;
	int blocks = 0;

	if (len == 0) {
		snprintf(why, whysz, "empty file");
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(why, whysz, "not PEM (NUL byte; DER or binary?)");
		return -1;
	}
	while (p < end) {
		const unsigned char *lab, *labend, *endline;
		char endmark[96];
		size_t n;

		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
			continue;
		}
		if ((size_t)(end - p) < 11 || memcmp(p, "-----BEGIN ", 11) != 0) {
			snprintf(why, whysz, blocks ? "text outside PEM blocks" :
			    "not PEM (no -----BEGIN line)");
			return -1;
		}
		lab = p + 11;
		labend = lab;
		while (labend < end && *labend != '-' && *labend != '\n')
			labend++;
		n = (size_t)(labend - lab);
		if (labend + 5 > end || memcmp(labend, "-----", 5) != 0 || n > 64) {
			snprintf(why, whysz, "malformed PEM header");
			return -1;
		}
		if (is_key && label_ok((const char *)lab, n, enc_labels)) {
			snprintf(why, whysz, "encrypted private key");
			return -1;
		}
		if (!label_ok((const char *)lab, n, allowed)) {
			snprintf(why, whysz, "PEM block \"%s\" not accepted "
			    "here", log_escn((const char *)lab, n));
			return -1;
		}
		snprintf(endmark, sizeof(endmark), "-----END %.*s-----",
		    (int)n, (const char *)lab);
		endline = find_line(labend, end, endmark);
		if (endline == NULL) {
			snprintf(why, whysz, "truncated PEM block \"%s\"",
			    log_escn((const char *)lab, n));
			return -1;
		}
		if (is_key && find_line(labend, endline, "Proc-Type:") != NULL) {
			snprintf(why, whysz, "encrypted private key");
			return -1;
		}
		if (blk != NULL && blocks < maxblk)
			blk[blocks] = (struct pem_block){ (size_t)(p - buf),
			    (size_t)(endline + strlen(endmark) - p) };
		p = endline + strlen(endmark);
		blocks++;
	}
	if (blocks == 0)
		snprintf(why, whysz, "no PEM block");
	return blocks ? blocks : -1;
}

size_t
cert_key_strip_params(unsigned char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN EC PARAMETERS-----";
	static const char end[] = "-----END EC PARAMETERS-----";
	const unsigned char *e;
	size_t skip = 0, cut;

	while (skip < len && (buf[skip] == ' ' || buf[skip] == '\t' ||
	    buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	if (len - skip < sizeof(begin) - 1 ||
	    memcmp(buf + skip, begin, sizeof(begin) - 1) != 0 ||
	    (e = find_line(buf + skip, buf + len, end)) == NULL)
		return len;
	cut = (size_t)(e - buf) + sizeof(end) - 1;
	while (cut < len && (buf[cut] == '\r' || buf[cut] == '\n'))
		cut++;
	if (cut >= len)
		return len;	/* parameters alone: let validation say so */
	memmove(buf, buf + cut, len - cut);
	explicit_bzero(buf + len - cut, cut);
	return len - cut;
}

static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

static time_t
asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return (time_t)-1;
	return timegm(&tm);
}

static int
key_check(EVP_PKEY *pkey, struct cert_info *info, char *why, size_t whysz)
{
	int id = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);
	char group[64] = "";
	size_t glen = 0;

	switch (id) {
	case EVP_PKEY_RSA:
		if (bits < 2048) {
			snprintf(why, whysz, "RSA key of %d bits (need >= 2048)",
			    bits);
			return -1;
		}
		info->key_type = KEY_RSA;
		snprintf(info->key_desc, sizeof(info->key_desc), "RSA %d", bits);
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pkey, "group", group,
		    sizeof(group), &glen) != 1)
			group[0] = '\0';
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0) {
			snprintf(info->key_desc, sizeof(info->key_desc),
			    "ECDSA P-256");
		} else if (strcmp(group, "secp384r1") == 0 ||
		    strcmp(group, "P-384") == 0) {
			snprintf(info->key_desc, sizeof(info->key_desc),
			    "ECDSA P-384");
		} else {
			snprintf(why, whysz, "EC key on curve %s (need P-256 "
			    "or P-384)", group[0] ? group : "unknown");
			return -1;
		}
		info->key_type = KEY_ECDSA;
		return 0;
	case EVP_PKEY_ED25519:
		info->key_type = KEY_ED25519;
		snprintf(info->key_desc, sizeof(info->key_desc), "Ed25519");
		return 0;
	default:
		snprintf(why, whysz, "unsupported key type %s",
		    OBJ_nid2sn(id));
		return -1;
	}
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An iPAddress SAN, as text (4 or 16 bytes; anything else "?"). */
static void
add_ip(struct cert_info *info, const ASN1_OCTET_STRING *a)
{
	char text[INET6_ADDRSTRLEN] = "?";
	int len = ASN1_STRING_length(a);

	if (len == 4 || len == 16)
		inet_ntop(len == 4 ? AF_INET : AF_INET6,
		    ASN1_STRING_get0_data(a), text, sizeof(text));
	info->ips = xreallocarray(info->ips, info->nips + 1, sizeof(char *));
	info->ips[info->nips++] = xstrdup(text);
}

static int
names_get(X509 *leaf, struct cert_info *info, char *why, size_t whysz)
{
	GENERAL_NAMES *gens;
	char norm[NAME_MAX_LEN + 1];
	int i, n, rc = -1;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL) {
		snprintf(why, whysz, "no subjectAltName (names come from SAN, "
		    "not CN)");
		return -1;
	}
	n = sk_GENERAL_NAME_num(gens);
	if (n > MAX_NAMES) {
		snprintf(why, whysz, "%d names in subjectAltName (limit %d)",
		    n, MAX_NAMES);
		goto out;
	}
	info->names = xcalloc((size_t)n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *err;
		size_t k;

		if (g->type == GEN_IPADD) {
			add_ip(info, g->d.iPAddress);
			continue;
		}
		if (g->type != GEN_DNS)
			continue;
		err = name_normalize((const char *)ASN1_STRING_get0_data(
		    g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName),
		    norm);
		if (err != NULL) {
			snprintf(why, whysz, "subjectAltName \"%s\": %s",
			    log_escn((const char *)ASN1_STRING_get0_data(
			    g->d.dNSName), (size_t)ASN1_STRING_length(
			    g->d.dNSName)), err);
			goto out;
		}
		for (k = 0; k < info->nnames; k++)
			if (strcmp(info->names[k], norm) == 0)
				break;
		if (k == info->nnames)
			info->names[info->nnames++] = xstrdup(norm);
	}
	if (info->nnames == 0 && info->nips == 0) {
		snprintf(why, whysz, "no DNS name in subjectAltName");
		goto out;
	}
	qsort(info->names, info->nnames, sizeof(char *), cmp_name);
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static void
leaf_ids(X509 *leaf, struct cert_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	BIGNUM *bn;
	char *hex;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(info->serial, sizeof(info->serial), "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	X509_digest(leaf, sha256(), md, &mdlen);
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(info->fingerprint + 3 * i, 4, i + 1 < mdlen ?
		    "%02X:" : "%02X", md[i]);
}

struct cert_ctx *
cert_ctx_new(void)
{
	struct cert_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->dctx = OSSL_DECODER_CTX_new_for_pkey(&ctx->dkey, "PEM", NULL,
	    NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (ctx->dctx != NULL)
		OSSL_DECODER_CTX_set_pem_password_cb(ctx->dctx, no_password,
		    NULL);
	return ctx;
}

void
cert_ctx_free(struct cert_ctx *ctx)
{
	int i;

	if (ctx == NULL)
		return;
	OSSL_DECODER_CTX_free(ctx->dctx);
	EVP_PKEY_free(ctx->dkey);
	for (i = 0; i < ctx->niss; i++)
		X509_free(ctx->iss[i].x);
	free(ctx);
}

static EVP_PKEY *
key_parse(struct cert_ctx *ctx, const unsigned char *key, size_t keylen)
{
	const unsigned char *p = key;
	size_t left = keylen;
	EVP_PKEY *pkey = NULL;
	BIO *bio;

	if (ctx->dctx != NULL) {
		EVP_PKEY_free(ctx->dkey);
		ctx->dkey = NULL;
		if (OSSL_DECODER_from_data(ctx->dctx, &p, &left) == 1) {
			pkey = ctx->dkey;
			ctx->dkey = NULL;
		}
		return pkey;
	}
	bio = BIO_new_mem_buf(key, (int)keylen);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) :
	    NULL;
	BIO_free(bio);
	return pkey;
}

static struct iss_ent *
iss_find(struct cert_ctx *ctx, const unsigned char md[32])
{
	int i;

	for (i = 0; i < ctx->niss; i++)
		if (memcmp(ctx->iss[i].md, md, 32) == 0)
			return &ctx->iss[i];
	return NULL;
}

/* Parses one PEM certificate block; issuing certificates (not the leaf)
 * come from, and go to, the context's cache. Returns a reference. */
static X509 *
cert_parse(struct cert_ctx *ctx, const unsigned char *pem, size_t len,
    int issuer, unsigned char md[32])
{
	unsigned int mdlen = 0;
	struct iss_ent *e;
	X509 *x;
	BIO *bio;

	EVP_Digest(pem, len, md, &mdlen, sha256(), NULL);
	if (issuer && (e = iss_find(ctx, md)) != NULL) {
		X509_up_ref(e->x);
		return e->x;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	x = bio ? PEM_read_bio_X509(bio, NULL, no_password, NULL) : NULL;
	BIO_free(bio);
	if (x != NULL && issuer) {
		if (ctx->niss < ISS_CACHE)
			e = &ctx->iss[ctx->niss++];
		else {
			e = &ctx->iss[ctx->next];
			ctx->next = (ctx->next + 1) % ISS_CACHE;
			X509_free(e->x);
		}
		memset(e, 0, sizeof(*e));
		memcpy(e->md, md, 32);
		X509_up_ref(x);
		e->x = x;
	}
	return x;
}

/* 0 when child is issued and signed by issuer; a link between two cached
 * issuing certificates is checked once. */
static int
issued_by(struct cert_ctx *ctx, X509 *child, const unsigned char cmd[32],
    X509 *issuer, const unsigned char imd[32])
{
	struct iss_ent *e = iss_find(ctx, cmd);
	EVP_PKEY *ipub = X509_get0_pubkey(issuer);

	if (e != NULL && e->signed_ok && memcmp(e->signer, imd, 32) == 0)
		return 0;
	if (X509_check_issued(issuer, child) != X509_V_OK || ipub == NULL ||
	    X509_verify(child, ipub) != 1)
		return -1;
	if (e != NULL && iss_find(ctx, imd) != NULL) {
		memcpy(e->signer, imd, 32);
		e->signed_ok = 1;
	}
	return 0;
}

int
cert_validate(const unsigned char *key, size_t keylen,
    const unsigned char *chain, size_t chainlen, time_t now,
    struct cert_info *info, enum cert_file *file, char *why, size_t whysz)
{
	struct cert_ctx *ctx = cert_ctx_new();
	int rc;

	rc = cert_validate_ctx(ctx, key, keylen, chain, chainlen, now, info,
	    file, why, whysz);
	cert_ctx_free(ctx);
	return rc;
}

int
cert_validate_ctx(struct cert_ctx *ctx, const unsigned char *key,
    size_t keylen, const unsigned char *chain, size_t chainlen, time_t now,
    struct cert_info *info, enum cert_file *file, char *why, size_t whysz)
{
	X509 *certs[MAX_CHAIN];
	unsigned char mds[MAX_CHAIN][32];
	struct pem_block blk[MAX_CHAIN];
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int ncerts = 0, nblocks, i, rc = -1;
	time_t nb, na;

	memset(info, 0, sizeof(*info));
	ERR_clear_error();

	*file = CERT_FILE_KEY;
	nblocks = pem_scan(key, keylen, key_labels, 1, NULL, 0, why, whysz);
	if (nblocks < 0)
		goto out;
	if (nblocks != 1) {
		snprintf(why, whysz, "%d PEM blocks (want one private key)",
		    nblocks);
		goto out;
	}
	pkey = key_parse(ctx, key, keylen);
	if (pkey == NULL) {
		snprintf(why, whysz, "cannot parse private key");
		goto out;
	}
	if (key_check(pkey, info, why, whysz) == -1)
		goto out;

	*file = CERT_FILE_CHAIN;
	nblocks = pem_scan(chain, chainlen, cert_labels, 0, blk, MAX_CHAIN,
	    why, whysz);
	if (nblocks < 0)
		goto out;
	if (nblocks > MAX_CHAIN) {
		snprintf(why, whysz, "%d certificates (limit %d)", nblocks,
		    MAX_CHAIN);
		goto out;
	}
	while (ncerts < nblocks) {
		X509 *x = cert_parse(ctx, chain + blk[ncerts].off,
		    blk[ncerts].len, ncerts > 0, mds[ncerts]);

		if (x == NULL) {
			snprintf(why, whysz, "cannot parse certificate %d",
			    ncerts + 1);
			goto out;
		}
		certs[ncerts++] = x;
	}
	if (ncerts == 0) {
		snprintf(why, whysz, "no certificate");
		goto out;
	}
	info->chain_len = ncerts;
	for (i = 0; i + 1 < ncerts; i++) {
		if (issued_by(ctx, certs[i], mds[i], certs[i + 1],
		    mds[i + 1]) == -1) {
			snprintf(why, whysz, "certificate %d is not issued by "
			    "certificate %d (chain out of order or unrelated)",
			    i + 1, i + 2);
			goto out;
		}
	}
	if (X509_check_private_key(certs[0], pkey) != 1) {
		snprintf(why, whysz, "private key does not match the "
		    "certificate");
		goto out;
	}
	nb = asn1_to_time(X509_get0_notBefore(certs[0]));
	na = asn1_to_time(X509_get0_notAfter(certs[0]));
	if (nb == (time_t)-1 || na == (time_t)-1) {
		snprintf(why, whysz, "unreadable validity dates");
		goto out;
	}
	info->not_before = nb;
	info->not_after = na;
	if (now < nb) {
		snprintf(why, whysz, "certificate not valid before %s",
		    fmt_utc(nb));
		goto out;
	}
	if (now > na) {
		snprintf(why, whysz, "certificate expired %s", fmt_utc(na));
		goto out;
	}
	if (names_get(certs[0], info, why, whysz) == -1)
		goto out;
	leaf_ids(certs[0], info);
	rc = 0;
out:
	for (i = 0; i < ncerts; i++)
		X509_free(certs[i]);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	if (rc == -1)
		cert_info_free(info);
	return rc;
}

/* The index-th certificate of a PEM chain (0: the leaf), or NULL. */
static X509 *
nth_cert(const unsigned char *pem, size_t len, int index)
{
	X509 *x = NULL;
	BIO *bio;
	int i;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	for (i = 0; i <= index; i++) {
		X509_free(x);
		if ((x = PEM_read_bio_X509(bio, NULL, no_password, NULL)) ==
		    NULL)
			break;
	}
	BIO_free(bio);
	ERR_clear_error();
	return x;
}

int
cert_ca_describe(const unsigned char *pem, size_t len, int index, char *cn,
    size_t cnsz, int *self_signed)
{
	X509 *x = nth_cert(pem, len, index);
	X509_NAME *subj;
	char buf[256];

	if (x == NULL)
		return -1;
	subj = X509_get_subject_name(x);
	if (X509_NAME_get_text_by_NID(subj, NID_commonName, buf,
	    sizeof(buf)) <= 0 && X509_NAME_oneline(subj, buf,
	    sizeof(buf)) == NULL)
		snprintf(buf, sizeof(buf), "?");
	snprintf(cn, cnsz, "%s", log_esc(buf));
	*self_signed = X509_check_issued(x, x) == X509_V_OK;
	X509_free(x);
	ERR_clear_error();
	return 0;
}

int
cert_spki_sha256(const unsigned char *pem, size_t len, int index,
    char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	X509 *x = nth_cert(pem, len, index);
	int i, n, rc = -1;

	if (x == NULL)
		return -1;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, sha256(),
	    NULL) == 1 && mdlen == 32) {
		for (i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		out[64] = '\0';
		rc = 0;
	}
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}
