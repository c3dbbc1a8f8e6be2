/*
 * image.c - the one check of a unikernel image (image.h), shared by the
 * tender's loader and unifaasd's deploy.
 *
 * An image is a static ELF executable for this machine's architecture
 * (x86-64 or aarch64; the ELF header's e_machine), built by `unifaas build`
 * (guest/uf.ld): page-aligned PT_LOAD segments at or above UF_IMAGE_BASE,
 * none both writable and executable, and a PT_NOTE carrying the ABI version.
 * Everything is checked against the buffer's length and the memory budget;
 * every refusal says what is wrong with which part.  The note also names
 * what the CPU is pointed at, which must lie in the image's text: on
 * x86-64 the syscall entry and the exception handlers (LSTAR, the IDT), on
 * aarch64 the exception vector table (VBAR_EL1, 2 KiB-aligned).
 *
 * Invariants: pure (no I/O, reads only the buffer), builds with musl and
 * glibc; the file decides every offset and alignment, so headers are
 * copied out with memcpy before they are read.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "image.h"

#define PAGE_MASK ((uint64_t)UF_PAGE_SIZE - 1)

/* The architecture images must be built for: this build's (the tender and
 * unifaasd check images for the machine they run on). */
#if defined(__x86_64__)
#define UF_IMAGE_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define UF_IMAGE_MACHINE EM_AARCH64
#else
#error "unifaas runs on x86-64 and aarch64 only"
#endif

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64:
		return "x86-64";
	case EM_AARCH64:
		return "aarch64";
	default:
		return NULL;
	}
}

static int note_find(const uint8_t *p, uint64_t len, struct uf_image_note *note)
{
	uint64_t off = 0;
	while (off + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr n; /* copied: the file decides the alignment */
		memcpy(&n, p + off, sizeof(n));
		uint64_t name_off = off + sizeof(n);
		uint64_t desc_off = name_off + ((n.n_namesz + 3ull) & ~3ull);
		uint64_t next = desc_off + ((n.n_descsz + 3ull) & ~3ull);
		if (next > len)
			return 0;
		if (n.n_type == UF_NOTE_ABI && n.n_namesz == sizeof(UF_NOTE_NAME) &&
		    memcmp(p + name_off, UF_NOTE_NAME, sizeof(UF_NOTE_NAME)) == 0 && n.n_descsz >= 4) {
			memset(note, 0, sizeof(*note));
			memcpy(&note->version, p + desc_off, 4);
			if (n.n_descsz >= UF_NOTE_DESC_SIZE) {
				memcpy(&note->syscall_entry, p + desc_off + 8, 8);
				memcpy(&note->exc_table, p + desc_off + 16, 8);
			}
			return 1;
		}
		off = next;
	}
	return 0;
}

/* The program headers, checked to lie in the buffer (at most 64). */
static int read_phdrs(const uint8_t *buf, size_t len, Elf64_Ehdr *eh, Elf64_Phdr *ph, char *err, size_t errlen)
{
	if (len < sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file");
		return -1;
	}
	memcpy(eh, buf, sizeof(*eh));
	const char *here = machine_name(UF_IMAGE_MACHINE);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "not an %s little-endian ELF64 image", here);
		return -1;
	}
	if (eh->e_machine != UF_IMAGE_MACHINE) {
		const char *theirs = machine_name(eh->e_machine);
		if (theirs)
			snprintf(err, errlen,
			         "image built for %s, but this machine runs %s images; build the function for %s "
			         "('unifaas build' on this machine)",
			         theirs, here, here);
		else
			snprintf(err, errlen, "not an %s little-endian ELF64 image (ELF machine %u)", here,
			         eh->e_machine);
		return -1;
	}
	if (eh->e_type != ET_EXEC) {
		snprintf(err, errlen, "ELF type %u is not a static executable (ET_EXEC); build it with 'unifaas build'",
		         eh->e_type);
		return -1;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > UF_IMAGE_MAX_PHDRS ||
	    eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) {
		snprintf(err, errlen, "program header table is missing, truncated or has more than 64 entries");
		return -1;
	}
	memcpy(ph, buf + eh->e_phoff, (size_t)eh->e_phnum * sizeof(Elf64_Phdr));
	return 0;
}

