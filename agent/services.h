/*
 * services.h - what snisync asks Postfix and Dovecot, asked once.
 *
 * Which services are installed, Dovecot's version, the memory limit of
 * its config service and its log_path, and which live/ files the
 * default certificates of Postfix and Dovecot read. Each is asked the
 * first time a run needs it (a run that changes nothing asks nothing)
 * and never twice: Dovecot's limit, log_path and default certificates
 * come from one doveconf run (a full parse of its configuration:
 * seconds at 10,000 blocks). A one-shot run forgets the answers at its
 * start; the daemon keeps them until SIGHUP (services_forget) or a
 * change of the services' configuration files (main.cf, master.cf,
 * dovecot.conf and the *.conf and *.ext files beside it and in its
 * conf.d; snisync's own include aside), seen at the start of each run.
 */
#ifndef SNISYNC_SERVICES_H
#define SNISYNC_SERVICES_H

#include <stddef.h>

#include "conf.h"
#include "defaults.h"
#include "dovecot.h"

enum svc_id { SVC_POSTFIX, SVC_DOVECOT, SVC__MAX };

/* services_begin(c, keep): a run starts; keep (the daemon): the answers
 * stay unless the services' configuration files changed. */
void	services_begin(const struct conf *c, int keep);

/* services_forget(): forgets every answer (SIGHUP, the daemon's end). */
void	services_forget(void);

/* services_on(c, on): which services a run writes: enabled, and for a
 * service left at its default configuration, installed (its output's
 * directory exists; else one info line and it is skipped). */
void	services_on(const struct conf *c, int on[SVC__MAX]);

/* services_syntax(c, &syntax): Dovecot's configuration syntax:
 * dovecot.version, or `dovecot --version` when it is "auto". 0, or -1
 * (logged once; *syntax DOVECOT_AUTO). */
int	services_syntax(const struct conf *c, enum dovecot_syntax *syntax);

/* services_dovecot_limit(c): the memory Dovecot's config service may
 * use, bytes; 0 when unlimited or it cannot be asked. */
long long services_dovecot_limit(const struct conf *c);

/* services_dovecot_log(c): Dovecot's log_path, or "". */
const char *services_dovecot_log(const struct conf *c);

/* services_defaults(c, svc): the live/ files svc's default certificates
 * read (empty when it cannot be asked: a warning). Never NULL; valid
 * until the next services_begin() or services_forget(). */
const struct defaults *services_defaults(const struct conf *c,
	    enum svc_id svc);

/*
 * services_parse_dovecot(text, syntax, le_dir, &limit, log, logsz, &d):
 * the parsing half of the doveconf run, pure. 2.3 prints
 * "default_vsz_limit = 256 M" and "service/config/vsz_limit = 64 M",
 * 2.4 the latter as "  vsz_limit = 64M" inside a service block (or
 * nothing); the config service's own limit wins. d: the default
 * certificate settings (defaults_dovecot_names) that name files under
 * le_dir/live/ (le_dir NULL: none).
 */
void	services_parse_dovecot(const char *text, enum dovecot_syntax syntax,
	    const char *le_dir, long long *limit, char *log, size_t logsz,
	    struct defaults *d);

#endif
