/* SPDX-License-Identifier: ISC */
/* tunnelgw: what the libFuzzer targets in fuzz/ share: the entry points and a few helpers. */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called by libFuzzer: once at start (optional), then once per input. */
int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Bytes handed out one field at a time, as a target decodes its input into arguments. */
struct fuzz_input {
	const uint8_t	*p;
	size_t		 left;
};

struct event_base;

void		 fuzz_quiet(void);
char		*fuzz_string(const uint8_t *, size_t);
const char	*fuzz_tmpdir(void);
char		*fuzz_write(const char *, const void *, size_t);
void		 fuzz_fail(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void		 fuzz_input_init(struct fuzz_input *, const uint8_t *, size_t);
unsigned int	 fuzz_input_byte(struct fuzz_input *);
void		 fuzz_input_bytes(struct fuzz_input *, void *, size_t);
int		 fuzz_client_run(struct event_base *, int, const uint8_t *, size_t, size_t, int,
		    char *, size_t *, int);

#endif