int uf_image_check_note(const uint8_t *buf, size_t len, struct uf_image_note *note, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[UF_IMAGE_MAX_PHDRS];
	if (read_phdrs(buf, len, &eh, ph, err, errlen) < 0)
		return -1;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset) {
			snprintf(err, errlen, "note segment %d lies outside the file", i);
			return -1;
		}
		if (!note_find(buf + ph[i].p_offset, ph[i].p_filesz, note))
			continue;
		if (note->version != UF_ABI_VERSION) {
			snprintf(err, errlen,
			         "image speaks unifaas ABI version %u, this tender speaks version %u; "
			         "rebuild the function with this unifaas",
			         note->version, UF_ABI_VERSION);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen,
	         "no unifaas ABI note (.note.unifaas): not a unifaas image; build it with 'unifaas build'");
	return -1;
}

/* One PT_LOAD segment's own rules; top is the end of the previous one. */
static int check_seg(const Elf64_Phdr *p, int i, size_t len, uint64_t top, uint64_t mem_size, char *err, size_t errlen)
{
	uint64_t lo = p->p_vaddr, hi = p->p_vaddr + p->p_memsz;
	if (lo % UF_PAGE_SIZE)
		snprintf(err, errlen, "segment %d at 0x%lx is not page-aligned", i, (unsigned long)lo);
	else if (lo < top || hi < lo)
		snprintf(err, errlen, "segment %d at 0x%lx is below 0x%x or overlaps the previous one", i,
		         (unsigned long)lo, UF_IMAGE_BASE);
	else if (p->p_filesz > p->p_memsz || p->p_offset > len || p->p_filesz > len - p->p_offset)
		snprintf(err, errlen, "segment %d: file contents lie outside the file", i);
	else if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
		snprintf(err, errlen, "segment %d at 0x%lx is both writable and executable (W^X)", i,
		         (unsigned long)lo);
	else if (hi > mem_size)
		snprintf(err, errlen, "segment %d ends at 0x%lx, beyond the %lu MiB memory budget", i,
		         (unsigned long)hi, (unsigned long)(mem_size >> 20));
	else
		return 0;
	return -1;
}

/* Whether [a, a+n) lies in one segment with flags (page-rounded, as mapped). */
static const struct uf_image_seg *find_seg(const struct uf_image *img, uint64_t a, uint64_t n, int exec)
{
	for (int i = 0; i < img->nseg; i++) {
		const struct uf_image_seg *s = &img->seg[i];
		uint64_t hi = (s->vaddr + s->memsz + PAGE_MASK) & ~PAGE_MASK;
		int x = !!(s->flags & PF_X), ro = !(s->flags & (PF_X | PF_W));
		if ((exec ? x : ro) && a >= s->vaddr && a <= hi && n <= hi - a)
			return s;
	}
	return NULL;
}

#if UF_IMAGE_MACHINE == EM_AARCH64
/* Entry and exception vectors (the note's first address, VBAR_EL1: 16
 * entries of 128 bytes, 2 KiB-aligned as VBAR_EL1 requires): all in text.
 * There is no syscall entry of its own (musl's `svc #0` is taken to the
 * vectors) and no handler table: the note's second address must be 0. */
