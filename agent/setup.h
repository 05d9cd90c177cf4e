/*
 * setup.h - `snisync setup`: what Postfix and Dovecot still need, and
 * what in their configuration would fight snisync's entries.
 */
#ifndef SNISYNC_SETUP_H
#define SNISYNC_SETUP_H

#include "conf.h"

struct setup_opts {
	int		 apply;		/* set tls_server_sni_maps if unset */
	const char	*postfix_dir;	/* postconf -c; NULL: Postfix's own */
	const char	*dovecot_conf;	/* doveconf -c; NULL: Dovecot's own */
};

/* Returns 0 (nothing left to do), 1 (something to add, or a warning),
 * 4 (postconf or doveconf could not be run). */
int	setup_run(const struct conf *c, const struct setup_opts *o);

#endif
