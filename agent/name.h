/*
 * name.h - DNS host name validation and normalisation (pure).
 */
#ifndef SNISYNC_NAME_H
#define SNISYNC_NAME_H

#include <stddef.h>

#define NAME_MAX_LEN	253

/*
 * name_normalize(in, len, out): checks that the len bytes at in are a host
 * name snisync may write into a Postfix map or a Dovecot config: LDH
 * labels of 1..63 bytes that neither start nor end with '-', at most 253
 * bytes in all, ASCII only (IDNs as A-labels), no trailing dot, not an
 * IPv4 address, and at most one wildcard, only as the whole first label
 * ("*.example.com", with at least two labels after it). Writes the
 * lowercased name to out (NAME_MAX_LEN + 1 bytes) and returns NULL, or
 * returns a static string saying why the name is refused.
 */
const char *name_normalize(const char *in, size_t len, char *out);

/*
 * name_from_user(in, out): a name typed by a user on the command line:
 * one trailing dot allowed, any case; otherwise as name_normalize().
 */
const char *name_from_user(const char *in, char *out);

/* name_is_wildcard(name): 1 when a normalised name starts with "*.". */
int	name_is_wildcard(const char *name);

/*
 * name_postfix_key(name, out): the Postfix SNI map key for a normalised
 * name: "*.example.com" becomes ".example.com", any other name is itself.
 * out holds NAME_MAX_LEN + 1 bytes.
 */
void	name_postfix_key(const char *name, char *out);

#endif
