/*
 * json.h - configuration, state and report (de)serialisation; json.c is
 * the only file that includes <jansson.h>.
 */
#ifndef SNISYNC_JSON_H
#define SNISYNC_JSON_H

#include <stddef.h>

#include "dovecot.h"
#include "fsio.h"
#include "plan.h"
#include "scan.h"
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

/* A lineage that failed validation in the last run. */
struct state_error {
	char		*lineage;
	char		*file;
	char		*error;
	long long	 since;		/* first run that saw this error */
};

/* Failures counted per lineage (each time one starts failing, or fails
 * for another reason): snisync_lineage_errors_total. */
struct lineage_count {
	char		*lineage;
	long long	 n;
};

/* A key change held back (dane.hold_key_change) until `snisync release`:
 * the lineage keeps serving its previous pair. */
struct state_hold {
	char		*lineage;
	char		 key_id[65];	/* the new key, not served yet */
	char		 serial[80];	/* its certificate */
	char		 spki[65];	/* SHA-256 of its public key (the
					   TLSA 3 1 1 data to publish) */
	long long	 since;		/* first run that held it */
};

/* Reloads run for one service. */
struct svc_stats {
	long long	 reloads, failures;
	long long	 last_reload;	/* time of the last success, or 0 */
};

/* Why Dovecot is held back at an earlier include while Postfix has
 * every name. */
enum dovecot_hold {
	DOVECOT_HOLD_NONE,
	DOVECOT_HOLD_NO_FIT,		/* the new include does not fit the
					   config service's memory limit */
	DOVECOT_HOLD_NO_HANDSHAKE,	/* after its reload no handshake
					   completed: the previous include
					   was put back */
	DOVECOT_HOLD__MAX
};

/* Dovecot's side: what the last check of a new include measured, and
 * whether the include in service is an earlier one. Sizes in bytes. */
struct dovecot_state {
	size_t		 blocks;	/* of the include last checked */
	long long	 need;		/* the check's peak memory, 0: not
					   measured */
	long long	 limit;		/* the config service's, 0: none */
	long long	 measured;	/* when, 0: never */
	enum dovecot_hold held;
	long long	 held_since;
	long long	 held_limit;	/* the limit when it was held */
	size_t		 held_blocks;	/* of the include held back */
	size_t		 lacking;	/* names Postfix serves and the
					   include in service does not */
};

/* What snisync applied last time (state_dir/state.json). */
struct state {
	struct pair		*pairs;		/* applied pairs, no bytes */
	size_t			 n;
	struct state_error	*errs;
	size_t			 nerrs;
	int			 have_lmdb;
	struct fsio_id		 lmdb;		/* the map file we wrote */
	int			 reload_pending[2]; /* postfix, dovecot: a
						   reload failed or did not
						   run yet */
	struct svc_stats	 svc[2];	/* postfix, dovecot */
	struct lineage_count	*counts;	/* sorted by lineage */
	size_t			 ncounts;
	struct state_hold	*holds;
	size_t			 nholds;
	struct dovecot_state	 dovecot;
};

/* dovecot_hold_name(h): "none", "does not fit", "no handshake". */
const char *dovecot_hold_name(enum dovecot_hold h);

/* state_hold_of(st, lineage): the lineage's held key change, or NULL. */
const struct state_hold *state_hold_of(const struct state *st,
	    const char *lineage);

/*
 * state_load(path, &st): 0 with st filled (empty when path is missing);
 * a corrupt file is logged and read as empty (the next sync rewrites
 * everything). -1 only when the file exists but cannot be read.
 */
int	state_load(const char *path, struct state *st);
char	*state_render(const struct state *st, size_t *len);
void	state_free(struct state *st);

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

/* state_error_of(st, lineage): the lineage's recorded error, or NULL. */
const struct state_error *state_error_of(const struct state *st,
	    const char *lineage);

#endif
