/*
 * hvt_elf.c - checks a unikernel image and loads it into guest memory.
 *
 * An image is a static x86-64 ELF executable built by `unifaas build`
 * (guest/uf.ld): page-aligned PT_LOAD segments at or above UF_IMAGE_BASE,
 * none both writable and executable, and a PT_NOTE carrying the ABI version.
 * Everything is checked against the file size and the memory budget before
 * a byte is copied; every refusal says what is wrong with which part.
 * The note also names the syscall entry and the exception handlers; they
 * must lie in the image's text, since the tender points LSTAR and the IDT
 * at them.
 * The result is h->lay: the entry point and which pages are executable,
 * read-only and writable, from which hvt_boot.c builds the page tables.
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

static int note_find(const uint8_t *p, uint64_t len, struct hvt_note *note)
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

/* Checks the ELF header and the ABI note; used before anything is loaded. */
int hvt_elf_check_note(const uint8_t *file, size_t size, struct hvt_note *note, char *err, size_t errlen)
{
	if (size < sizeof(Elf64_Ehdr) || memcmp(file, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file");
		return -1;
	}
	const Elf64_Ehdr *eh = (const void *)file;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "not an x86-64 little-endian ELF64 image");
		return -1;
	}
	if (eh->e_type != ET_EXEC) {
		snprintf(err, errlen, "ELF type %u is not a static executable (ET_EXEC); build it with 'unifaas build'",
		         eh->e_type);
		return -1;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > 64 || eh->e_phoff > size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff) {
		snprintf(err, errlen, "program header table is missing, truncated or has more than 64 entries");
		return -1;
	}
	Elf64_Phdr ph[64]; /* copied: e_phoff may be misaligned */
	memcpy(ph, file + eh->e_phoff, (size_t)eh->e_phnum * sizeof(Elf64_Phdr));
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		if (ph[i].p_offset > size || ph[i].p_filesz > size - ph[i].p_offset) {
			snprintf(err, errlen, "note segment %d lies outside the file", i);
			return -1;
		}
		if (note_find(file + ph[i].p_offset, ph[i].p_filesz, note)) {
			uint32_t v = note->version;
			if (v != UF_ABI_VERSION) {
				snprintf(err, errlen,
				         "image speaks unifaas ABI version %u, this tender speaks version %u; "
				         "rebuild the function with this unifaas",
				         v, UF_ABI_VERSION);
				return -1;
			}
			return 0;
		}
	}
	snprintf(err, errlen,
	         "no unifaas ABI note (.note.unifaas): not a unifaas image; build it with 'unifaas build'");
	return -1;
}

static void region_add(struct hvt_region *r, int *n, uint64_t lo, uint64_t hi)
{
	r[*n].lo = lo;
	r[*n].hi = hi;
	(*n)++;
}

static int in_exec(const struct hvt_layout *lay, uint64_t a)
{
	for (int i = 0; i < lay->nexec; i++)
		if (a >= lay->exec[i].lo && a < lay->exec[i].hi)
			return 1;
	return 0;
}

static int in_ro(const struct hvt_layout *lay, uint64_t a, uint64_t len)
{
	for (int i = 0; i < lay->nro; i++)
		if (a >= lay->ro[i].lo && a <= lay->ro[i].hi && len <= lay->ro[i].hi - a)
			return 1;
	return 0;
}

