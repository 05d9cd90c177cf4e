/*
 * tlsa.h - `snisync tlsa`: DANE TLSA records for what is served.
 */
#ifndef SNISYNC_TLSA_H
#define SNISYNC_TLSA_H

#include "conf.h"

/*
 * tlsa_run(conf, port, names, n): prints "_PORT._tcp.NAME. IN TLSA 3 1 1
 * HASH" (the served key) and "... 2 1 1 HASH" (its issuing CA) for every
 * served name, or for the n names given. Reads the state and the store;
 * writes nothing. Returns 0, 1 (a name given is not served, or a store
 * file is unreadable) or 4 (state unreadable).
 */
int	tlsa_run(const struct conf *c, int port, char **names, size_t n);

#endif
