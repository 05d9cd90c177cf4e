/*
 * metrics.h - the Prometheus text file (node_exporter's textfile
 * collector): what snisync serves and how its runs went. Pure: renders
 * text, writes nothing.
 */
#ifndef SNISYNC_METRICS_H
#define SNISYNC_METRICS_H

#include <stddef.h>

#include "plan.h"
#include "state.h"

/*
 * metrics_render(st, plan, last_sync, last_success, &len): the exposition
 * text for the applied state st (plan: its names, built from st->pairs);
 * times are Unix seconds, 0 = never. Returns a malloc'd string.
 */
char	*metrics_render(const struct state *st, const struct plan *plan,
	    long long last_sync, long long last_success, size_t *len);

#endif
