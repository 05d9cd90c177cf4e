/*
 * unit.h - a tiny table-driven test helper for the unit tests.
 *
 * Each check prints "ok - ..." or "not ok - ... got X, want Y"; main()
 * returns unit_status(). tests/run counts the lines.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;

#define UNIT_OK(cond, ...) do {						\
	if (cond) {							\
		printf("ok - ");					\
	} else {							\
		printf("not ok - ");					\
		unit_failures++;					\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

#define UNIT_STREQ(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int same_ = (g_ == NULL && w_ == NULL) ||			\
	    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);		\
	if (same_) {							\
		printf("ok - ");					\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} else {							\
		printf("not ok - ");					\
		printf(__VA_ARGS__);					\
		printf(": got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", \
		    w_ ? w_ : "(null)");				\
		unit_failures++;					\
	}								\
} while (0)

#define UNIT_INTEQ(got, want, ...) do {					\
	long long g_ = (got), w_ = (want);				\
	if (g_ == w_) {							\
		printf("ok - ");					\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} else {							\
		printf("not ok - ");					\
		printf(__VA_ARGS__);					\
		printf(": got %lld, want %lld\n", g_, w_);		\
		unit_failures++;					\
	}								\
} while (0)

static inline int
unit_status(void)
{
	return unit_failures == 0 ? 0 : 1;
}

#endif
