/*
 * report.h - the JSON that `snisync check --json` and `snisync status
 * --json` print (report.c, one of the three files that include
 * <jansson.h>).
 */
#ifndef SNISYNC_REPORT_H
#define SNISYNC_REPORT_H

#include <stddef.h>

#include "plan.h"
#include "state.h"

/* One lineage in `snisync check --json`. */
struct report_row {
	const char		*lineage;
	const char		*verdict;	/* "ok", "rejected", "last-good" */
	const char		*file;		/* with an error */
	const char		*error;
	const struct pair	*pair;		/* what would be served */
	char			**served;	/* names it wins */
	size_t			 nserved;
	int			 expiry_due;	/* pair due for the expiry
						   warning (expiry.h) */
};

char	*report_json(const struct report_row *rows, size_t n, long long now);

/* `snisync status --json` (schema 1, documented in snisync(8)). */
struct status_view {
	const struct state	*st;
	const struct plan	*plan;		/* built from st->pairs */
	long long		 now, last_sync, last_applied, last_success;
					/* 0: never */
	long long		 rejected_since; /* oldest error, 0: none */
	int			 enabled[2];	/* postfix, dovecot */
	int			 warn_days;	/* watch.expiry_warn_days */
};

char	*report_status_json(const struct status_view *v);

/* Both return the text, malloc'd (the caller frees it); out of memory is
 * fatal. */

#endif
