/*
 * image.h - what makes a file a runnable unifaas image (image.c).
 *
 * One check, used by the tender's loader (tender/hvt_elf.c) before a byte
 * is copied into guest memory, and by unifaasd's deploy (daemon/registry.c)
 * on the bytes it copies, so that deploy refuses, with the tender's own
 * reason, exactly the images the tender would refuse.
 */
#ifndef UF_IMAGE_H
#define UF_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "uf_abi.h"

#define UF_IMAGE_MAX_PHDRS 64 /* program headers an image may have */
#define UF_IMAGE_MAX_LOAD  12 /* loadable segments */

/* The image's ABI note (UF_NOTE_ABI). */
struct uf_image_note {
	uint32_t version;
	uint64_t syscall_entry; /* LSTAR */
	uint64_t exc_table;     /* guest address of 32 handler addresses */
};

/* One PT_LOAD segment, as checked: page-aligned, above the previous one,
 * inside the file and the memory budget, never both writable and
 * executable. */
struct uf_image_seg {
	uint64_t vaddr, memsz;   /* where it goes, [vaddr, vaddr + memsz) */
	uint64_t offset, filesz; /* what of the file it holds */
	uint32_t flags;          /* PF_X, PF_W, PF_R */
};

/* What the loader needs of a checked image; offsets are into the buffer. */
struct uf_image {
	uint64_t entry;
	struct uf_image_note note;
	uint64_t exc_handlers[32];
	uint64_t end; /* page-aligned end of the highest segment */
	struct uf_image_seg seg[UF_IMAGE_MAX_LOAD];
	int nseg;
	uint64_t phoff; /* the program headers, phnum x 56 bytes at buf + phoff */
	uint32_t phnum;
};

/* The whole check of an image of len bytes for a unit with mem_size bytes of
 * guest memory: ELF header, ABI note and version, segments, entry point,
 * syscall entry and exception handlers in text.  0 with *img filled, or -1
 * with the reason in err ("segment 2 at 0x... is both writable and
 * executable (W^X)").  Pure: reads only buf. */
int uf_image_check(const uint8_t *buf, size_t len, uint64_t mem_size, struct uf_image *img, char *err, size_t errlen);
/* Its first part: the ELF header and the ABI note (the version must be
 * UF_ABI_VERSION). */
int uf_image_check_note(const uint8_t *buf, size_t len, struct uf_image_note *note, char *err, size_t errlen);

#endif
