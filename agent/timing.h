/*
 * timing.h - where a run's time goes (timing.c).
 */
#ifndef SNISYNC_TIMING_H
#define SNISYNC_TIMING_H

#include <sys/resource.h>

enum phase { PH_LOAD, PH_GATHER, PH_RENDER, PH_DEFAULTS, PH_WRITE,
	PH_CHECK, PH_SAVE, PH_RELOAD, PH_GC, PH__MAX };

struct timing {
	long long	 us[PH__MAX], mark, start;
	struct rusage	 self, kids;
};

/* timing_start(t): a run starts. timing_mark(t, p): the time since the
 * last mark goes to phase p. timing_report(t, check_ms): the debug line
 * (check_ms: Dovecot's check, counted inside the write phase). */
void	timing_start(struct timing *t);
void	timing_mark(struct timing *t, enum phase p);
void	timing_report(const struct timing *t, long long check_ms);

#endif
