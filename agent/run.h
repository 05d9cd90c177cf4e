/*
 * run.h - the only code that forks and execs (reload and check commands,
 * version probes). argv only, never a shell.
 */
#ifndef SNISYNC_RUN_H
#define SNISYNC_RUN_H

#include <stddef.h>

/*
 * run_cmd(argv, timeout_s, out, outsz, &status): runs argv[0] (searched in
 * a fixed PATH) with a clean environment, stdin from /dev/null, in its own
 * process group. Its stdout goes to out (first outsz - 1 bytes kept, NUL
 * terminated) when out is non-NULL, else to /dev/null; the first line of
 * its stderr is kept in run_last_stderr(). After timeout_s seconds the
 * whole group is killed. Returns 0 when the command ran to an exit (its
 * exit code in *status, 128+N for a signal), -1 when it could not start
 * or timed out (logged).
 */
int	run_cmd(char *const argv[], int timeout_s, char *out, size_t outsz,
	    int *status);

/*
 * run_cmd_mem(argv, timeout_s, out, outsz, &status, mem_limit, &peak_kb):
 * run_cmd() with the child's address space and data segment limited to
 * mem_limit bytes (0: no limit), as Dovecot limits a service's
 * vsz_limit, and its peak resident size in KB in *peak_kb (when not
 * NULL and the command ran to an exit).
 */
int	run_cmd_mem(char *const argv[], int timeout_s, char *out, size_t outsz,
	    int *status, long long mem_limit, long long *peak_kb);

/* The first line of the last command's stderr (escaped, capped). */
const char *run_last_stderr(void);

/* run_argv_str(argv): argv joined by spaces, escaped, for logs. */
const char *run_argv_str(char *const argv[]);

#endif
