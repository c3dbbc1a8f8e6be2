/*
 * fuzz_input.h - the input format of fuzz_hypercall (shared with gen_corpus.c).
 *
 *   byte 0              number of hypercalls: (b % FUZZ_MAX_CALLS) + 1
 *   5 bytes per call    slot selector p, then the 32-bit value stored
 *                       (little-endian): the guest-physical address of
 *                       the argument struct.  The store goes to
 *                       UF_HC_ADDR(p % (UF_HC_COUNT + 3) - 1) (every call,
 *                       plus the address below the page and the two slots
 *                       after the last call), 4 bytes further when p has
 *                       bit 7 set (no call's slot).
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

static inline uint64_t fuzz_addr(uint8_t p)
{
	return (uint64_t)UF_HC_PAGE - UF_HC_SLOT + UF_HC_SLOT * ((p & 0x7f) % (UF_HC_COUNT + 3)) + (p & 0x80 ? 4 : 0);
}

/* The selector byte for a call (inverse of fuzz_addr). */
static inline uint8_t fuzz_sel(unsigned call)
{
	return (uint8_t)(call + 1);
}

#endif
