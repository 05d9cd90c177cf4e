/*
 * conf.h - the configuration file (snisync.json(5)): what each key sets,
 * its defaults, conf_load() and conf_free(). conf.c reads it (with
 * report.c and state_json.c, one of the three files that include
 * <jansson.h>).
 */
#ifndef SNISYNC_CONF_H
#define SNISYNC_CONF_H

#include <stddef.h>

#include "dovecot.h"
#include "expiry.h"
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
	int		 expiry_warn_days;	/* EXPIRY_WARN_UNSET: a quarter
						   of each lifetime (expiry.h) */
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
	char		**dane_names;		/* dane.published: names that
						   publish TLSA records */
	size_t		  ndane_names;
	char		*issuers_file;		/* dane.issuers_file: more
						   intermediates (issuers.h);
						   NULL: none */
};

/*
 * conf_load(path, required, &conf): defaults, then the JSON file at path
 * when it exists (required: it must). Unknown keys, wrong types, relative
 * or unsafe paths are errors with file:line:column (logged). Returns 0, or
 * -1 with nothing left to free.
 */
int	conf_load(const char *path, int required, struct conf *c);
void	conf_free(struct conf *c);

/*
 * conf_dane_name(conf, name): 1 when the configuration says name
 * publishes TLSA records (dane.hold_key_change or dane.published).
 */
int	conf_dane_name(const struct conf *c, const char *name);

#endif
