/*
 * state.h - what snisync applied and why, in an LMDB environment
 * (state_dir/state.lmdb, through db.c): one record per lineage (its
 * applied pair, its rejection, its failure count, its held key change)
 * and one run record (the map's identity, pending reloads, reload
 * counts, Dovecot's side), so a renewal rewrites one record, in one
 * write transaction per save; a save that changes nothing writes no
 * byte. A state.json of snisync 0.1 (formats 1 and 2) is imported at the
 * first save, then kept as state.json.old.
 */
#ifndef SNISYNC_STATE_H
#define SNISYNC_STATE_H

#include <stddef.h>

#include "fsio.h"
#include "plan.h"

#define STATE_DB	"state.lmdb"	/* under state_dir */
#define STATE_JSON	"state.json"	/* 0.1's, imported once */

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

struct state_mirror;

/* What snisync applied last time (state_dir/state.lmdb). */
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
	struct fsio_id		 out_id[2];	/* the Postfix map source and
						   the Dovecot include as the
						   last full plan left them
						   (zero: unknown, or Dovecot
						   held back): a renewal that
						   keeps its names trusts files
						   with these identities */
	size_t			 nnames;	/* names that plan serves */
	unsigned char		 render_key[2][32]; /* what else the
						   outputs of out_id were
						   rendered from (renew.c,
						   render_key()); zero:
						   unknown */
	struct state_mirror	*mirror;	/* what the database holds, as
						   read or last saved (state.c's
						   own; NULL: nothing) */
};


/*
 * state_load(dir, peek, &st): the state of state_dir dir: its database;
 * empty when there is none (migrate.c imports 0.1's state.json first). peek: the caller holds snisync's lock (no writer runs), so
 * the database is read without its lock file: nothing is written. A
 * record that cannot be decoded is logged and left out (the next sync
 * writes it again). 0, or -1 (logged) when the state exists but cannot
 * be read.
 */
int	state_load(const char *dir, int peek, struct state *st);

/*
 * state_load_some(dir, lineages, n, &st): state_load() of the run record
 * and the records of these lineages alone (a renewal: read what it
 * changes, not the tree), always under snisync's lock (peek). A lineage
 * without a record is simply absent. st->mirror holds just those
 * records, so state_save(dir, st, view) writes and deletes no other.
 * 0, or -1 (logged).
 */
int	state_load_some(const char *dir, char *const *lineages, size_t n,
	    struct state *st);

/* state_has_run(st): the run record was read (or saved) into st. */
int	state_has_run(const struct state *st);

/*
 * state_save(dir, base, st): makes the database hold st, in one write
 * transaction that puts the records that differ from base's mirror
 * (what the database holds: base is the state loaded at the start of
 * the run, or st itself) and deletes those of lineages st no longer
 * has; updates base's mirror. Nothing differs: nothing is opened for
 * writing. After the first save, a 0.1 state.json is renamed to
 * state.json.old (logged). 0, or -1 (logged; the database is as it was).
 */
int	state_save(const char *dir, struct state *base, const struct state *st);

/*
 * state_save_run(dir, base, st): state_save() for a change of the run
 * fields alone (pending reloads, reload counts, Dovecot's side, the map's
 * identity): st's lineages must be those base's mirror holds (the state
 * loaded, or last saved, in this run). Writes the run record, or
 * nothing.
 */
int	state_save_run(const char *dir, struct state *base,
	    const struct state *st);

void	state_free(struct state *st);

/* The services, as svc[] and reload_pending[] index them: "postfix",
 * "dovecot". */
extern const char *const state_svc_names[2];

/* state_hold_name(h): "none", "does not fit", "no handshake". */
const char *state_hold_name(enum dovecot_hold h);

/* state_hold_of(st, lineage): the lineage's held key change, or NULL. */
const struct state_hold *state_hold_of(const struct state *st,
	    const char *lineage);

/* state_error_of(st, lineage): the lineage's recorded error, or NULL. */
const struct state_error *state_error_of(const struct state *st,
	    const char *lineage);

#endif
