/*
 * timing.c - where a run's time goes: the wall time of each phase, the
 * CPU of snisync and its children, page faults; one debug line at the
 * run's end (make bench prints it beside a missed target).
 */
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "log.h"
#include "timing.h"

static long long
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
timing_start(struct timing *t)
{
	memset(t, 0, sizeof(*t));
	t->start = t->mark = mono_us();
	getrusage(RUSAGE_SELF, &t->self);
	getrusage(RUSAGE_CHILDREN, &t->kids);
}

void
timing_mark(struct timing *t, enum phase p)
{
	long long now = mono_us();

	t->us[p] += now - t->mark;
	t->mark = now;
}

static long long
ru_us(const struct rusage *a, const struct rusage *b)
{
	return (long long)(b->ru_utime.tv_sec - a->ru_utime.tv_sec) * 1000000 +
	    (b->ru_utime.tv_usec - a->ru_utime.tv_usec) +
	    (long long)(b->ru_stime.tv_sec - a->ru_stime.tv_sec) * 1000000 +
	    (b->ru_stime.tv_usec - a->ru_stime.tv_usec);
}

void
timing_report(const struct timing *t, long long check_ms)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	log_debug("timing: %.1f ms: state load %.1f, scan/validate/plan %.1f, "
	    "render and compare %.1f, default-certificate queries %.1f, "
	    "write %.1f (Dovecot check %lld ms), state save %.1f, reloads "
	    "%.1f, clean-up %.1f; CPU %.1f ms (children %.1f), %ld page "
	    "faults",
	    (mono_us() - t->start) / 1000.0, t->us[PH_LOAD] / 1000.0,
	    t->us[PH_GATHER] / 1000.0, t->us[PH_RENDER] / 1000.0,
	    t->us[PH_DEFAULTS] / 1000.0,
	    (t->us[PH_WRITE] + t->us[PH_CHECK]) / 1000.0, check_ms,
	    t->us[PH_SAVE] / 1000.0, t->us[PH_RELOAD] / 1000.0,
	    t->us[PH_GC] / 1000.0, ru_us(&t->self, &self) / 1000.0,
	    ru_us(&t->kids, &kids) / 1000.0,
	    self.ru_minflt - t->self.ru_minflt);
}
