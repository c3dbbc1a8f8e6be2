/*
 * test_elf.c - image validation (tender/hvt_elf.c): uf_image_check_note on
 * synthetic ELF byte buffers and hvt_elf_load on temporary image files.
 *
 * make_image() builds a minimal valid image the way guest/uf.ld lays one
 * out: text (R+X) at UF_IMAGE_BASE, rodata (R) holding the 32-entry
 * exception table, data (R+W) with some bss, and a PT_NOTE with the unifaas
 * ABI note.  Each test breaks one thing and checks the refusal and its
 * message.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvt.h"
#include "support.h"

/* the architecture this test (and the image check) is built for, and the other one */
#if defined(__aarch64__)
#define HERE_MACHINE  EM_AARCH64
#define HERE          "aarch64"
#define OTHER_MACHINE EM_X86_64
#define OTHER         "x86-64"
#else
#define HERE_MACHINE  EM_X86_64
#define HERE          "x86-64"
#define OTHER_MACHINE EM_AARCH64
#define OTHER         "aarch64"
#endif

#define IMG_SIZE      0x4000u
#define PH_OFF        0x40u
#define NOTE_OFF      0x200u
#define NOTE_SIZE     (12u + 8u + UF_NOTE_DESC_SIZE)
#define TEXT_VA       0x100000ull
#define RO_VA         0x101000ull
#define DATA_VA       0x102000ull
#define ENTRY         (TEXT_VA + 0x10)
#define SYSCALL_ENTRY (TEXT_VA + 0x80)
#define HANDLER(v)    (TEXT_VA + 0x100 + 16ull * (v))

enum { PH_TEXT, PH_RO, PH_DATA, PH_NOTE, NPH };

static Elf64_Ehdr *eh(uint8_t *b)
{
	return (Elf64_Ehdr *)b;
}

static Elf64_Phdr *ph(uint8_t *b, int i)
{
	return (Elf64_Phdr *)(b + eh(b)->e_phoff) + i;
}

static void put_note(uint8_t *p, uint32_t type, const char *name, uint32_t namesz, uint32_t version)
{
	Elf64_Nhdr n = {.n_namesz = namesz, .n_descsz = UF_NOTE_DESC_SIZE, .n_type = type};
	memcpy(p, &n, sizeof(n));
	memcpy(p + 12, name, namesz < 8 ? namesz : 8);
	uint64_t sys = SYSCALL_ENTRY, tab = RO_VA;
	uint32_t zero = 0;
	memcpy(p + 20, &version, 4);
	memcpy(p + 24, &zero, 4);
	memcpy(p + 28, &sys, 8);
	memcpy(p + 36, &tab, 8);
}

static uint8_t *make_image(void)
{
	uint8_t *b = calloc(1, IMG_SIZE);
	assert_non_null(b);
	Elf64_Ehdr *e = eh(b);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = HERE_MACHINE;
	e->e_version = EV_CURRENT;
	e->e_entry = ENTRY;
	e->e_phoff = PH_OFF;
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = NPH;
	*ph(b, PH_TEXT) = (Elf64_Phdr){.p_type = PT_LOAD,
	                               .p_flags = PF_R | PF_X,
	                               .p_offset = 0x1000,
	                               .p_vaddr = TEXT_VA,
	                               .p_paddr = TEXT_VA,
	                               .p_filesz = 0x1000,
	                               .p_memsz = 0x1000,
	                               .p_align = 0x1000};
	*ph(b, PH_RO) = (Elf64_Phdr){.p_type = PT_LOAD,
	                             .p_flags = PF_R,
	                             .p_offset = 0x2000,
	                             .p_vaddr = RO_VA,
	                             .p_paddr = RO_VA,
	                             .p_filesz = 0x1000,
	                             .p_memsz = 0x1000,
	                             .p_align = 0x1000};
	*ph(b, PH_DATA) = (Elf64_Phdr){.p_type = PT_LOAD,
	                               .p_flags = PF_R | PF_W,
	                               .p_offset = 0x3000,
	                               .p_vaddr = DATA_VA,
	                               .p_paddr = DATA_VA,
	                               .p_filesz = 0x1000,
	                               .p_memsz = 0x1800,
	                               .p_align = 0x1000};
	*ph(b, PH_NOTE) =
	    (Elf64_Phdr){.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = NOTE_OFF, .p_filesz = NOTE_SIZE, .p_align = 4};
	put_note(b + NOTE_OFF, UF_NOTE_ABI, UF_NOTE_NAME, sizeof(UF_NOTE_NAME), UF_ABI_VERSION);
	memset(b + 0x1000, 0x90, 0x1000); /* nops */
	for (int v = 0; v < 32; v++) {
		uint64_t a = HANDLER(v);
		memcpy(b + 0x2000 + 8 * v, &a, 8);
	}
	memcpy(b + 0x3000, "data segment", 12);
	return b;
}

