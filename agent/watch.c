/*
 * watch.c - `snisync watch`; the only file that includes <sys/inotify.h>.
 *
 * Watches letsencrypt_dir (for live/ appearing and certbot's lock),
 * live/, every lineage directory and each source's. Events only mark
 * lineages dirty; schedule.c decides when the pipeline runs (the settle
 * window, certbot's lock, quiet retries of a lineage that may be
 * mid-swap, backoff, the reload rate limit, the periodic full resync).
 * After a full resync it warns about certificates close to expiry.
 * Idle, it sleeps in one poll() with no timer shorter than the periodic
 * resync (or the systemd watchdog, when configured). SIGHUP re-reads the
 * config (a bad one is refused and the old one kept), forgets what the
 * services answered and resyncs everything; SIGTERM/SIGINT end it after
 * the current run, exit status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "expiry.h"
#include "fsio.h"
#include "log.h"
#include "migrate.h"
#include "scan.h"
#include "schedule.h"
#include "state.h"
#include "sync.h"
#include "util.h"
#include "verify.h"
#include "watch.h"

enum wd_kind {
	WD_ROOT,
	WD_LIVE,
	WD_LINEAGE,
	WD_SRC,		/* a source's directory (lego: also certificates/) */
	WD_ENTRY,	/* one entry's directory in a source */
	WD__MAX
};

struct wd_ent {
	int		 wd;
	enum wd_kind	 kind;
	char		*name;		/* lineage name for WD_LINEAGE and
					   WD_ENTRY; source name for WD_SRC */
};

struct watcher {
	const char	*conf_path;
	int		 explicit_conf;
	struct conf	*c;
	int		 in, sfd;
	struct wd_ent	*wds;
	size_t		 nwds;
	struct schedule	 s;		/* when the pipeline runs */
	int		 retry_held;	/* the next run tries a Dovecot
					   include held back (start,
					   SIGHUP) */
	long long	 watchdog_ms, watchdog_at;
	int		 stop;
};

#define ROOT_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define LIVE_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define LINEAGE_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | \
			 IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR)

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void
notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
notify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	char msg[512];
	size_t len;
	va_list ap;
	int fd;

	if (path == NULL || path[0] == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1)
		log_debug("notify: %s", strerror(errno));
	close(fd);
}

/* ---- watch descriptors ---- */

static struct wd_ent *
wd_find(struct watcher *w, int wd)
{
	size_t i;

	for (i = 0; i < w->nwds; i++)
		if (w->wds[i].wd == wd)
			return &w->wds[i];
	return NULL;
}

static void
wd_forget(struct watcher *w, int wd)
{
	size_t i;

	for (i = 0; i < w->nwds; i++)
		if (w->wds[i].wd == wd) {
			free(w->wds[i].name);
			w->wds[i] = w->wds[--w->nwds];
			return;
		}
}

static void
wd_add(struct watcher *w, const char *path, enum wd_kind kind,
    const char *name)
{
	uint32_t mask = kind == WD_ROOT ? ROOT_MASK : kind == WD_LIVE ?
	    LIVE_MASK : LINEAGE_MASK;

	if (kind == WD_SRC)
		mask = LINEAGE_MASK;
	struct wd_ent *e;
	int wd;

	wd = inotify_add_watch(w->in, path, mask);
	if (wd == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			log_warn("watch: %s: %s", log_esc(path),
			    strerror(errno));
		return;
	}
	if ((e = wd_find(w, wd)) != NULL) {	/* already watched */
		e->kind = kind;
		return;
	}
	w->wds = xreallocarray(w->wds, w->nwds + 1, sizeof(*w->wds));
	w->wds[w->nwds++] = (struct wd_ent){ wd, kind,
	    name ? xstrdup(name) : NULL };
}

static void
wd_clear(struct watcher *w)
{
	size_t i;

	for (i = 0; i < w->nwds; i++) {
		inotify_rm_watch(w->in, w->wds[i].wd);
		free(w->wds[i].name);
	}
	free(w->wds);
	w->wds = NULL;
	w->nwds = 0;
}

static void
watch_lineage(struct watcher *w, const char *name)
{
	char *path = xasprintf("%s/live/%s", w->c->letsencrypt_dir, name);

	wd_add(w, path, WD_LINEAGE, name);
	free(path);
}

/*
 * Another client's directory: the source itself (entries appearing or
 * going; a Kubernetes volume's ..data swap; lego's files) and each entry
 * directory (dehydrated's links, acme.sh's files, a volume among
 * several). lego writes every file in dir/certificates.
 */
