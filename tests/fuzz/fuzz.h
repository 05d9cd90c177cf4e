/*
 * fuzz.h - shared by the libFuzzer targets in tests/fuzz/.
 *
 * FUZZ_CHECK(cond): for what the code under test promises, never for
 * input validation. A broken promise prints the condition on fd 2 (not
 * through stdio: a target may have pointed stderr at /dev/null) and
 * traps, so libFuzzer reports a crash and saves the input.
 */
#ifndef SNISYNC_FUZZ_H
#define SNISYNC_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz: broken invariant at %s:%d: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		__builtin_trap();					\
	}								\
} while (0)

/*
 * One temp file per process for targets whose code under test takes a
 * path and refuses links (so /proc/self/fd will not do): made under
 * $TMPDIR (else /tmp) by fuzz_file_init(), removed at exit, rewritten per
 * input by fuzz_file_put(). fuzz_file_init() also points stdio's stderr
 * at /dev/null (the code logs every refusal; fd 2 stays open for
 * libFuzzer and the sanitizers).
 */
static char fuzz_file_path[4096];
static int fuzz_file_fd = -1;

static inline void
fuzz_file_remove(void)
{
	if (fuzz_file_fd != -1)
		unlink(fuzz_file_path);
}

static inline void
fuzz_file_init(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	FILE *null;

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	snprintf(fuzz_file_path, sizeof(fuzz_file_path), "%s/%s.XXXXXX", tmp,
	    name);
	if ((fuzz_file_fd = mkstemp(fuzz_file_path)) == -1) {
		perror(fuzz_file_path);
		abort();
	}
	atexit(fuzz_file_remove);
	if ((null = fopen("/dev/null", "w")) != NULL)
		stderr = null;
}

static inline void
fuzz_file_put(const void *data, size_t size)
{
	size_t off = 0;
	ssize_t w;

	if (ftruncate(fuzz_file_fd, 0) == -1)
		abort();
	while (off < size) {
		w = pwrite(fuzz_file_fd, (const char *)data + off, size - off,
		    (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
}

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