static char err[512];

static int check(const uint8_t *b, size_t size)
{
	struct uf_image_note note;
	err[0] = '\0';
	return uf_image_check_note(b, size, &note, err, sizeof(err));
}

#define assert_err_contains(s)                                                                                         \
	do {                                                                                                           \
		if (!strstr(err, (s)))                                                                                 \
			fail_msg("error \"%s\" does not contain \"%s\"", err, (s));                                    \
	} while (0)

/* ---- uf_image_check_note --------------------------------------------------- */

static void test_note_good(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	struct uf_image_note note = {0};
	assert_int_equal(uf_image_check_note(b, IMG_SIZE, &note, err, sizeof(err)), 0);
	assert_int_equal(note.version, UF_ABI_VERSION);
	assert_int_equal(note.syscall_entry, SYSCALL_ENTRY);
	assert_int_equal(note.exc_table, RO_VA);
	free(b);
}

static void test_note_not_elf(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	assert_int_equal(check(b, 0), -1);
	assert_err_contains("not an ELF file");
	assert_int_equal(check(b, sizeof(Elf64_Ehdr) - 1), -1); /* truncated header */
	assert_err_contains("not an ELF file");
	b[1] = 'X';
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("not an ELF file");
	static const char script[] = "#!/bin/sh\necho not an image\n";
	uint8_t text[sizeof(Elf64_Ehdr) + 16] = {0};
	memcpy(text, script, sizeof(script));
	assert_int_equal(check(text, sizeof(text)), -1);
	assert_err_contains("not an ELF file");
	free(b);
}

static void test_note_wrong_class_data_machine(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	eh(b)->e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("not an " HERE " little-endian ELF64 image");
	free(b);

	b = make_image();
	eh(b)->e_ident[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("not an " HERE);
	free(b);

	b = make_image();
	eh(b)->e_machine = EM_RISCV;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("not an " HERE " little-endian ELF64 image (ELF machine 243)");
	free(b);
}

/* an image built for a Raspberry Pi given to an x86-64 tender (or unifaasd), or the reverse */
static void test_other_architecture_named(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	eh(b)->e_machine = OTHER_MACHINE;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("image built for " OTHER ", but this machine runs " HERE
	                    " images; build the function for " HERE " ('unifaas build' on this machine)");
	free(b);
}

static void test_note_not_exec(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	eh(b)->e_type = ET_DYN;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("ELF type 3 is not a static executable (ET_EXEC)");
	eh(b)->e_type = ET_REL;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("ELF type 1");
	free(b);
}

static void test_note_bad_phdrs(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	/* truncated: the file ends inside the table */
	assert_int_equal(check(b, PH_OFF + NPH * sizeof(Elf64_Phdr) - 1), -1);
	assert_err_contains("program header table is missing, truncated or has more than 64 entries");
	assert_int_equal(check(b, PH_OFF + NPH * sizeof(Elf64_Phdr)), -1); /* table fits, note does not */
	assert_err_contains("note segment 3 lies outside the file");

	eh(b)->e_phnum = 0;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	eh(b)->e_phnum = 65;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	eh(b)->e_phnum = NPH;
	eh(b)->e_phentsize = 32;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	eh(b)->e_phentsize = sizeof(Elf64_Phdr);
	eh(b)->e_phoff = IMG_SIZE + 8; /* beyond the file */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	eh(b)->e_phoff = UINT64_MAX - 8; /* phoff + size would wrap */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	eh(b)->e_phoff = IMG_SIZE - 2 * sizeof(Elf64_Phdr); /* only 2 of 4 fit */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("program header table");
	free(b);
}

static void test_note_segment_outside_file(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_NOTE)->p_offset = IMG_SIZE + 1;
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("note segment 3 lies outside the file");
	ph(b, PH_NOTE)->p_offset = IMG_SIZE - 8;
	ph(b, PH_NOTE)->p_filesz = UINT64_MAX; /* offset + size wraps */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("note segment 3 lies outside the file");
	free(b);
}

