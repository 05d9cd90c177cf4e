/*
 * tls.c - connect, optional STARTTLS dialogue, handshake with SNI, read
 * the leaf's fingerprint, close. Blocking sockets with send and receive
 * timeouts; the connect itself is bounded with poll(). Certificates are
 * not verified here: the point is to compare what is served with what
 * snisync applied, byte for byte (its SHA-256).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static const char *const proto_names[TLS__MAX] = { "tls", "smtp", "imap",
    "pop3" };

const char *
tls_proto_name(enum tls_proto p)
{
	return p < TLS__MAX ? proto_names[p] : "?";
}

int
tls_proto_parse(const char *s, enum tls_proto *p)
{
	int i;

	for (i = 0; i < TLS__MAX; i++)
		if (strcmp(s, proto_names[i]) == 0) {
			*p = (enum tls_proto)i;
			return 0;
		}
	return -1;
}

/* Connects within timeout_ms. Returns the socket, -2 refused, -1 other
 * failure (why set). */
static int
dial(const char *host, int port, int timeout_ms, char *why, size_t whysz)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	socklen_t len;
	struct pollfd pfd;
	int fd, err = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		len = sizeof(*s6);
	} else {
		snprintf(why, whysz, "%s: not a numeric address", host);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno != EINPROGRESS)
			err = errno;
		else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			len = sizeof(err);
			if (poll(&pfd, 1, timeout_ms) != 1)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == -1)
				err = errno;
		}
	}
	if (err != 0) {
		close(fd);
		if (err == ECONNREFUSED)
			return -2;
		snprintf(why, whysz, "connect: %s", strerror(err));
		return -1;
	}
	if (fcntl(fd, F_SETFL, 0) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(why, whysz, "socket options: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* One reply line (CRLF or LF), at most sz - 1 bytes kept. 0 or -1. */
static int
get_line(int fd, char *buf, size_t sz)
{
	size_t n = 0, total = 0;
	char ch;

	for (;;) {
		ssize_t r = read(fd, &ch, 1);

		if (r != 1 || ++total > 4096)
			return -1;	/* closed, timed out, or no line */
		if (ch == '\n')
			break;
		if (n + 1 < sz && ch != '\r')
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return 0;
}

static int
put(int fd, const char *s)
{
	size_t len = strlen(s);

	return write(fd, s, len) == (ssize_t)len ? 0 : -1;
}

/* Keeps the greeting line when asked to; always true. */
static int
copy_greeting(const char *line, char *greet, size_t greetsz)
{
	if (greet != NULL && greetsz > 0)
		snprintf(greet, greetsz, "%s", line);
	return 1;
}

/* SMTP: a reply is lines "NNN-..." ending with "NNN ..." (at most 100
 * lines: a server that never ends its reply is given up on). */
static int
smtp_reply(int fd, const char *code)
{
	char line[512];
	int lines = 0;

	do {
		if (++lines > 100 || get_line(fd, line, sizeof(line)) == -1 ||
		    strncmp(line, code, 3) != 0)
			return -1;
	} while (line[3] == '-');
	return 0;
}

/* The STARTTLS dialogue of proto; the server's greeting is copied to
 * greet (when not NULL). */
static int
starttls(int fd, enum tls_proto proto, char *greet, size_t greetsz,
    char *why, size_t whysz)
{
	char line[512];
	int ok = -1;

	switch (proto) {
	case TLS_DIRECT:
		return 0;
	case TLS_SMTP:
		ok = smtp_reply(fd, "220") == 0 &&
		    put(fd, "EHLO snisync-verify.invalid\r\n") == 0 &&
		    smtp_reply(fd, "250") == 0 &&
		    put(fd, "STARTTLS\r\n") == 0 &&
		    smtp_reply(fd, "220") == 0 ? 0 : -1;
		break;
	case TLS_IMAP:
		ok = get_line(fd, line, sizeof(line)) == 0 &&
		    copy_greeting(line, greet, greetsz) &&
		    strncmp(line, "* OK", 4) == 0 &&
		    put(fd, "a STARTTLS\r\n") == 0 &&
		    get_line(fd, line, sizeof(line)) == 0 &&
		    strncmp(line, "a OK", 4) == 0 ? 0 : -1;
		break;
	case TLS_POP3:
		ok = get_line(fd, line, sizeof(line)) == 0 &&
		    copy_greeting(line, greet, greetsz) &&
		    strncmp(line, "+OK", 3) == 0 &&
		    put(fd, "STLS\r\n") == 0 &&
		    get_line(fd, line, sizeof(line)) == 0 &&
		    strncmp(line, "+OK", 3) == 0 ? 0 : -1;
		break;
	default:
		break;
	}
	if (ok == -1)
		snprintf(why, whysz, "%s: no STARTTLS", tls_proto_name(proto));
	return ok;
}

static int probe(const char *host, int port, enum tls_proto proto,
	    const char *sni, const char *sigalgs, int timeout_ms, char fp[96],
	    char *greet, size_t greetsz, char *why, size_t whysz);

/*
 * A server that closes on us must not kill the process with SIGPIPE, and
 * the daemon must not ignore it for the commands it runs either: it is
 * blocked around the probe and a pending one discarded.
 */
int
tls_probe(const char *host, int port, enum tls_proto proto, const char *sni,
    const char *sigalgs, int timeout_ms, char fp[96], char *why, size_t whysz)
{
	return tls_probe_greeting(host, port, proto, sni, sigalgs, timeout_ms,
	    fp, NULL, 0, why, whysz);
}

int
tls_probe_greeting(const char *host, int port, enum tls_proto proto,
    const char *sni, const char *sigalgs, int timeout_ms, char fp[96],
    char *greet, size_t greetsz, char *why, size_t whysz)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe, old;
	int rc;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	rc = probe(host, port, proto, sni, sigalgs, timeout_ms, fp, greet,
	    greetsz, why, whysz);
	while (sigtimedwait(&pipe, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* The server's first line after a handshake of TLS from the first byte
 * (its greeting: "220 ...", "* OK ...", "+OK ..."), at most sz - 1
 * bytes; "" when none comes within the socket's timeout. */
static void
tls_greeting(SSL *ssl, char *buf, size_t sz)
{
	size_t n = 0, total = 0;
	char ch;

	while (total++ < 4096 && SSL_read(ssl, &ch, 1) == 1 && ch != '\n')
		if (n + 1 < sz && ch != '\r')
			buf[n++] = ch;
	buf[n] = '\0';
}

static int
probe(const char *host, int port, enum tls_proto proto, const char *sni,
    const char *sigalgs, int timeout_ms, char fp[96], char *greet,
    size_t greetsz, char *why, size_t whysz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *leaf = NULL;
	int fd, rc = -1;

	fd = dial(host, port, timeout_ms, why, whysz);
	if (fd == -2)
		return 1;
	if (fd < 0)
		return -1;
	if (greet != NULL && greetsz > 0)
		greet[0] = '\0';
	if (starttls(fd, proto, greet, greetsz, why, whysz) == -1)
		goto out;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, sni) != 1 ||
	    (sigalgs != NULL && SSL_set1_sigalgs_list(ssl, sigalgs) != 1)) {
		snprintf(why, whysz, "TLS setup failed");
		goto out;
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (SSL_connect(ssl) != 1) {
		unsigned long e = ERR_peek_last_error();

		snprintf(why, whysz, "handshake failed%s%s", e ? ": " : "",
		    e ? ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "?" : "");
		goto out;
	}
	if ((leaf = SSL_get1_peer_certificate(ssl)) == NULL ||
	    X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1) {
		snprintf(why, whysz, "no certificate presented");
		goto out;
	}
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(fp + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
	if (proto == TLS_DIRECT && greet != NULL && greetsz > 0)
		tls_greeting(ssl, greet, greetsz);
	rc = 0;
out:
	X509_free(leaf);
	if (ssl != NULL)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	close(fd);
	return rc;
}