static int load_segments(struct hvt *h, const uint8_t *file, size_t size, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)file; /* the mapping is page-aligned */
	Elf64_Phdr ph[64];                          /* checked: at most 64, inside the file */
	memcpy(ph, file + eh->e_phoff, (size_t)eh->e_phnum * sizeof(Elf64_Phdr));
	struct hvt_layout *lay = &h->lay;
	uint64_t top = UF_IMAGE_BASE;
	int nload = 0;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		uint64_t lo = p->p_vaddr, hi = p->p_vaddr + p->p_memsz;
		if (lo % UF_PAGE_SIZE) {
			snprintf(err, errlen, "segment %d at 0x%lx is not page-aligned", i, (unsigned long)lo);
			return -1;
		}
		if (lo < top || hi < lo) {
			snprintf(err, errlen, "segment %d at 0x%lx is below 0x%x or overlaps the previous one", i,
			         (unsigned long)lo, UF_IMAGE_BASE);
			return -1;
		}
		if (p->p_filesz > p->p_memsz || p->p_offset > size || p->p_filesz > size - p->p_offset) {
			snprintf(err, errlen, "segment %d: file contents lie outside the file", i);
			return -1;
		}
		if ((p->p_flags & PF_W) && (p->p_flags & PF_X)) {
			snprintf(err, errlen, "segment %d at 0x%lx is both writable and executable (W^X)", i,
			         (unsigned long)lo);
			return -1;
		}
		if (hi > h->mem_size) {
			snprintf(err, errlen, "segment %d ends at 0x%lx, beyond the %lu MiB memory budget", i,
			         (unsigned long)hi, (unsigned long)(h->mem_size >> 20));
			return -1;
		}
		if (nload == HVT_MAX_REGIONS - 4) {
			snprintf(err, errlen, "more than %d loadable segments", HVT_MAX_REGIONS - 4);
			return -1;
		}
		memcpy(h->mem + lo, file + p->p_offset, p->p_filesz);
		uint64_t hi_page = (hi + PAGE_MASK) & ~PAGE_MASK;
		if (p->p_flags & PF_X)
			region_add(lay->exec, &lay->nexec, lo, hi_page);
		else if (p->p_flags & PF_W)
			region_add(lay->rw, &lay->nrw, lo, hi_page);
		else
			region_add(lay->ro, &lay->nro, lo, hi_page);
		top = hi_page;
		nload++;
	}
	if (nload == 0) {
		snprintf(err, errlen, "no loadable segments");
		return -1;
	}
	lay->image_end = top;
	lay->entry = eh->e_entry;
	if (in_exec(lay, lay->entry))
		goto entry_ok;
	snprintf(err, errlen, "entry point 0x%lx is not in an executable segment", (unsigned long)lay->entry);
	return -1;
entry_ok:
	if (!in_exec(lay, lay->note.syscall_entry)) {
		snprintf(err, errlen, "syscall entry 0x%lx named by the note is not in an executable segment",
		         (unsigned long)lay->note.syscall_entry);
		return -1;
	}
	uint64_t tab = lay->note.exc_table;
	if (tab % 8 || !in_ro(lay, tab, 32 * 8)) {
		snprintf(err, errlen, "exception table 0x%lx named by the note is not in read-only data",
		         (unsigned long)tab);
		return -1;
	}
	for (int v = 0; v < 32; v++) {
		uint64_t a;
		memcpy(&a, h->mem + tab + 8 * (uint64_t)v, 8);
		if (!in_exec(lay, a)) {
			snprintf(err, errlen, "exception handler %d at 0x%lx is not in an executable segment", v,
			         (unsigned long)a);
			return -1;
		}
		lay->exc_handlers[v] = a;
	}
	memcpy(lay->phdrs, ph, (size_t)eh->e_phnum * sizeof(Elf64_Phdr));
	lay->phnum = eh->e_phnum;
	return 0;
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
	if ((uint64_t)st.st_size > h->mem_size) {
		snprintf(err, errlen, "image of %ld bytes is larger than the memory budget", (long)st.st_size);
		goto out_fd;
	}
	void *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED) {
		snprintf(err, errlen, "cannot map: %s", strerror(errno));
		goto out_fd;
	}
	if (hvt_elf_check_note(file, (size_t)st.st_size, &h->lay.note, err, errlen) == 0 &&
	    load_segments(h, file, (size_t)st.st_size, err, errlen) == 0)
		rc = 0;
	munmap(file, (size_t)st.st_size);
out_fd:
	close(fd);
	return rc;
}
