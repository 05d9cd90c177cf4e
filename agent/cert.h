/*
 * cert.h - certificate and key validation; the only module that uses
 * OpenSSL.
 */
#ifndef SNISYNC_CERT_H
#define SNISYNC_CERT_H

#include <stddef.h>
#include <time.h>

enum key_type {
	KEY_RSA,
	KEY_ECDSA,
	KEY_ED25519,
	KEY__MAX
};

/* Which input file a validation error is about. */
enum cert_file {
	CERT_FILE_KEY,
	CERT_FILE_CHAIN,
	CERT_FILE__MAX
};

/* What validation learned about a key + full chain. Owned by the caller;
 * release with cert_info_free(). */
struct cert_info {
	char		**names;	/* normalised SAN dNSNames, sorted */
	size_t		  nnames;
	char		**ips;		/* SAN iPAddresses as text, in
					   order: never SNI names */
	size_t		  nips;
	time_t		  not_before, not_after;
	enum key_type	  key_type;
	char		  key_desc[32];	/* "RSA 2048", "ECDSA P-256" */
	char		  serial[80];	/* leaf serial, hex */
	char		  fingerprint[96]; /* SHA-256 of the leaf, XX:XX:.. */
	int		  chain_len;
};

/*
 * cert_validate(key, keylen, chain, chainlen, now, &info, &file, why):
 * checks a private key file and a full chain file the way Postfix and
 * Dovecot will use them: only PEM blocks with labels Postfix accepts and
 * nothing but whitespace around them; no NUL byte; one unencrypted key
 * (RSA >= 2048 bits, ECDSA P-256/P-384, Ed25519); the chain starts with
 * the leaf, each certificate is issued (and signed) by the next; the key
 * matches the leaf; notBefore <= now <= notAfter; at least one DNS name
 * or IP address in subjectAltName, and every DNS name a valid host name
 * (name.h). IP addresses are listed apart (SNI never carries one): a
 * certificate of addresses alone is valid and has no names. Returns 0 and
 * fills info, or -1 with the failing file in *file and a one-line reason
 * in why. Never puts key bytes into why.
 */
int	cert_validate(const unsigned char *key, size_t keylen,
	    const unsigned char *chain, size_t chainlen, time_t now,
	    struct cert_info *info, enum cert_file *file, char *why,
	    size_t whysz);

void	cert_info_free(struct cert_info *info);

/*
 * A validation context for one thread: a reused key decoder (building one
 * costs far more than decoding a key) and the issuing certificates seen
 * so far (most lineages share an intermediate: parsed and checked once).
 * cert_validate_ctx() is cert_validate() with one; a context is used by
 * one thread at a time. cert_ctx_new() never returns NULL.
 */
struct cert_ctx;
struct cert_ctx *cert_ctx_new(void);
void	cert_ctx_free(struct cert_ctx *ctx);
int	cert_validate_ctx(struct cert_ctx *ctx, const unsigned char *key,
	    size_t keylen, const unsigned char *chain, size_t chainlen,
	    time_t now, struct cert_info *info, enum cert_file *file,
	    char *why, size_t whysz);

/*
 * cert_key_strip_params(buf, len): a key file that opens with an "EC
 * PARAMETERS" block before its key (what `openssl ecparam -genkey` and so
 * dehydrated write) loses that block, in place (the freed tail wiped).
 * Returns the new length; any other file is left as it is.
 */
size_t	cert_key_strip_params(unsigned char *buf, size_t len);

#define CERT_SHA256_LEN	32

/* cert_sha256(buf, len, out): SHA-256, out[CERT_SHA256_LEN] bytes. */
void	cert_sha256(const void *buf, size_t len, unsigned char *out);

/* cert_sha256_hex(buf, len, out): lowercase hex SHA-256, out[65]. */
void	cert_sha256_hex(const void *buf, size_t len, char out[65]);

/* cert_key_type_name(t): "RSA", "ECDSA", "Ed25519". */
const char *cert_key_type_name(enum key_type t);

/*
 * cert_spki_sha256(pem, len, index, out): the SHA-256 of the DER
 * SubjectPublicKeyInfo of the index-th certificate (0: the leaf) of a PEM
 * chain, as 64 lowercase hex digits: the data of a TLSA record with
 * selector 1, matching type 1. Returns 0, or -1 (no such certificate).
 */
int	cert_spki_sha256(const unsigned char *pem, size_t len, int index,
	    char out[65]);

/*
 * cert_ca_describe(pem, len, index, cn, cnsz, &self_signed): the subject
 * CN (else the whole subject), escaped for a log line, of the index-th
 * certificate of a PEM chain, and whether it is self-signed (a root).
 * Returns 0, or -1 (no such certificate).
 */
int	cert_ca_describe(const unsigned char *pem, size_t len, int index,
	    char *cn, size_t cnsz, int *self_signed);

#endif
