/*
 * statedef.h - the applied state as snisync holds it in memory: what
 * state.c loads and saves and staterec.c encodes. Types only.
 */
#ifndef SNISYNC_STATEDEF_H
#define SNISYNC_STATEDEF_H

#include <stddef.h>

#include "fsio.h"
#include "plan.h"

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

#endif
