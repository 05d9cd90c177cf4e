/*
 * par.c - a loop run on every CPU (util.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

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
