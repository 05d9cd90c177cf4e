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
 * dovecot_render(plan, pairs, served_dir, syntax, &len): the text of
 * snisync's Dovecot include: local_name blocks pointing at the served
 * files (store.h) of the lineages serving them, one file as both cert
 * and key, so the text depends on names and lineages only (a renewal
 * leaves it the same);
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
	    const char *served_dir, enum dovecot_syntax syntax, size_t *len);

/* dovecot_blocks(text, len): the number of local_name blocks in text as
 * dovecot_render() writes it. */
size_t	dovecot_blocks(const char *text, size_t len);

/* dovecot_lacking(text, len, plan): how many of plan's names no
 * local_name line of text (an include as dovecot_render() writes it)
 * names. text may be NULL (every name lacks). */
size_t	dovecot_lacking(const char *text, size_t len, const struct plan *plan);

/* dovecot_refs(text, len, dir, &n): the names of the ".pem" files right
 * under dir that text names (after "<" or " "), in text order, repeats
 * kept; a malloc'd array of n malloc'd strings, or NULL when n is 0. */
char	**dovecot_refs(const char *text, size_t len, const char *dir,
	    size_t *n);

/*
 * What the check of a new include (doveconf -xn) tells of the memory the
 * config service will need for it, per version (measured with the real
 * Dovecot of Debian 12 and 13: docs/performance.md, "The memory guard"):
 *
 * 2.3: doveconf needs about the address space the config process needs
 * for the same configuration. The check runs under DOVECOT_USABLE_PCT of
 * the limit (the rest is headroom for the config process); the need is
 * doveconf's peak RSS over that share.
 *
 * 2.4: doveconf needs up to 1.7 times the address space of the config
 * process (60 MB + 31 KB a block against 59 MB + 18 KB), so a check
 * under the limit held back what the service holds (10,000 blocks under
 * 256 MB). The check runs under DOVECOT24_CHECK_TIMES the limit, which
 * only bounds a runaway; the need is the config process's, predicted
 * from doveconf's peak RSS (DOVECOT24_BASE plus DOVECOT24_PER_RSS_PCT %
 * of it), with DOVECOT24_MARGIN_PCT % more: at or above the config
 * process's peak at every size measured (1 to 12,000 blocks) but where
 * its memory pools double. An include fits when its need is within the
 * limit: under 256 MB that is up to about 10,500 blocks; the service
 * held 12,000 (with 0.7 MB to spare) and died at 13,000.
 */
#define DOVECOT_USABLE_PCT	90
#define DOVECOT24_CHECK_TIMES	4
#define DOVECOT24_BASE		(49LL << 20)
#define DOVECOT24_PER_RSS_PCT	78
#define DOVECOT24_MARGIN_PCT	9

/* dovecot_check_limit(syn, limit): the address space the check runs
 * under for a config service limited to limit bytes (0: unlimited). */
long long dovecot_check_limit(enum dovecot_syntax syn, long long limit);

/* dovecot_need(syn, peak): the limit, in bytes, that the config service
 * needs for a configuration whose check peaked at peak bytes of RSS. */
long long dovecot_need(enum dovecot_syntax syn, long long peak);

/* Dovecot 2.3 reparses its whole configuration at each reload: above
 * about this many blocks the first handshake after one takes more than
 * a second on 2 cores (make bench, docs/performance.md). */
#define DOVECOT23_SLOW_BLOCKS	1000

/* dovecot_vsz_advice(need, buf, sz): a vsz_limit value ("512M", "1G",
 * ...) with room for need bytes and half as much growth. */
void	dovecot_vsz_advice(long long need, char *buf, size_t sz);

/* dovecot_parse_size(text): bytes of a Dovecot size setting as doveconf
 * -h prints it ("256 M", "1G", "18446744073709551615 B"); 0 for none
 * (0, unlimited, the "use the default" maximum, unparsable). */
long long dovecot_parse_size(const char *text);

/* dovecot_parse_version(text): syntax for "2.3.19.1 (..)", "2.4.1-4 (..)";
 * DOVECOT_AUTO when unknown (before 2.3 or unparsable). */
enum dovecot_syntax dovecot_parse_version(const char *text);

#endif
