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

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "fuzz: broken invariant at %s:%d: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		__builtin_trap();					\
	}								\
} while (0)

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
