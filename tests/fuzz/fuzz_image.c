/*
 * fuzz_image.c - libFuzzer target for the image check (common/image.c,
 * uf_image_check), which reads untrusted files twice: in the tender before
 * it loads an image, and in unifaasd when one is deployed.
 *
 * Each input is the image file itself, checked for an 8 MiB unit.  What must
 * hold, for any input:
 *  - no memory error or undefined behaviour (ASan, UBSan): every offset and
 *    length the file gives stays inside the input;
 *  - a refusal leaves a one-line message without control characters;
 *  - an accepted image keeps every promise the loader relies on: 1..12
 *    segments, page-aligned, in order and not overlapping, at or above 1
 *    MiB, inside the budget and (their file part) inside the input, none
 *    both writable and executable; the entry point, the syscall entry and
 *    the 32 exception handlers inside executable segments; the program
 *    headers inside the input; the ABI version this build's.
 * A broken promise aborts, so libFuzzer saves the input.
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define MEM (8u << 20)

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_image: broken promise: %s\n", what);
		abort();
	}
}

static int in_exec(const struct uf_image *img, uint64_t a)
{
	for (int i = 0; i < img->nseg; i++) {
		const struct uf_image_seg *s = &img->seg[i];
		uint64_t hi = (s->vaddr + s->memsz + UF_PAGE_SIZE - 1) & ~(uint64_t)(UF_PAGE_SIZE - 1);
		if ((s->flags & PF_X) && a >= s->vaddr && a < hi)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct uf_image img;
	err[0] = '\0';
	if (uf_image_check(data, size, MEM, &img, err, sizeof(err)) < 0) {
		need(err[0] != '\0', "a refusal says why");
		for (const char *p = err; *p; p++)
			need((unsigned char)*p >= 0x20 && *p != 0x7f, "one line, no control characters");
		return 0;
	}
	need(img.note.version == UF_ABI_VERSION, "ABI version");
	need(img.nseg >= 1 && img.nseg <= UF_IMAGE_MAX_LOAD, "segment count");
	uint64_t top = UF_IMAGE_BASE;
	for (int i = 0; i < img.nseg; i++) {
		const struct uf_image_seg *s = &img.seg[i];
		need(s->vaddr % UF_PAGE_SIZE == 0 && s->vaddr >= top, "segments aligned, in order, apart");
		need(s->memsz > 0 && s->vaddr + s->memsz <= MEM && s->vaddr + s->memsz > s->vaddr, "inside the budget");
		need(s->filesz <= s->memsz && s->offset <= size && s->filesz <= size - s->offset, "inside the file");
		need(!((s->flags & PF_W) && (s->flags & PF_X)), "W^X");
		top = (s->vaddr + s->memsz + UF_PAGE_SIZE - 1) & ~(uint64_t)(UF_PAGE_SIZE - 1);
	}
	need(img.end == top && img.end <= MEM, "end of the image");
	need(in_exec(&img, img.entry) && in_exec(&img, img.note.syscall_entry), "entry points in text");
	for (int v = 0; v < 32; v++)
		need(in_exec(&img, img.exc_handlers[v]), "exception handlers in text");
	need(img.phnum >= 1 && img.phnum <= UF_IMAGE_MAX_PHDRS && img.phoff <= size &&
	         (uint64_t)img.phnum * sizeof(Elf64_Phdr) <= size - img.phoff,
	     "program headers inside the file");
	return 0;
}
