/*
 * fuzz_input.h - the input format of fuzz_hypercall (shared with gen_corpus.c).
 *
 *   byte 0              number of hypercalls: (b % FUZZ_MAX_CALLS) + 1
 *   5 bytes per call    port selector p, then the 32-bit OUT value
 *                       (little-endian): the guest-physical address of
 *                       the argument struct.  The port is
 *                       UF_HC_BASE - 1 + p % (UF_HC_COUNT + 3): every call,
 *                       plus the port below and the two above (not calls).
 *   the rest            guest memory: copied to the start of the heap
 *                       (FUZZ_HEAP, at most FUZZ_IMAGE_MAX bytes); all other
 *                       guest memory is as hvt_boot_setup leaves it.
 *
 * Guest memory is 8 MiB with the layout of tests/unit/support.h: text at
 * 1 MiB, rodata, data, heap from FUZZ_HEAP, stack at the top.
 */
#ifndef UF_FUZZ_INPUT_H
#define UF_FUZZ_INPUT_H

#include "../unit/support.h"

#define FUZZ_MAX_CALLS 8
#define FUZZ_CALL_BYTES 5
#define FUZZ_HEAP UFT_HEAP
#define FUZZ_IMAGE_MAX (64u << 10)

static inline uint16_t fuzz_port(uint8_t p)
{
	return (uint16_t)(UF_HC_BASE - 1 + p % (UF_HC_COUNT + 3));
}

/* The selector byte for a call (inverse of fuzz_port). */
static inline uint8_t fuzz_sel(unsigned call)
{
	return (uint8_t)(call + 1);
}

#endif
