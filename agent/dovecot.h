/*
 * dovecot.h - Dovecot local_name configuration rendering (pure).
 */
#ifndef SNISYNC_DOVECOT_H
#define SNISYNC_DOVECOT_H

#include <stddef.h>

#include "plan.h"

enum dovecot_syntax {
	DOVECOT_AUTO,
	DOVECOT_23,
	DOVECOT_24,
	DOVECOT__MAX
};

/*
 * dovecot_render(plan, pairs, store_dir, syntax, &len): the text of
 * snisync's Dovecot include: local_name blocks pointing at store files;
 * 2.3: one block per set of exact names (or of wildcards) served by the
 * same pair and alt pair, names quoted and space-separated
 * (local_name "a.test b.test" {); 2.4: one block per name. The alt
 * cert/key lines name the entry's alt pair (RSA beside ECDSA), or are
 * explicitly empty so no global alt certificate is inherited. A wildcard
 * block can overlap an exact name's block; blocks are ordered so the
 * exact name wins in either version (2.3 takes the first match: exact
 * names first; 2.4 the last: wildcards first). Returns malloc'd text;
 * syntax must be DOVECOT_23 or DOVECOT_24.
 */
char	*dovecot_render(const struct plan *plan, const struct pair *pairs,
	    const char *store_dir, enum dovecot_syntax syntax, size_t *len);

/* dovecot_blocks(text, len): the number of local_name blocks in text as
 * dovecot_render() writes it. */
size_t	dovecot_blocks(const char *text, size_t len);

/* dovecot_parse_size(text): bytes of a Dovecot size setting as doveconf
 * -h prints it ("256 M", "1G", "18446744073709551615 B"); 0 for none
 * (0, unlimited, the "use the default" maximum, unparsable). */
long long dovecot_parse_size(const char *text);

/* dovecot_parse_version(text): syntax for "2.3.19.1 (..)", "2.4.1-4 (..)";
 * DOVECOT_AUTO when unknown (before 2.3 or unparsable). */
enum dovecot_syntax dovecot_parse_version(const char *text);

#endif
