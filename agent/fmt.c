/*
 * fmt.c - times as snisync prints them, in rotating static buffers
 * (util.h).
 */
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "util.h"

static const char *
fmt_time(long long t, int rfc3339)
{
	static _Thread_local char bufs[4][32];
	static _Thread_local int next;
	char *b = bufs[next];
	time_t tt = (time_t)t;
	struct tm tm;

	next = (next + 1) % 4;
	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(b, sizeof(bufs[0]), "(bad time)");
	else if (rfc3339)
		strftime(b, sizeof(bufs[0]), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(b, sizeof(bufs[0]), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return b;
}

const char *
fmt_rfc3339(long long t)
{
	return fmt_time(t, 1);
}

const char *
fmt_utc(long long t)
{
	return fmt_time(t, 0);
}
