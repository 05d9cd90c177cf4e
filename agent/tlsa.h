/*
 * tlsa.h - `snisync tlsa`: DANE TLSA records for what is served.
 */
#ifndef SNISYNC_TLSA_H
#define SNISYNC_TLSA_H

#include "conf.h"

/*
 * tlsa_run(conf, port, names, n): prints "_PORT._tcp.NAME. IN TLSA 3 1 1
 * HASH" (the served key) and "... 2 1 1 HASH" for every intermediate of
 * its issuer's family (issuers.h; the issuer's own key, with a warning,
 * when it is in none; nothing for a root) for every served name, or for
 * the n names given, each with a comment saying what it covers. Reads
 * the state, the store and dane.issuers_file; writes nothing. Returns 0,
 * 1 (a name given is not served, or a store file is unreadable), 3
 * (dane.issuers_file unreadable or bad) or 4 (state unreadable).
 */
int	tlsa_run(const struct conf *c, int port, char **names, size_t n);

#endif
