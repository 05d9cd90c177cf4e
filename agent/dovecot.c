/*
 * dovecot.c - local_name rendering (pure: struct -> bytes).
 *
 * Only names that passed name_normalize() get here, and store paths are
 * checked by the config loader, so nothing in the output can break out
 * of its line or block. 2.3 syntax reads files with "<path"; 2.4 takes
 * plain paths in ssl_server_*_file (a "<" there would be read as file
 * contents). One name per block in both versions (2.4.1 refuses several).
 * A dual-algorithm name's RSA pair goes in the alt settings; every other
 * block sets them empty, so the global alt certificate is never
 * inherited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"
#include "name.h"
#include "util.h"

static void
block(struct buf *b, const char *name, const struct pair *p,
    const struct pair *alt, const char *store, enum dovecot_syntax syn)
{
	int v23 = syn == DOVECOT_23;

	buf_addf(b, "local_name %s {\n"
	    "  %s = %s%s/%s.pem\n"
	    "  %s = %s%s/%s.pem\n", name,
	    v23 ? "ssl_cert" : "ssl_server_cert_file", v23 ? "<" : "", store,
	    p->chain_id,
	    v23 ? "ssl_key" : "ssl_server_key_file", v23 ? "<" : "", store,
	    p->key_id);
	if (alt != NULL)
		buf_addf(b, "  %s = %s%s/%s.pem\n"
		    "  %s = %s%s/%s.pem\n",
		    v23 ? "ssl_alt_cert" : "ssl_server_alt_cert_file",
		    v23 ? "<" : "", store, alt->chain_id,
		    v23 ? "ssl_alt_key" : "ssl_server_alt_key_file",
		    v23 ? "<" : "", store, alt->key_id);
	else
		buf_addf(b, "  %s =\n  %s =\n",
		    v23 ? "ssl_alt_cert" : "ssl_server_alt_cert_file",
		    v23 ? "ssl_alt_key" : "ssl_server_alt_key_file");
	buf_adds(b, "}\n");
}

char *
dovecot_render(const struct plan *plan, const struct pair *pairs,
    const char *store_dir, enum dovecot_syntax syn, size_t *len)
{
	struct buf b = { 0 };
	size_t i;
	int pass;

	buf_addf(&b, "# Written by snisync for Dovecot %s. Do not edit: "
	    "every sync replaces this file.\n# Exact names come %s "
	    "wildcards, so an exact name always gets its own certificate.\n",
	    syn == DOVECOT_23 ? "2.3" : "2.4",
	    syn == DOVECOT_23 ? "before" : "after");
	/* 2.3: first match wins -> exact first; 2.4: last match wins. */
	for (pass = 0; pass < 2; pass++) {
		int want_wild = (syn == DOVECOT_23) ? pass == 1 : pass == 0;

		for (i = 0; i < plan->n; i++) {
			const char *name = plan->e[i].name;

			if (name_is_wildcard(name) != want_wild)
				continue;
			block(&b, name, &pairs[plan->e[i].pair],
			    plan->e[i].alt == PLAN_NO_ALT ? NULL :
			    &pairs[plan->e[i].alt], store_dir, syn);
		}
	}
	*len = b.len;
	return b.p;
}

enum dovecot_syntax
dovecot_parse_version(const char *text)
{
	int major = 0, minor = 0;

	if (text == NULL || sscanf(text, "%d.%d", &major, &minor) != 2)
		return DOVECOT_AUTO;
	if (major == 2 && minor == 3)
		return DOVECOT_23;
	if ((major == 2 && minor >= 4) || major > 2)
		return DOVECOT_24;
	return DOVECOT_AUTO;
}
