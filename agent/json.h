/*
 * json.h - configuration, reports, and the import of a 0.1 state.json;
 * json.c is the only file that includes <jansson.h>.
 */
#ifndef SNISYNC_JSON_H
#define SNISYNC_JSON_H

#include <stddef.h>

#include "dovecot.h"
#include "fsio.h"
#include "plan.h"
#include "scan.h"
#include "state.h"
#include "tls.h"

#define CONF_DEFAULT_PATH	"/etc/snisync/snisync.json"

struct svc_conf {
	int		  enabled;
	int		  explicit;	/* the config file names this service */
	char		 *path;		/* postfix: map; dovecot: config file */
	char		**reload;	/* NULL-terminated argv, or NULL */
	char		**check;	/* dovecot only; NULL = no check */
	char		**query;	/* postconf / doveconf argv prefix:
					   which lineages the default
					   certificates read; NULL = off */
	enum dovecot_syntax syntax;	/* dovecot only; AUTO = ask dovecot */
};

/* snisync watch (all times in the unit their name says). */
struct watch_conf {
	int		 settle_ms;		/* quiet time that ends a burst */
	int		 settle_max_ms;		/* a busy tree syncs at least
						   this often */
	int		 report_after_s;	/* a lineage broken this long
						   after its last event is
						   reported */
	int		 resync_interval_s;	/* periodic full resync */
	int		 expiry_warn_days;
	int		 certbot_wait_s;	/* wait while certbot runs */
	int		 reload_min_interval_s;	/* between two reloads */
};

/* snisync verify: where to look (on 127.0.0.1). */
struct verify_endpoint {
	enum tls_proto	 proto;
	int		 port;
};

struct verify_conf {
	struct verify_endpoint	*endpoints;
	size_t			 nendpoints;
	int			 timeout_ms;
	int			 after_reload;	/* watch verifies each reload */
};

struct conf {
	char		*letsencrypt_dir;	/* certbot's; NULL: none */
	int		 letsencrypt_explicit;	/* set in the file */
	struct source	*sources;		/* the other sources */
	size_t		 nsources;
	char		*state_dir;
	int		 command_timeout;	/* seconds, reload and check */
	int		 lock_timeout;		/* seconds */
	struct svc_conf	 postfix, dovecot;
	struct watch_conf watch;
	char		*metrics_file;		/* Prometheus textfile; NULL:
						   off */
	struct verify_conf verify;
	char		**hold;			/* dane.hold_key_change: names
						   whose key changes wait for
						   `snisync release` */
	size_t		  nhold;
};

/*
 * conf_load(path, required, &conf): defaults, then the JSON file at path
 * when it exists (required: it must). Unknown keys, wrong types, relative
 * or unsafe paths are errors with file:line:column (logged). Returns 0, or
 * -1 with nothing left to free.
 */
int	conf_load(const char *path, int required, struct conf *c);
void	conf_free(struct conf *c);

/* state_json_load(path, &st): reads a state.json of snisync 0.1
 * (formats 1 and 2) into st, for its one import into the state
 * database (state.h). 0 with st filled (empty when path is missing or
 * unreadable as a state: logged), -1 when it cannot be read. */
int	state_json_load(const char *path, struct state *st);

/* One lineage in `snisync check --json`. */
struct report_row {
	const char		*lineage;
	const char		*verdict;	/* "ok", "rejected", "last-good" */
	const char		*file;		/* with an error */
	const char		*error;
	const struct pair	*pair;		/* what would be served */
	char			**served;	/* names it wins */
	size_t			 nserved;
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
};

char	*status_json(const struct status_view *v);


#endif