static int check_entries(const uint8_t *buf, struct uf_image *img, char *err, size_t errlen)
{
	(void)buf;
	uint64_t vbar = img->note.syscall_entry;
	if (!find_seg(img, img->entry, 1, 1)) {
		snprintf(err, errlen, "entry point 0x%lx is not in an executable segment", (unsigned long)img->entry);
		return -1;
	}
	if (vbar % UF_VECTORS_ALIGN || !find_seg(img, vbar, UF_VECTORS_SIZE, 1)) {
		snprintf(
		    err, errlen,
		    "exception vectors 0x%lx named by the note are not 2 KiB of an executable segment, 2 KiB-aligned",
		    (unsigned long)vbar);
		return -1;
	}
	if (img->note.exc_table) {
		snprintf(err, errlen, "the note names an exception table (0x%lx), which aarch64 images do not have",
		         (unsigned long)img->note.exc_table);
		return -1;
	}
	return 0;
}
#else
/* 8 bytes at guest address a of segment s, as loaded (zero past filesz). */
static uint64_t seg_u64(const uint8_t *buf, const struct uf_image_seg *s, uint64_t a)
{
	uint8_t b[8] = {0};
	for (uint64_t k = 0; k < 8; k++)
		if (a + k - s->vaddr < s->filesz)
			b[k] = buf[s->offset + (a + k - s->vaddr)];
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* x86-64: entry, syscall entry (LSTAR) and the 32 exception handlers the
 * note's table names (the IDT's gates): all in text, the table in rodata. */
static int check_entries(const uint8_t *buf, struct uf_image *img, char *err, size_t errlen)
{
	if (!find_seg(img, img->entry, 1, 1)) {
		snprintf(err, errlen, "entry point 0x%lx is not in an executable segment", (unsigned long)img->entry);
		return -1;
	}
	if (!find_seg(img, img->note.syscall_entry, 1, 1)) {
		snprintf(err, errlen, "syscall entry 0x%lx named by the note is not in an executable segment",
		         (unsigned long)img->note.syscall_entry);
		return -1;
	}
	uint64_t tab = img->note.exc_table;
	const struct uf_image_seg *ro = tab % 8 ? NULL : find_seg(img, tab, 32 * 8, 0);
	if (!ro) {
		snprintf(err, errlen, "exception table 0x%lx named by the note is not in read-only data",
		         (unsigned long)tab);
		return -1;
	}
	for (int v = 0; v < 32; v++) {
		uint64_t a = seg_u64(buf, ro, tab + 8 * (uint64_t)v);
		if (!find_seg(img, a, 1, 1)) {
			snprintf(err, errlen, "exception handler %d at 0x%lx is not in an executable segment", v,
			         (unsigned long)a);
			return -1;
		}
		img->exc_handlers[v] = a;
	}
	return 0;
}

#endif

int uf_image_check(const uint8_t *buf, size_t len, uint64_t mem_size, struct uf_image *img, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[UF_IMAGE_MAX_PHDRS];
	memset(img, 0, sizeof(*img));
	if (len >= sizeof(Elf64_Ehdr) && (uint64_t)len > mem_size) {
		snprintf(err, errlen, "image of %zu bytes is larger than the memory budget", len);
		return -1;
	}
	if (uf_image_check_note(buf, len, &img->note, err, errlen) < 0 ||
	    read_phdrs(buf, len, &eh, ph, err, errlen) < 0)
		return -1;
	uint64_t top = UF_IMAGE_BASE;
	for (int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (check_seg(p, i, len, top, mem_size, err, errlen) < 0)
			return -1;
		if (img->nseg == UF_IMAGE_MAX_LOAD) {
			snprintf(err, errlen, "more than %d loadable segments", UF_IMAGE_MAX_LOAD);
			return -1;
		}
		img->seg[img->nseg++] = (struct uf_image_seg){.vaddr = p->p_vaddr,
		                                              .memsz = p->p_memsz,
		                                              .offset = p->p_offset,
		                                              .filesz = p->p_filesz,
		                                              .flags = p->p_flags};
		top = (p->p_vaddr + p->p_memsz + PAGE_MASK) & ~PAGE_MASK;
	}
	if (img->nseg == 0) {
		snprintf(err, errlen, "no loadable segments");
		return -1;
	}
	img->end = top;
	img->entry = eh.e_entry;
	img->phoff = eh.e_phoff;
	img->phnum = eh.e_phnum;
	return check_entries(buf, img, err, errlen);
}
