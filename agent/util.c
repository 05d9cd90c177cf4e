/*
 * util.c - what is left of the base library (util.h): freeing key
 * bytes, the monotonic clock, sorting what is not sorted yet, checking
 * a SHA-256 in hex.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

void
util_free_wiped(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
	free(p);
}

long long
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_sort_unless_sorted(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	const char *p = base;
	size_t i;

	for (i = 1; i < n; i++)
		if (cmp(p + (i - 1) * size, p + i * size) > 0) {
			qsort(base, n, size, cmp);
			return;
		}
}

int
util_hex64_ok(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

const void *
util_find_sorted(const void *key, const void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *), size_t *hint)
{
	const char *b = base, *e;
	size_t h;

	if (n == 0)
		return NULL;
	for (h = *hint; h < n && h <= *hint + 1; h++)
		if (cmp(key, b + h * size) == 0) {
			*hint = h;
			return b + h * size;
		}
	if ((e = bsearch(key, base, n, size, cmp)) != NULL)
		*hint = (size_t)(e - b) / size;
	return e;
}
