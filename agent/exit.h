/*
 * exit.h - snisync's exit status: an interface, documented in --help,
 * README and snisync(8). Every command returns one of these; the modules
 * that report through them include this header alone.
 */
#ifndef SNISYNC_EXIT_H
#define SNISYNC_EXIT_H

enum sync_exit {
	EXIT_SYNCED = 0,	/* everything valid applied (changed or not) */
	EXIT_REJECTED = 1,	/* a lineage was rejected; the rest applied */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_CONFIG = 3,	/* bad configuration file */
	EXIT_APPLY = 4,		/* an output could not be written, checked or
				   reloaded; previous files kept */
	EXIT_LOCKED = 5,	/* another run held the lock too long */
	EXIT__MAX
};

#endif