static void
watch_source(struct watcher *w, const struct source *src)
{
	char *cert = NULL, **names = NULL, *sub, *id;
	size_t n = 0, i;
	struct stat st;
	int one_volume;

	wd_add(w, src->dir, WD_SRC, src->name);
	if (src->type == SOURCE_LEGO) {
		cert = xasprintf("%s/certificates", src->dir);
		wd_add(w, cert, WD_SRC, src->name);
		free(cert);
		return;
	}
	sub = xasprintf("%s/tls.crt", src->dir);
	one_volume = src->type == SOURCE_KUBERNETES && lstat(sub, &st) == 0;
	free(sub);
	if (one_volume || fsio_list(src->dir, &names, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (names[i][0] == '.')
			continue;
		sub = xasprintf("%s/%s", src->dir, names[i]);
		id = xasprintf("%s:%s", src->name, names[i]);
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			wd_add(w, sub, WD_ENTRY, id);
		free(id);
		free(sub);
	}
	fsio_list_free(names, n);
}

/* (Re)creates every watch: the root, live/ and each lineage. Adding
 * watches first and scanning afterwards (the pipeline run that follows)
 * means no change can slip between the two. */
static void
watch_all(struct watcher *w)
{
	char *live = xasprintf("%s/live", w->c->letsencrypt_dir);
	char **names = NULL;
	size_t n = 0, i;

	wd_clear(w);
	if (w->c->letsencrypt_dir != NULL) {
		wd_add(w, w->c->letsencrypt_dir, WD_ROOT, NULL);
		wd_add(w, live, WD_LIVE, NULL);
		if (fsio_list(live, &names, &n) == 0)
			for (i = 0; i < n; i++)
				if (names[i][0] != '.')
					watch_lineage(w, names[i]);
		fsio_list_free(names, n);
	}
	free(live);
	for (i = 0; i < w->c->nsources; i++)
		watch_source(w, &w->c->sources[i]);
}

/* ---- dirty set (schedule.c) ---- */

static void
mark(struct watcher *w, const char *name)
{
	schedule_mark(&w->s, &w->c->watch, name, util_mono_ms());
}

static void
mark_full(struct watcher *w)
{
	schedule_mark_full(&w->s, &w->c->watch, util_mono_ms());
}

static int
lineage_file(const char *name)
{
	return strcmp(name, "privkey.pem") == 0 ||
	    strcmp(name, "fullchain.pem") == 0 ||
	    strcmp(name, "cert.pem") == 0 || strcmp(name, "chain.pem") == 0;
}

/*
 * An event in a source's directory. lego: "<entry>.crt", ".key",
 * ".issuer.crt", ".json" in certificates/ mark that entry. A directory
 * that is one Kubernetes volume: anything (the kubelet's ..data rename)
 * marks it. Otherwise an entry directory appearing or going, or the
 * source's own directory moving, re-creates the watches and resyncs all.
 */
static void
source_event(struct watcher *w, const struct wd_ent *e,
    const struct inotify_event *ev, const char *name)
{
	static const char *const lego_ext[] = { ".issuer.crt", ".crt",
	    ".key", ".json", ".pem", NULL };
	const struct source *src = NULL;
	size_t i, n = strlen(name), k;
	char *id;

	for (i = 0; i < w->c->nsources; i++)
		if (strcmp(w->c->sources[i].name, e->name) == 0)
			src = &w->c->sources[i];
	if (src == NULL)
		return;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF) ||
	    (src->type != SOURCE_LEGO && (ev->mask & IN_ISDIR) &&
	    name[0] != '.')) {
		watch_all(w);
		mark_full(w);
		return;
	}
	if (src->type == SOURCE_LEGO) {
		if (strcmp(name, "certificates") == 0) {
			watch_all(w);
			mark_full(w);
			return;
		}
		for (i = 0; lego_ext[i] != NULL; i++) {
			k = strlen(lego_ext[i]);
			if (n > k && strcmp(name + n - k, lego_ext[i]) == 0) {
				id = xasprintf("%s:%.*s", src->name,
				    (int)(n - k), name);
				mark(w, id);
				free(id);
				return;
			}
		}
		return;
	}
	if (src->type == SOURCE_KUBERNETES) {
		const char *base = strrchr(src->dir, '/');

		id = xasprintf("%s:%s", src->name, base != NULL && base[1] ?
		    base + 1 : "root");
		mark(w, id);
		free(id);
	}
}

