/*
 * tls.h - a TLS client for `snisync verify`: which certificate does a
 * local server present for a name? The only file besides cert.c that
 * includes OpenSSL headers (libssl).
 */
#ifndef SNISYNC_TLS_H
#define SNISYNC_TLS_H

#include <stddef.h>

enum tls_proto {
	TLS_DIRECT,	/* TLS from the first byte (465, 993, 995) */
	TLS_SMTP,	/* EHLO, STARTTLS (25, 587) */
	TLS_IMAP,	/* STARTTLS (143) */
	TLS_POP3,	/* STLS (110) */
	TLS__MAX
};

/* tls_proto_name(p): "tls", "smtp", "imap", "pop3". */
const char *tls_proto_name(enum tls_proto p);

/* tls_proto_parse(s, &p): 0, or -1 for an unknown name. */
int	tls_proto_parse(const char *s, enum tls_proto *p);

/* Signature algorithm lists (OpenSSL syntax) for tls_probe(): a client
 * that takes only an RSA, or only an ECDSA, certificate. */
#define TLS_SIGALGS_RSA		"rsa_pss_rsae_sha256:" \
				"rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:" \
				"rsa_pkcs1_sha256:rsa_pkcs1_sha384:" \
				"rsa_pkcs1_sha512"
#define TLS_SIGALGS_ECDSA	"ecdsa_secp256r1_sha256:" \
				"ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512"

/*
 * tls_probe(host, port, proto, sni, sigalgs, timeout_ms, fp, why):
 * connects to host:port (numeric address), speaks proto up to the TLS
 * handshake with sni as server name, offering only the signature
 * algorithms of sigalgs (NULL: OpenSSL's default list), and writes the
 * SHA-256 fingerprint of the leaf the server presents to fp
 * ("AB:CD:...", 96 bytes). Never sends anything beyond the handshake.
 * Returns 0, 1 when nothing listens there (connection refused), or -1
 * with the reason in why.
 */
int	tls_probe(const char *host, int port, enum tls_proto proto,
	    const char *sni, const char *sigalgs, int timeout_ms, char fp[96],
	    char *why, size_t whysz);

/*
 * tls_probe_greeting(..., greet, greetsz, why, whysz): tls_probe() that
 * also copies the server's greeting to greet: the first line it sends,
 * before STARTTLS or, for TLS from the first byte, after the handshake
 * (waited for within timeout_ms; "" when none comes).
 */
int	tls_probe_greeting(const char *host, int port, enum tls_proto proto,
	    const char *sni, const char *sigalgs, int timeout_ms, char fp[96],
	    char *greet, size_t greetsz, char *why, size_t whysz);

#endif
