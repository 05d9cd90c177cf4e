/*
 * verify.h - `snisync verify`: do the local servers present, for each
 * name, the certificate snisync applied?
 */
#ifndef SNISYNC_VERIFY_H
#define SNISYNC_VERIFY_H

#include <stddef.h>

#include "conf.h"

/*
 * verify_run(conf, names, n): probes every configured endpoint that
 * listens on 127.0.0.1 with every served name (or the n names given) as
 * SNI and compares the leaf presented with the applied one. Prints each
 * mismatch and error, then a summary. Returns 0 all match, 1 a mismatch
 * or a failed probe (or a name not served), 4 no endpoint listens or the
 * state is unreadable.
 */
int	verify_run(const struct conf *c, char **names, size_t n);

/*
 * verify_lineages(conf, lineages, n, retry_ms): for the daemon after a
 * reload: probes the names of those lineages (all when n is 0); when
 * something does not match, tries once more after retry_ms and logs
 * what still does not, one error line each. Returns how many probes
 * failed in the end, or -1 when the state is unreadable.
 */
int	verify_lineages(const struct conf *c, char *const *lineages, size_t n,
	    int retry_ms);

/*
 * verify_dovecot_endpoints(conf, sni, idx): the endpoints of
 * verify.endpoints where Dovecot completes a handshake for sni (a plan
 * name; a wildcard is probed with a host under it) now: the
 * imap and pop3 ones, and the tls ones whose greeting after the
 * handshake is IMAP's or POP3's. Their indexes go to idx (room for
 * verify.nendpoints); returns how many.
 */
size_t	verify_dovecot_endpoints(const struct conf *c, const char *sni,
	    size_t *idx);

/* At most this many probes in verify_dovecot_confirm(). */
#define VERIFY_DOVECOT_TRIES	20

/*
 * verify_dovecot_confirm(conf, sni, idx, n, deadline_ms, &tries, why):
 * after a reload, probes those endpoints in turn for sni (as above),
 * half a second between
 * rounds, until one completes a handshake and greets (0) or deadline_ms
 * or VERIFY_DOVECOT_TRIES probes have passed (-1, the last failure in
 * why). tries: the probes made.
 */
int	verify_dovecot_confirm(const struct conf *c, const char *sni,
	    const size_t *idx, size_t n, long long deadline_ms, int *tries,
	    char *why, size_t whysz);

#endif
