/*
 * hvt_elf.c - loads a checked unikernel image into guest memory.
 *
 * What an image must be is decided in one place, common/image.c
 * (uf_image_check), which unifaasd's deploy also runs on the bytes it
 * copies: deploy refuses, with the same reason, what this loader would.
 * Here the file is mapped, checked, and its segments copied into guest
 * memory; the result is h->lay: the entry point and which pages are
 * executable, read-only and writable, from which hvt_boot.c builds the
 * page tables.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvt.h"

#define PAGE_MASK ((uint64_t)UF_PAGE_SIZE - 1)

/* the layout's region lists hold the image's segments plus heap and stack */
_Static_assert(UF_IMAGE_MAX_LOAD <= HVT_MAX_REGIONS - 4, "too many image segments for struct hvt_layout");

static void region_add(struct hvt_region *r, int *n, uint64_t lo, uint64_t hi)
{
	r[*n].lo = lo;
	r[*n].hi = hi;
	(*n)++;
}

/* Copies the segments of a checked image and records the layout. */
static void load_segments(struct hvt *h, const uint8_t *file, const struct uf_image *img)
{
	struct hvt_layout *lay = &h->lay;
	for (int i = 0; i < img->nseg; i++) {
		const struct uf_image_seg *s = &img->seg[i];
		uint64_t hi_page = (s->vaddr + s->memsz + PAGE_MASK) & ~PAGE_MASK;
		memcpy(h->mem + s->vaddr, file + s->offset, s->filesz);
		if (s->flags & PF_X)
			region_add(lay->exec, &lay->nexec, s->vaddr, hi_page);
		else if (s->flags & PF_W)
			region_add(lay->rw, &lay->nrw, s->vaddr, hi_page);
		else
			region_add(lay->ro, &lay->nro, s->vaddr, hi_page);
	}
	lay->image_end = img->end;
	lay->entry = img->entry;
	lay->note = img->note;
	memcpy(lay->exc_handlers, img->exc_handlers, sizeof(lay->exc_handlers));
	memcpy(lay->phdrs, file + img->phoff, (size_t)img->phnum * sizeof(Elf64_Phdr));
	lay->phnum = img->phnum;
}

int hvt_elf_load(struct hvt *h, const char *path, char *err, size_t errlen)
{
	int rc = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out_fd;
	}
	if ((size_t)st.st_size < sizeof(Elf64_Ehdr)) {
		snprintf(err, errlen, "not an ELF file");
		goto out_fd;
	}
	if ((uint64_t)st.st_size > h->mem_size) { /* not even mapped */
		snprintf(err, errlen, "image of %ld bytes is larger than the memory budget", (long)st.st_size);
		goto out_fd;
	}
	void *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED) {
		snprintf(err, errlen, "cannot map: %s", strerror(errno));
		goto out_fd;
	}
	struct uf_image img;
	if (uf_image_check(file, (size_t)st.st_size, h->mem_size, &img, err, errlen) == 0) {
		load_segments(h, file, &img);
		rc = 0;
	}
	munmap(file, (size_t)st.st_size);
out_fd:
	close(fd);
	return rc;
}
