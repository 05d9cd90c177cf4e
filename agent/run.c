/*
 * run.c - the only code that forks and execs.
 *
 * run_cmd() runs an argv (no shell) with a clean environment (only a
 * fixed PATH and LANG=C), stdin /dev/null, in a new process group, and
 * kills the group after the timeout. Output that may hold key material
 * (doveconf -x expands files) is never logged: stdout goes to /dev/null
 * unless the caller asked for it, and only the first stderr line is kept,
 * with anything that looks like PEM cut away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "run.h"
#include "util.h"

#define RUN_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char last_stderr[512];

const char *
run_last_stderr(void)
{
	return last_stderr;
}

const char *
run_argv_str(char *const argv[])
{
	static char buf[1024];
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; argv[i] != NULL && off < sizeof(buf) - 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
		    i ? " " : "", argv[i]);
	return log_esc(buf);
}

static void
child(char *const argv[], int outfd, int errfd, long long mem_limit)
{
	static char *const envp[] = { "PATH=" RUN_PATH, "LANG=C", NULL };
	sigset_t none;
	int null;

	setpgid(0, 0);
	/* The daemon blocks signals it reads through a signalfd; the child
	 * must not inherit that. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null = open("/dev/null", O_RDWR);
	if (null == -1)
		_exit(127);
	dup2(null, 0);
	dup2(outfd != -1 ? outfd : null, 1);
	dup2(errfd, 2);
	signal(SIGPIPE, SIG_DFL);
	if (mem_limit > 0) {
		/* As Dovecot limits a service (vsz_limit): address space
		 * and data segment. */
		struct rlimit rl = { (rlim_t)mem_limit, (rlim_t)mem_limit };

		if (setrlimit(RLIMIT_AS, &rl) == -1 ||
		    setrlimit(RLIMIT_DATA, &rl) == -1) {
			dprintf(2, "exec %s: setrlimit: %s\n", argv[0],
			    strerror(errno));
			_exit(127);
		}
	}
	if (strchr(argv[0], '/') != NULL)
		execve(argv[0], argv, envp);
	else
		execvpe(argv[0], argv, envp);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void
keep_stderr(const char *err)
{
	const char *nl = strchr(err, '\n');
	size_t n = nl ? (size_t)(nl - err) : strlen(err);
	char line[512];

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, err, n);
	line[n] = '\0';
	if (strstr(line, "-----BEGIN") != NULL)
		*strstr(line, "-----BEGIN") = '\0';
	snprintf(last_stderr, sizeof(last_stderr), "%s", log_esc(line));
}

int
run_cmd(char *const argv[], int timeout_s, char *out, size_t outsz,
    int *status)
{
	return run_cmd_mem(argv, timeout_s, out, outsz, status, 0, NULL);
}

int
run_cmd_mem(char *const argv[], int timeout_s, char *out, size_t outsz,
    int *status, long long mem_limit, long long *peak_kb)
{
	struct rusage ru;
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	char err[4096];
	size_t errlen = 0, outlen = 0;
	long long deadline;
	pid_t pid;
	int wst, timed_out = 0, open_fds;

	last_stderr[0] = '\0';
	*status = -1;
	if ((out != NULL && pipe2(op, O_CLOEXEC) == -1) ||
	    pipe2(ep, O_CLOEXEC) == -1) {
		log_err("pipe: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(argv, op[1], ep[1], mem_limit);
	setpgid(pid, pid);
	if (op[1] != -1)
		close(op[1]);
	close(ep[1]);
	op[1] = ep[1] = -1;
	deadline = util_mono_ms() + (long long)timeout_s * 1000;
	open_fds = (op[0] != -1) + 1;
	while (open_fds > 0) {
		struct pollfd pfd[2];
		int n = 0, r;
		long long left = deadline - util_mono_ms();

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (ep[0] != -1)
			pfd[n++] = (struct pollfd){ ep[0], POLLIN, 0 };
		if (op[0] != -1)
			pfd[n++] = (struct pollfd){ op[0], POLLIN, 0 };
		r = poll(pfd, (nfds_t)n, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char tmp[4096];
			ssize_t k;

			if (pfd[i].revents == 0)
				continue;
			k = read(pfd[i].fd, tmp, sizeof(tmp));
			if (k <= 0) {
				if (k == -1 && errno == EINTR)
					continue;
				close(pfd[i].fd);
				if (pfd[i].fd == ep[0])
					ep[0] = -1;
				else
					op[0] = -1;
				open_fds--;
				continue;
			}
			if (pfd[i].fd == ep[0]) {
				size_t c = (size_t)k;

				if (c > sizeof(err) - 1 - errlen)
					c = sizeof(err) - 1 - errlen;
				memcpy(err + errlen, tmp, c);
				errlen += c;
			} else {
				size_t c = (size_t)k;

				if (c > outsz - 1 - outlen)
					c = outsz - 1 - outlen;
				memcpy(out + outlen, tmp, c);
				outlen += c;
			}
		}
	}
	if (!timed_out) {
		/* Output closed; give the process the rest of the time. */
		memset(&ru, 0, sizeof(ru));
		while (wait4(pid, &wst, WNOHANG, &ru) == 0) {
			if (util_mono_ms() >= deadline) {
				timed_out = 1;
				break;
			}
			struct timespec nap = { 0, 10 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
	}
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &wst, 0);
		log_err("%s: timed out after %d s (command_timeout), killed",
		    run_argv_str(argv), timeout_s);
		goto fail;
	}
	err[errlen] = '\0';
	keep_stderr(err);
	if (out != NULL)
		out[outlen] = '\0';
	if (ep[0] != -1)
		close(ep[0]);
	if (op[0] != -1)
		close(op[0]);
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	if (peak_kb != NULL)
		*peak_kb = ru.ru_maxrss;
	if (*status == 127 && strncmp(last_stderr, "exec ", 5) == 0) {
		log_err("%s: %s", run_argv_str(argv), last_stderr);
		return -1;
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (op[i] != -1)
			close(op[i]);
		if (ep[i] != -1)
			close(ep[i]);
	}
	return -1;
}