static void
handle_event(struct watcher *w, const struct inotify_event *ev)
{
	struct wd_ent *e;
	const char *name = ev->len ? ev->name : "";

	if (ev->mask & IN_Q_OVERFLOW) {
		log_warn("watch: event queue overflowed; full rescan");
		watch_all(w);
		mark_full(w);
		return;
	}
	if ((e = wd_find(w, ev->wd)) == NULL)
		return;
	if (ev->mask & IN_IGNORED) {
		wd_forget(w, ev->wd);
		return;
	}
	switch (e->kind) {
	case WD_ROOT:
		if (strcmp(name, "live") == 0) {
			log_info("watch: %s/live %s", log_esc(
			    w->c->letsencrypt_dir), ev->mask & (IN_CREATE |
			    IN_MOVED_TO) ? "appeared" : "went away");
			watch_all(w);
			mark_full(w);
		} else if (strcmp(name, ".certbot.lock") == 0)
			schedule_recheck(&w->s, util_mono_ms());
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
			log_warn("watch: %s went away",
			    log_esc(w->c->letsencrypt_dir));
		break;
	case WD_LIVE:
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
			watch_all(w);
			mark_full(w);
			break;
		}
		if (name[0] == '\0' || name[0] == '.')
			break;
		if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE |
		    IN_MOVED_TO))) {
			log_debug("watch: new lineage %s", log_esc(name));
			watch_lineage(w, name);
		}
		if (ev->mask & IN_ISDIR)
			mark(w, name);
		break;
	case WD_LINEAGE:
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF) ||
		    lineage_file(name))
			mark(w, e->name);
		break;
	case WD_SRC:
		source_event(w, e, ev, name);
		break;
	case WD_ENTRY:
		mark(w, e->name);
		break;
	default:
		break;
	}
}