static void test_note_missing(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_NOTE)->p_type = PT_NULL; /* no PT_NOTE at all */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);

	b = make_image();
	put_note(b + NOTE_OFF, NT_GNU_BUILD_ID, "GNU", 4, UF_ABI_VERSION); /* someone else's note */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);

	b = make_image();
	put_note(b + NOTE_OFF, UF_NOTE_ABI, "unifaaz", 8, UF_ABI_VERSION); /* wrong name */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);

	b = make_image();
	put_note(b + NOTE_OFF, UF_NOTE_ABI + 1, UF_NOTE_NAME, 8, UF_ABI_VERSION); /* wrong type */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);

	b = make_image();
	ph(b, PH_NOTE)->p_filesz = NOTE_SIZE - 4; /* note's descriptor cut off by the segment */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);

	b = make_image();
	Elf64_Nhdr huge = {.n_namesz = UINT32_MAX, .n_descsz = UINT32_MAX, .n_type = UF_NOTE_ABI};
	memcpy(b + NOTE_OFF, &huge, sizeof(huge)); /* sizes far past the segment */
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("no unifaas ABI note");
	free(b);
}

static void test_note_second_of_several(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	/* a GNU build-id note first, then ours, in the same segment */
	uint8_t *p = b + NOTE_OFF;
	Elf64_Nhdr gnu = {.n_namesz = 4, .n_descsz = 20, .n_type = NT_GNU_BUILD_ID};
	memcpy(p, &gnu, 12);
	memcpy(p + 12, "GNU", 4);
	memset(p + 16, 0xab, 20);
	put_note(p + 36, UF_NOTE_ABI, UF_NOTE_NAME, 8, UF_ABI_VERSION);
	ph(b, PH_NOTE)->p_filesz = 36 + NOTE_SIZE;
	struct uf_image_note note = {0};
	assert_int_equal(uf_image_check_note(b, IMG_SIZE, &note, err, sizeof(err)), 0);
	assert_int_equal(note.exc_table, RO_VA);
	free(b);
}

static void test_note_wrong_abi_version(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	put_note(b + NOTE_OFF, UF_NOTE_ABI, UF_NOTE_NAME, 8, UF_ABI_VERSION + 1);
	assert_int_equal(check(b, IMG_SIZE), -1);
	char want[128];
	snprintf(want, sizeof(want), "image speaks unifaas ABI version %u, this tender speaks version %u",
	         UF_ABI_VERSION + 1, UF_ABI_VERSION);
	assert_err_contains(want);
	assert_err_contains("rebuild");
	put_note(b + NOTE_OFF, UF_NOTE_ABI, UF_NOTE_NAME, 8, 0);
	assert_int_equal(check(b, IMG_SIZE), -1);
	assert_err_contains("ABI version 0");
	free(b);
}

/*
 * e_phoff and a note's p_offset come from the file; hvt_elf.c reads the
 * program headers and note headers through struct pointers at those
 * offsets.  A well-formed image whose tables are at 4-byte (not 8-byte)
 * aligned offsets must be judged like any other, without undefined
 * behaviour (UBSan, as in the ASan build of uf-hvt, aborts on a misaligned
 * load).  Run in a child so that an abort fails this test only.
 */
