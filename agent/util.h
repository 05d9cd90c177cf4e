/*
 * util.h - the base library every file may use: allocation that never
 * returns NULL (xmalloc.c: x*), a growable byte buffer (buf.c: buf_*),
 * string arrays (strv.c: strv_*), times as snisync prints them (fmt.c:
 * fmt_*), a loop run on every CPU (par.c: par_*) and the rest (util.c:
 * util_*).
 */
#ifndef SNISYNC_UTIL_H
#define SNISYNC_UTIL_H

#include <stddef.h>

void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable buffer; always NUL-terminated after the len bytes. */
struct buf {
	char	*p;
	size_t	 len, cap;
};

void	buf_add(struct buf *b, const void *p, size_t n);
void	buf_adds(struct buf *b, const char *s);
void	buf_addf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* buf_wipe(b): zero the bytes (they may hold key material), then free. */
void	buf_wipe(struct buf *b);
void	buf_free(struct buf *b);

/*
 * xgrow(p, n, size): p (an array of n elements of size bytes that only
 * ever grew through xgrow) with room for element n: reallocated to twice
 * the room when n is 0 or a power of two, so n additions cost O(n).
 */
void	*xgrow(void *p, size_t n, size_t size);

/* util_sort_unless_sorted(base, n, size, cmp): qsort() unless base
 * already is in cmp's order (one pass; records read in key order usually
 * are). */
void	util_sort_unless_sorted(void *base, size_t n, size_t size,
	    int (*cmp)(const void *, const void *));

/*
 * util_find_sorted(key, base, n, size, cmp, &hint): the element of a
 * sorted array that cmp(key, elem) finds, or NULL: the one a previous
 * lookup found (*hint), or the next, else a binary search. Runs look up
 * every lineage in name order, several times over: most lookups cost
 * one comparison. The hint is only a hint: any array, any key.
 */
const void *util_find_sorted(const void *key, const void *base, size_t n,
	    size_t size, int (*cmp)(const void *, const void *), size_t *hint);

/* util_hex64_ok(s): s is 64 lowercase hex digits (a SHA-256), nothing
 * more. */
int	util_hex64_ok(const char *s);

/* util_free_wiped(p, n): explicit_bzero n bytes at p, then free(p). */
void	util_free_wiped(void *p, size_t n);

/*
 * par_for(n, min, fn, arg): fn(arg, i) for every i < n, on as many
 * threads as there are CPUs (up to 8) when n >= min, else on this one.
 * fn must touch only what item i owns; it may not log (lines would
 * interleave). Returns when every call has.
 */
void	par_for(size_t n, size_t min, void (*fn)(void *arg, size_t i),
	    void *arg);

/* par_for_ctx(n, min, fn, arg, begin, end): the same, where each thread
 * first makes its own context, tctx = begin(arg), passes it to every
 * fn(arg, tctx, i) it runs, and ends with end(tctx). */
void	par_for_ctx(size_t n, size_t min,
	    void (*fn)(void *arg, void *tctx, size_t i), void *arg,
	    void *(*begin)(void *arg), void (*end)(void *tctx));

/* strv_cmp(a, b): strcmp() of two char * elements, for qsort(). */
int	strv_cmp(const void *a, const void *b);

/* strv_has(v, n, s): 1 when one of the n strings in v equals s. */
int	strv_has(char *const *v, size_t n, const char *s);

/* util_mono_ms(): CLOCK_MONOTONIC in milliseconds. */
long long util_mono_ms(void);

/* fmt_utc(t): "2026-11-22 10:00:00 UTC", in a rotating static buffer. */
const char *fmt_utc(long long t);

/* fmt_rfc3339(t): "2026-11-22T10:00:00Z", rotating static buffer. */
const char *fmt_rfc3339(long long t);

#endif
