/*
 * log.h - one line per event on stderr; journald priority prefixes
 * ("<3>") when stderr is the journal. Untrusted strings go through
 * log_esc() (escaped, length-capped). Never pass key bytes here.
 */
#ifndef SNISYNC_LOG_H
#define SNISYNC_LOG_H

#include <stddef.h>

void	log_init(const char *progname);
void	log_set_verbose(int verbose);
void	log_set_quiet(int quiet);

/*
 * log_defer(): the lines logged from now on wait (in order) until
 * log_defer_end(emit) writes them (emit) or drops them: a run that tries
 * a shortcut and may start again the long way says nothing twice.
 */
void	log_defer(void);
void	log_defer_end(int emit);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * log_esc(s): s with control bytes, backslash, quotes and non-ASCII shown
 * as \xNN, cut at 200 bytes ("..."). The result lives in one of a few
 * rotating static buffers: use it in the same statement.
 */
const char *log_esc(const char *s);
const char *log_escn(const char *s, size_t len);

#endif