static int child_ok(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void misaligned_phdrs(void)
{
	uint8_t *b = make_image();
	memmove(b + 0x124, b + PH_OFF, NPH * sizeof(Elf64_Phdr));
	eh(b)->e_phoff = 0x124;
	struct uf_image_note note;
	char e[256];
	int rc = uf_image_check_note(b, IMG_SIZE, &note, e, sizeof(e));
	free(b);
	_exit(rc == 0 || rc == -1 ? 0 : 1);
}

static void test_misaligned_phdrs_no_ub(void **state)
{
	(void)state;
	if (!child_ok(misaligned_phdrs))
		fail_msg("uf_image_check_note on an image with e_phoff=0x124 crashed (undefined behaviour: "
		         "misaligned Elf64_Phdr access in tender/hvt_elf.c)");
}

static void misaligned_note(void)
{
	uint8_t *b = make_image();
	memmove(b + NOTE_OFF + 2, b + NOTE_OFF, NOTE_SIZE);
	ph(b, PH_NOTE)->p_offset = NOTE_OFF + 2;
	struct uf_image_note note;
	char e[256];
	int rc = uf_image_check_note(b, IMG_SIZE, &note, e, sizeof(e));
	free(b);
	_exit(rc == 0 || rc == -1 ? 0 : 1);
}

static void test_misaligned_note_no_ub(void **state)
{
	(void)state;
	if (!child_ok(misaligned_note))
		fail_msg("uf_image_check_note on an image whose note is at offset 0x202 crashed (undefined "
		         "behaviour: misaligned Elf64_Nhdr access in tender/hvt_elf.c note_find)");
}

/* ---- hvt_elf_load ----------------------------------------------------------- */

static struct hvt *new_hvt(void)
{
	struct hvt *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->mem_size = UFT_MEM;
	h->mem = calloc(1, UFT_MEM);
	assert_non_null(h->mem);
	return h;
}

static void free_hvt(struct hvt *h)
{
	free(h->mem);
	free(h);
}

/* Writes b to a temporary file and loads it; returns hvt_elf_load's result. */
static int load(struct hvt *h, const uint8_t *b, size_t size)
{
	char *path = uft_tmpfile(b, size);
	err[0] = '\0';
	return hvt_elf_load(h, path, err, sizeof(err));
}

static void test_load_good(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	struct hvt *h = new_hvt();
	assert_int_equal(load(h, b, IMG_SIZE), 0);
	struct hvt_layout *lay = &h->lay;
	assert_int_equal(lay->entry, ENTRY);
	assert_int_equal(lay->note.syscall_entry, SYSCALL_ENTRY);
	assert_int_equal(lay->nexec, 1);
	assert_int_equal(lay->exec[0].lo, TEXT_VA);
	assert_int_equal(lay->exec[0].hi, TEXT_VA + 0x1000);
	assert_int_equal(lay->nro, 1);
	assert_int_equal(lay->ro[0].lo, RO_VA);
	assert_int_equal(lay->nrw, 1);
	assert_int_equal(lay->rw[0].lo, DATA_VA);
	assert_int_equal(lay->rw[0].hi, DATA_VA + 0x2000); /* memsz 0x1800 rounded up */
	assert_int_equal(lay->image_end, DATA_VA + 0x2000);
	assert_int_equal(lay->phnum, NPH);
	for (int v = 0; v < 32; v++)
		assert_int_equal(lay->exc_handlers[v], HANDLER(v));
	assert_memory_equal(h->mem + TEXT_VA, b + 0x1000, 0x1000);
	assert_memory_equal(h->mem + DATA_VA, "data segment", 12);
	uint8_t zero[0x800] = {0};
	assert_memory_equal(h->mem + DATA_VA + 0x1000, zero, sizeof(zero)); /* bss */
	/* and the boot code accepts what the loader produced */
	uint64_t rsp;
	h->opt = (struct hvt_options){.image = "good.uf", .stack_size = UFT_STACK, .mem_size = UFT_MEM};
	assert_int_equal(hvt_boot_setup(h, &rsp, err, sizeof(err)), 0);
	assert_int_equal(h->lay.heap_start, DATA_VA + 0x2000);
	assert_true(rsp > UFT_STACK_LO && rsp < UFT_MEM && rsp % 16 == 0);
	free_hvt(h);
	free(b);
}

/* Loads b after fix() changed it and checks the error contains want. */
static void refuse(uint8_t *b, const char *want)
{
	struct hvt *h = new_hvt();
	assert_int_equal(load(h, b, IMG_SIZE), -1);
	assert_err_contains(want);
	free_hvt(h);
	free(b);
}

static void test_load_wx_segment(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_DATA)->p_flags = PF_R | PF_W | PF_X;
	refuse(b, "segment 2 at 0x102000 is both writable and executable (W^X)");
	b = make_image();
	ph(b, PH_TEXT)->p_flags = PF_W | PF_X;
	refuse(b, "segment 0 at 0x100000 is both writable and executable");
}

