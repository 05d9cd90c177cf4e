/*
 * util.c - allocation helpers and a byte buffer. Out of memory is fatal
 * (log_fatal), so callers never check for NULL.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		log_fatal("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		log_fatal("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		log_fatal("out of memory");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		log_fatal("out of memory");
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) == -1)
		log_fatal("out of memory");
	va_end(ap);
	return p;
}

static void
buf_grow(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->len + n + 1 <= b->cap)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	/* Never realloc: old bytes may be key material and must be wiped. */
	p = xmalloc(cap);
	if (b->p != NULL) {
		memcpy(p, b->p, b->len);
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		log_fatal("out of memory");
	buf_add(b, s, (size_t)n);
	free(s);
}

void
buf_wipe(struct buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	buf_free(b);
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
free_wiped(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
	free(p);
}

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

long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct par {
	void		(*fn)(void *, void *, size_t);
	void		 *arg;
	void		*(*begin)(void *);
	void		(*end)(void *);
	size_t		  n;
	atomic_size_t	  next;
};

static void *
par_worker(void *arg)
{
	struct par *p = arg;
	void *tctx = p->begin != NULL ? p->begin(p->arg) : NULL;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(p->arg, tctx, i);
	if (p->end != NULL)
		p->end(tctx);
	return NULL;
}

void
par_for_ctx(size_t n, size_t min, void (*fn)(void *, void *, size_t),
    void *arg, void *(*begin)(void *), void (*end)(void *))
{
	struct par p = { fn, arg, begin, end, n, 0 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[7];
	int nth = 0, i;

	if (n >= min && ncpu > 1)
		nth = ncpu > 8 ? 7 : (int)ncpu - 1;
	for (i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, par_worker, &p) != 0)
			break;
	nth = i;
	par_worker(&p);			/* this thread works too */
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
}

struct par_plain {
	void	(*fn)(void *, size_t);
	void	 *arg;
};

static void
par_plain(void *arg, void *tctx, size_t i)
{
	struct par_plain *pp = arg;

	(void)tctx;
	pp->fn(pp->arg, i);
}

void
par_for(size_t n, size_t min, void (*fn)(void *, size_t), void *arg)
{
	struct par_plain pp = { fn, arg };

	par_for_ctx(n, min, par_plain, &pp, NULL, NULL);
}

int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

void
sort_unless_sorted(void *base, size_t n, size_t size,
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
hex64_ok(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

void *
xgrow(void *p, size_t n, size_t size)
{
	if (n == 0)
		return xreallocarray(p, 1, size);
	if ((n & (n - 1)) == 0)
		return xreallocarray(p, 2 * n, size);
	return p;
}
