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
 * defaults_postfix(query, timeout, le_dir, &d): runs query (postconf's
 * argv prefix, e.g. {"postconf", "-c", DIR}) with -xh for the main.cf
 * settings and -Px for master.cf's -o overrides. defaults_dovecot(query,
 * timeout, syntax, le_dir, &d): doveconf with the global ssl_cert,
 * ssl_key and alt pair (2.4: ssl_server/cert_file and so on, reported
 * as ssl_server_cert_file). Each file under
 * le_dir/live/<lineage>/ becomes one use (duplicates dropped). Return 0,
 * or -1 when the command could not be run (logged; d left empty).
 */
int	defaults_postfix(char *const *query, int timeout, const char *le_dir,
	    struct defaults *d);
int	defaults_dovecot(char *const *query, int timeout,
	    enum dovecot_syntax syntax, const char *le_dir, struct defaults *d);

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
