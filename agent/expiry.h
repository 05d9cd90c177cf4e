/*
 * expiry.h - when a served certificate is close enough to its end that
 * snisync warns: one rule for watch's warnings, check, status's exit
 * status and its JSON. Pure: no I/O, no logging, no clock.
 *
 * By default a certificate is due for a warning when less than a quarter
 * of its own lifetime (notAfter - notBefore) is left: 22.5 days of a
 * 90-day certificate, 16 of 64, 11.25 of 45, 40 hours of 160. certbot 4
 * renews at a third left (half under 10 days), certbot 2.1 at 30 days, so
 * a warning means a renewal is overdue. watch.expiry_warn_days, when set
 * (0 to 365), replaces the quarter with that many days for every
 * certificate.
 */
#ifndef SNISYNC_EXPIRY_H
#define SNISYNC_EXPIRY_H

#include <stddef.h>

/* watch.expiry_warn_days unset: the quarter of the lifetime applies. */
#define EXPIRY_WARN_UNSET	(-1)

/* The lifetime assumed when a record holds no usable notBefore (90 days). */
#define EXPIRY_DEFAULT_LIFETIME	(90LL * 86400)

/*
 * expiry_window(warn_days, not_before, not_after): how many seconds
 * before not_after the warning starts.
 */
long long	expiry_window(int warn_days, long long not_before,
		    long long not_after);

/* 1 when the certificate is due for the warning at now (expired too). */
int		expiry_due(int warn_days, long long not_before,
		    long long not_after, long long now);

/*
 * expiry_left(buf, sz, secs): "6 days", "38 hours", "40 minutes" or
 * "expired": the time left, in the largest unit that keeps two figures
 * for short lifetimes (hours under 3 days). Returns buf.
 */
const char	*expiry_left(char *buf, size_t sz, long long secs);

/*
 * expiry_rule(buf, sz, warn_days, not_before, not_after): why the
 * warning applies, for the log: "less than a quarter of its 160-hour
 * lifetime is left" or "within watch.expiry_warn_days (21)". Returns buf.
 */
const char	*expiry_rule(char *buf, size_t sz, int warn_days,
		    long long not_before, long long not_after);

#endif