static void
read_events(struct watcher *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	ssize_t n;
	char *p;

	for (;;) {
		n = read(w->in, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const void *)p;

			handle_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- runs ---- */

/* 1 when certbot holds the lock on letsencrypt_dir/.certbot.lock. */
static int
certbot_running(struct watcher *w)
{
	char *path;
	struct flock fl;
	int fd, held = 0;

	if (w->c->letsencrypt_dir == NULL)
		return 0;
	path = xasprintf("%s/.certbot.lock", w->c->letsencrypt_dir);

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	free(path);
	if (fd == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		held = 1;
	close(fd);
	return held;
}

static void
warn_expiry(struct watcher *w)
{
	struct state st;
	long long now = (long long)time(NULL);
	int days = w->c->watch.expiry_warn_days;
	char left[32], rule[80];
	size_t i;

	if (migrate_load(w->c->state_dir, 0, 0, &st) == 0) {
		for (i = 0; i < st.n; i++) {
			const struct pair *p = &st.pairs[i];

			if (expiry_due(days, p->not_before, p->not_after, now))
				log_warn("lineage %s: certificate expires in "
				    "%s (%s): %s; is certbot renewing it?",
				    log_esc(p->lineage), expiry_left(left,
				    sizeof(left), p->not_after - now),
				    fmt_utc(p->not_after), expiry_rule(rule,
				    sizeof(rule), days, p->not_before,
				    p->not_after));
		}
		state_free(&st);
	}
}

static void
run_sync(struct watcher *w, int full)
{
	struct sync_result res = { 0 };
	struct sync_opts o = { 0 };
	int rc;

	schedule_begin(&w->s, &w->c->watch, full, util_mono_ms(), &o);
	o.result = &res;
	o.retry_held = w->retry_held;
	w->retry_held = 0;
	rc = sync_resync(w->c, &o);
	/* Renewed on disk, still the old certificate served? Ask. */
	if (res.reloaded && w->c->verify.after_reload)
		verify_lineages(w->c, full ? NULL : w->s.dirty,
		    full ? 0 : w->s.ndirty, 2000);
	malloc_trim(0);		/* idle, hand a big run's memory back */
	schedule_end(&w->s, &w->c->watch, full, util_mono_ms(), &res,
	    rc == EXIT_APPLY);
	if (full)
		warn_expiry(w);
	notify("STATUS=%zu lineages, %zu names, %zu rejected%s",
	    res.nlineages, res.nnames, res.nrejected,
	    w->s.reload_retry_at ? "; retrying a failed step" : "");
	sync_result_free(&res);
}

/* ---- signals ---- */

static void
reconfigure(struct watcher *w)
{
	struct conf *nc = xcalloc(1, sizeof(*nc));

	notify("RELOADING=1");
	read_events(w);		/* nothing queued may be lost */
	if (conf_load(w->conf_path, w->explicit_conf, nc) == -1) {
		log_err("watch: %s: configuration refused; keeping the "
		    "previous one", log_esc(w->conf_path));
		free(nc);
	} else {
		int moved = 1;	/* sources may have changed: rewatch */

		conf_free(w->c);
		free(w->c);
		w->c = nc;
		if (moved)
			watch_all(w);
		log_info("watch: configuration reloaded");
	}
	sync_forget();		/* the services are asked again */
	w->retry_held = 1;
	run_sync(w, 1);
	notify("READY=1");
}

static void
read_signals(struct watcher *w)
{
	struct signalfd_siginfo si;

	while (read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reconfigure(w);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			w->stop = 1;
	}
}

/* ---- main loop ---- */

static long long
next_deadline(const struct watcher *w)
{
	long long d = schedule_deadline(&w->s);

	if (w->watchdog_ms != 0 && w->watchdog_at < d)
		d = w->watchdog_at;
	return d;
}

/* Runs what is due: a settled burst first (nothing else runs while a
 * burst settles), then a failed step's retry, pending lineages, the
 * periodic full resync. Every run waits while certbot holds its lock. */
static void
due(struct watcher *w)
{
	long long now = util_mono_ms();
	int full;

	if (w->watchdog_ms != 0 && now >= w->watchdog_at) {
		notify("WATCHDOG=1");
		w->watchdog_at = now + w->watchdog_ms;
	}
	if (!schedule_due(&w->s, now, &full))
		return;
	if (certbot_running(w) && schedule_certbot(&w->s, &w->c->watch, now,
	    full))
		return;
	run_sync(w, full);
}

static void
watchdog_init(struct watcher *w)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long us;

	if (usec == NULL || (pid != NULL && atol(pid) != (long)getpid()))
		return;
	us = atoll(usec);
	if (us <= 0)
		return;
	w->watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
	w->watchdog_at = util_mono_ms() + w->watchdog_ms;
}

int
watch_run(const char *conf_path, int explicit_conf, struct conf *c)
{
	struct watcher w;
	sigset_t set;
	struct stat st;

	memset(&w, 0, sizeof(w));
	w.conf_path = conf_path;
	w.explicit_conf = explicit_conf;
	w.c = xcalloc(1, sizeof(*w.c));
	*w.c = *c;
	memset(c, 0, sizeof(*c));
	if (w.c->letsencrypt_dir != NULL && (stat(w.c->letsencrypt_dir,
	    &st) == -1 || !S_ISDIR(st.st_mode)) && (w.c->letsencrypt_explicit ||
	    w.c->nsources == 0)) {
		log_err("watch: %s: not a directory",
		    log_esc(w.c->letsencrypt_dir));
		conf_free(w.c);
		free(w.c);
		return EXIT_CONFIG;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	w.in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w.sfd == -1 || w.in == -1)
		log_fatal("watch: %s", strerror(errno));
	watchdog_init(&w);
	watch_all(&w);
	for (size_t i = 0; i < w.c->nsources; i++)
		log_info("watch: source %s: %s %s", w.c->sources[i].name,
		    scan_source_type_name(w.c->sources[i].type),
		    log_esc(w.c->sources[i].dir));
	log_info("watch: watching %s (settle %d ms)", w.c->letsencrypt_dir ?
	    log_esc(w.c->letsencrypt_dir) : "no certbot tree",
	    w.c->watch.settle_ms);
	w.retry_held = 1;
	run_sync(&w, 1);
	notify("READY=1");
	while (!w.stop) {
		struct pollfd pfd[2] = {
			{ w.in, POLLIN, 0 }, { w.sfd, POLLIN, 0 }
		};
		long long wait = next_deadline(&w) - util_mono_ms();
		int r;

		if (wait < 0)
			wait = 0;
		if (wait > INT_MAX)
			wait = INT_MAX;
		r = poll(pfd, 2, (int)wait);
		if (r == -1 && errno != EINTR)
			log_fatal("watch: poll: %s", strerror(errno));
		if (r > 0 && (pfd[1].revents & POLLIN))
			read_signals(&w);
		if (w.stop)
			break;
		if (r > 0 && (pfd[0].revents & POLLIN))
			read_events(&w);
		due(&w);
	}
	notify("STOPPING=1");
	log_info("watch: stopping");
	wd_clear(&w);
	close(w.in);
	close(w.sfd);
	schedule_free(&w.s);
	sync_forget();
	conf_free(w.c);
	free(w.c);
	return 0;
}