static void test_load_unaligned_segment(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_RO)->p_vaddr = RO_VA + 0x10;
	refuse(b, "segment 1 at 0x101010 is not page-aligned");
}

static void test_load_segment_beyond_memory(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_DATA)->p_memsz = UFT_MEM; /* bss up to past the budget */
	refuse(b, "segment 2 ends at 0x902000, beyond the 8 MiB memory budget");
	b = make_image();
	ph(b, PH_DATA)->p_vaddr = UFT_MEM;
	refuse(b, "beyond the 8 MiB memory budget");
	b = make_image();
	ph(b, PH_DATA)->p_memsz = UINT64_MAX - 0xfff; /* vaddr + memsz wraps */
	refuse(b, "segment 2 at 0x102000 is below 0x100000 or overlaps");
}

static void test_load_segment_low_or_overlapping(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_TEXT)->p_vaddr = 0x1000; /* over the GDT */
	refuse(b, "segment 0 at 0x1000 is below 0x100000");
	b = make_image();
	ph(b, PH_RO)->p_vaddr = TEXT_VA; /* on top of text */
	refuse(b, "segment 1 at 0x100000 is below 0x100000 or overlaps the previous one");
	b = make_image();
	ph(b, PH_TEXT)->p_memsz = 0x1001; /* text's last page is rodata's first */
	refuse(b, "segment 1 at 0x101000 is below 0x100000 or overlaps the previous one");
}

static void test_load_file_contents_outside(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_DATA)->p_filesz = 0x2000; /* > memsz */
	refuse(b, "segment 2: file contents lie outside the file");
	b = make_image();
	ph(b, PH_DATA)->p_offset = IMG_SIZE - 0x800; /* runs past the end */
	refuse(b, "segment 2: file contents lie outside the file");
}

static void test_load_entry_and_note_addresses(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	eh(b)->e_entry = DATA_VA;
	refuse(b, "entry point 0x102000 is not in an executable segment");
	b = make_image();
	uint64_t bad = RO_VA + 8;
	memcpy(b + NOTE_OFF + 28, &bad, 8);
	refuse(b, "syscall entry 0x101008 named by the note is not in an executable segment");
	b = make_image();
	bad = DATA_VA; /* writable: the guest could redirect its own exceptions */
	memcpy(b + NOTE_OFF + 36, &bad, 8);
	refuse(b, "exception table 0x102000 named by the note is not in read-only data");
	b = make_image();
	bad = RO_VA + 0xf08; /* 256 bytes do not fit before the end of rodata */
	memcpy(b + NOTE_OFF + 36, &bad, 8);
	refuse(b, "exception table 0x101f08");
	b = make_image();
	bad = RO_VA + 4; /* misaligned */
	memcpy(b + NOTE_OFF + 36, &bad, 8);
	refuse(b, "exception table 0x101004");
	b = make_image();
	bad = DATA_VA + 0x10;
	memcpy(b + 0x2000 + 8 * 14, &bad, 8);
	refuse(b, "exception handler 14 at 0x102010 is not in an executable segment");
}

