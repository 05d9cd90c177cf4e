/*
 * test_expiry.c - when snisync warns about a certificate's expiry: a
 * quarter of its own lifetime by default, or watch.expiry_warn_days.
 * Lifetimes as Let's Encrypt issues them: notAfter is notBefore plus the
 * lifetime minus one second.
 */
#include "../../agent/expiry.h"
#include "unit.h"

#define DAY	86400LL
#define HOUR	3600LL

static const struct {
	const char	*what;
	long long	 life;		/* notAfter - notBefore + 1 */
	long long	 window;	/* seconds before notAfter */
	const char	*rule;
} profiles[] = {
	{ "classic, 90 days", 90 * DAY, 1943999,
	  "less than a quarter of its 90-day lifetime is left" },
	{ "classic from 2027-02-10, 64 days", 64 * DAY, 1382399,
	  "less than a quarter of its 64-day lifetime is left" },
	{ "tlsserver, 45 days", 45 * DAY, 971999,
	  "less than a quarter of its 45-day lifetime is left" },
	{ "shortlived, 160 hours", 160 * HOUR, 143999,
	  "less than a quarter of its 160-hour lifetime is left" },
	{ "a 6-day test certificate", 6 * DAY, 129599,
	  "less than a quarter of its 6-day lifetime is left" },
};

int
main(void)
{
	long long nb = 1780000000, na, now;
	char buf[96];
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		na = nb + profiles[i].life - 1;
		UNIT_OK(expiry_window(EXPIRY_WARN_UNSET, nb, na) ==
		    profiles[i].window, "%s: the warning starts %lld s "
		    "before notAfter (got %lld)", profiles[i].what,
		    profiles[i].window, expiry_window(EXPIRY_WARN_UNSET,
		    nb, na));
		/* Renewed by certbot 4 at a third left: no warning. */
		now = na - (na - nb) / 3;
		UNIT_OK(!expiry_due(EXPIRY_WARN_UNSET, nb, na, now),
		    "%s: no warning at a third left, where certbot 4 renews",
		    profiles[i].what);
		now = nb + 1;
		UNIT_OK(!expiry_due(EXPIRY_WARN_UNSET, nb, na, now),
		    "%s: no warning when fresh", profiles[i].what);
		now = na - profiles[i].window + 1;
		UNIT_OK(expiry_due(EXPIRY_WARN_UNSET, nb, na, now),
		    "%s: a warning just under a quarter left",
		    profiles[i].what);
		UNIT_STREQ(expiry_rule(buf, sizeof(buf), EXPIRY_WARN_UNSET,
		    nb, na), profiles[i].rule, "%s: the rule's words",
		    profiles[i].what);
	}

	/* The override: that many days for every lifetime. */
	na = nb + 160 * HOUR - 1;
	UNIT_OK(expiry_due(21, nb, na, nb + 1),
	    "expiry_warn_days 21: a fresh 160-hour certificate is due");
	UNIT_OK(!expiry_due(0, nb, na, na - 60),
	    "expiry_warn_days 0: due only once expired");
	UNIT_OK(expiry_due(0, nb, na, na + 1),
	    "expiry_warn_days 0: an expired certificate is due");
	UNIT_STREQ(expiry_rule(buf, sizeof(buf), 21, nb, na),
	    "within watch.expiry_warn_days (21)", "the override's words");

	/* No usable notBefore (0, or after notAfter): 90 days assumed. */
	na = nb + 90 * DAY;
	UNIT_OK(expiry_window(EXPIRY_WARN_UNSET, 0, na) ==
	    EXPIRY_DEFAULT_LIFETIME / 4, "no notBefore: a quarter of 90 days");
	UNIT_OK(expiry_window(EXPIRY_WARN_UNSET, na + 1, na) ==
	    EXPIRY_DEFAULT_LIFETIME / 4,
	    "notBefore after notAfter: a quarter of 90 days");

	UNIT_STREQ(expiry_left(buf, sizeof(buf), 10 * DAY + 5), "10 days",
	    "10 days left");
	UNIT_STREQ(expiry_left(buf, sizeof(buf), 3 * DAY), "3 days",
	    "3 days left");
	UNIT_STREQ(expiry_left(buf, sizeof(buf), 40 * HOUR - 1), "39 hours",
	    "just under 40 hours left");
	UNIT_STREQ(expiry_left(buf, sizeof(buf), 90 * 60), "90 minutes",
	    "90 minutes left");
	UNIT_STREQ(expiry_left(buf, sizeof(buf), 0), "expired", "none left");
	return unit_status();
}
