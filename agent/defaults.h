/*
 * defaults.h - the certificates a service serves without SNI (Postfix's
 * smtpd_tls_chain_files and kin, Dovecot's global ssl_cert): which
 * lineages they read straight from live/.
 */
#ifndef SNISYNC_DEFAULTS_H
#define SNISYNC_DEFAULTS_H

#include <stddef.h>

#include "dovecot.h"

/* One file a default setting names inside a lineage's live/ directory. */
struct default_use {
	char	*param;		/* "smtpd_tls_chain_files",
				   "submission/inet/smtpd_tls_chain_files",
				   "ssl_cert" */
	char	*lineage;
};

struct defaults {
	struct default_use	*v;
	size_t			 n;
};

/*
 * defaults_postfix_names(): the main.cf settings to ask postconf with
 * -xh (NULL-terminated). defaults_postfix_parse(h, p, le_dir, &d): the
 * uses in the answers of `postconf -xh NAMES...` (h) and `postconf -Px`
 * (p: master.cf's -o overrides). defaults_dovecot_names(syntax): the
 * settings to ask doveconf (2.4: ssl_server/cert_file and so on).
 * defaults_dovecot_parse(text, syntax, le_dir, &d): the uses in its
 * answer (2.4's reported as ssl_server_cert_file). Each file under
 * le_dir/live/<lineage>/ becomes one use (duplicates dropped).
 */
const char *const *defaults_postfix_names(void);
void	defaults_postfix_parse(const char *h, const char *p,
	    const char *le_dir, struct defaults *d);
const char *const *defaults_dovecot_names(enum dovecot_syntax syntax);
void	defaults_dovecot_parse(const char *text, enum dovecot_syntax syntax,
	    const char *le_dir, struct defaults *d);

/*
 * defaults_parse(text, names, bare, le_dir, &d): the parsing half, pure.
 * bare: line i is the value of names[i] (postconf -h); else lines are
 * "NAME = VALUE" (postconf -P, doveconf; leading blanks skipped, as in
 * doveconf 2.4's nested blocks), kept when the part of NAME
 * after its last '/' is one of names (NULL-terminated). Values are lists
 * of paths separated by commas or white space; Dovecot's "<" is dropped.
 */
void	defaults_parse(const char *text, const char *const *names, int bare,
	    const char *le_dir, struct defaults *d);

/* defaults_lineage(le_dir, path): the lineage whose live/ directory
 * holds path, as a new string, or NULL. */
char	*defaults_lineage(const char *le_dir, const char *path);

void	defaults_free(struct defaults *d);

#endif