static void test_load_short_note(void **state)
{
	(void)state;
	/* a version-only note (descsz 4) names no syscall entry: refused at load */
	uint8_t *b = make_image();
	Elf64_Nhdr n = {.n_namesz = 8, .n_descsz = 4, .n_type = UF_NOTE_ABI};
	memcpy(b + NOTE_OFF, &n, sizeof(n));
	refuse(b, "syscall entry 0x0 named by the note is not in an executable segment");
}

static void test_load_no_loadable_or_too_many(void **state)
{
	(void)state;
	uint8_t *b = make_image();
	ph(b, PH_TEXT)->p_type = PT_NULL;
	ph(b, PH_RO)->p_type = PT_NULL;
	ph(b, PH_DATA)->p_memsz = 0;
	refuse(b, "no loadable segments");

	/* 13 loadable segments: one more than HVT_MAX_REGIONS - 4 */
	b = make_image();
	uint8_t *t = calloc(1, IMG_SIZE);
	memcpy(t, b, IMG_SIZE);
	eh(t)->e_phoff = 0x400;
	eh(t)->e_phnum = 14;
	*ph(t, 0) = *ph(b, PH_NOTE);
	for (int i = 1; i < 14; i++)
		*ph(t, i) = (Elf64_Phdr){.p_type = PT_LOAD,
		                         .p_flags = PF_R,
		                         .p_offset = 0x1000,
		                         .p_vaddr = TEXT_VA + 0x1000ull * (uint64_t)i,
		                         .p_filesz = 0x10,
		                         .p_memsz = 0x10};
	free(b);
	refuse(t, "more than 12 loadable segments");
}

static void test_load_file_problems(void **state)
{
	(void)state;
	struct hvt *h = new_hvt();
	assert_int_equal(hvt_elf_load(h, "/nonexistent/unifaas/image.uf", err, sizeof(err)), -1);
	assert_err_contains("cannot open: No such file or directory");
	assert_int_equal(hvt_elf_load(h, "/", err, sizeof(err)), -1);
	assert_err_contains("not a regular file");
	/* an image larger than the memory budget */
	h->mem_size = IMG_SIZE - 1;
	uint8_t *b = make_image();
	assert_int_equal(load(h, b, IMG_SIZE), -1);
	assert_err_contains("is larger than the memory budget");
	h->mem_size = UFT_MEM;
	/* not ELF at all */
	assert_int_equal(load(h, (const uint8_t *)"hello, world\n", 13), -1);
	assert_err_contains("not an ELF file");
	/* an empty file is refused (with whatever reason) */
	assert_int_equal(load(h, b, 0), -1);
	free(b);
	free_hvt(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_note_good),
	    cmocka_unit_test(test_note_not_elf),
	    cmocka_unit_test(test_note_wrong_class_data_machine),
	    cmocka_unit_test(test_other_architecture_named),
	    cmocka_unit_test(test_note_not_exec),
	    cmocka_unit_test(test_note_bad_phdrs),
	    cmocka_unit_test(test_note_segment_outside_file),
	    cmocka_unit_test(test_note_missing),
	    cmocka_unit_test(test_note_second_of_several),
	    cmocka_unit_test(test_note_wrong_abi_version),
	    cmocka_unit_test(test_misaligned_phdrs_no_ub),
	    cmocka_unit_test(test_misaligned_note_no_ub),
	    cmocka_unit_test(test_load_good),
	    cmocka_unit_test(test_load_wx_segment),
	    cmocka_unit_test(test_load_unaligned_segment),
	    cmocka_unit_test(test_load_segment_beyond_memory),
	    cmocka_unit_test(test_load_segment_low_or_overlapping),
	    cmocka_unit_test(test_load_file_contents_outside),
	    cmocka_unit_test(test_load_entry_and_note_addresses),
	    cmocka_unit_test(test_load_short_note),
	    cmocka_unit_test(test_load_no_loadable_or_too_many),
	    cmocka_unit_test(test_load_file_problems),
	};
	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
