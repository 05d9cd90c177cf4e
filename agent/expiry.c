/*
 * expiry.c - when a served certificate is close enough to its end that
 * snisync warns (expiry.h). Pure.
 */
#include <stdio.h>

#include "expiry.h"

static long long
lifetime(long long not_before, long long not_after)
{
	if (not_before <= 0 || not_after <= not_before)
		return EXPIRY_DEFAULT_LIFETIME;
	return not_after - not_before;
}

long long
expiry_window(int warn_days, long long not_before, long long not_after)
{
	if (warn_days >= 0)
		return (long long)warn_days * 86400;
	return lifetime(not_before, not_after) / 4;
}

int
expiry_due(int warn_days, long long not_before, long long not_after,
    long long now)
{
	return not_after - now < expiry_window(warn_days, not_before,
	    not_after);
}

const char *
expiry_left(char *buf, size_t sz, long long secs)
{
	if (secs <= 0)
		snprintf(buf, sz, "expired");
	else if (secs >= 3 * 86400)
		snprintf(buf, sz, "%lld days", secs / 86400);
	else if (secs >= 2 * 3600)
		snprintf(buf, sz, "%lld hours", secs / 3600);
	else
		snprintf(buf, sz, "%lld minutes", (secs + 59) / 60);
	return buf;
}

const char *
expiry_rule(char *buf, size_t sz, int warn_days, long long not_before,
    long long not_after)
{
	/* In whole hours (Let's Encrypt's end a second short of one). */
	long long hours = (lifetime(not_before, not_after) + 1800) / 3600;

	if (warn_days >= 0)
		snprintf(buf, sz, "within watch.expiry_warn_days (%d)",
		    warn_days);
	else if (hours % 24 == 0 || hours >= 20 * 24)
		snprintf(buf, sz, "less than a quarter of its %lld-day "
		    "lifetime is left", (hours + 12) / 24);
	else
		snprintf(buf, sz, "less than a quarter of its %lld-hour "
		    "lifetime is left", hours);
	return buf;
}
