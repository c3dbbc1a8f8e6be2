/*
 * support.h - shared helpers for the unit tests and the hypercall fuzzer.
 *
 * uft_hvt_init() builds a struct hvt the way uf-hvt does before its first
 * KVM_RUN, minus KVM: guest memory is a malloc'd buffer (so ASan sees any
 * access outside it), the layout is that of a small image as hvt_elf_load
 * records it (text, rodata, data), and the real hvt_boot_setup() adds the
 * boot-info page, heap and stack, page tables, GDT/TSS/IDT and initial stack.
 * The backend is the real local backend (uf_local_backend_open).
 */
#ifndef UF_TEST_SUPPORT_H
#define UF_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "hvt.h"

#define UFT_MEM       (8ull << 20)
#define UFT_STACK     (256ull << 10)
#define UFT_TEXT_LO   0x100000ull /* R+X */
#define UFT_TEXT_HI   0x102000ull
#define UFT_RO_LO     0x102000ull /* R   */
#define UFT_RO_HI     0x103000ull
#define UFT_DATA_LO   0x103000ull /* R+W */
#define UFT_DATA_HI   0x104000ull
#define UFT_IMAGE_END UFT_DATA_HI
#define UFT_HEAP      UFT_IMAGE_END              /* heap_start */
#define UFT_STACK_LO  (UFT_MEM - UFT_STACK)      /* stack_lo   */
#define UFT_HEAP_END  (UFT_STACK_LO - 0x1000ull) /* guard page below the stack */

/*
 * Fills *h (guest memory of mem_size bytes, default layout above) and opens
 * the local backend with *lo (NULL: no events, pushes to /dev/null).
 * console_fd receives the guest's console output.  Returns 0 or -1 (reason
 * printed on stderr).
 */
int uft_hvt_init(struct hvt *h, uint64_t mem_size, const struct uf_local_opts *lo, int console_fd);
/* Closes the backend (which saves a --kv file) and frees guest memory. */
void uft_hvt_free(struct hvt *h);

/* A temporary file holding `len` bytes of `data`; removed at exit. */
char *uft_tmpfile(const void *data, size_t len);
/* A temporary file name (not created); removed at exit if it was created. */
char *uft_tmpname(void);
/* Removes a file made by uft_tmpfile / uft_tmpname now, and frees the name. */
void uft_tmp_release(char *path);
/* Whole file, NUL-terminated (the NUL not counted in *len); NULL if unreadable. */
char *uft_slurp(const char *path, size_t *len);
/* Opens path for writing (truncating); for out_fd / err_fd / console_fd. */
int uft_open_out(const char *path);

/*
 * A unit under test: *h from uft_hvt_init with the local backend reading
 * events from a temporary file holding `events` (NULL: no events), pushes
 * to the file `out`, failure reports to `err`, the guest console to
 * `console`, and the KV store from kv_file (NULL: none).
 */
struct uft_fx {
	struct hvt h;
	char *events, *out, *err, *console;
	int out_fd, err_fd, console_fd;
};
int uft_fx_open(struct uft_fx *fx, const char *events, const char *kv_file);
/* The same with mem_size bytes of guest memory instead of UFT_MEM (stack still UFT_STACK at the top). */
int uft_fx_open_mem(struct uft_fx *fx, const char *events, const char *kv_file, uint64_t mem_size);
/* The same with every event's source and attrs (--source, --attrs; NULL: none). */
int uft_fx_open_src(struct uft_fx *fx, const char *events, const char *kv_file, uint64_t mem_size, const char *source,
                    const char *attrs);
void uft_fx_close(struct uft_fx *fx);
/* cmocka teardown for a fixture allocated by a test's setup */
int uft_fx_teardown(void **state);

/* Hypercall `call` with its argument struct at `arg`, as libuf makes it: one
 * 32-bit store to the call's slot of the hypercall page (the MMIO exit). */
static inline void uft_hc(struct hvt *h, unsigned call, uint32_t arg)
{
	hvt_hypercall(h, UF_HC_ADDR(call), 4, 1, arg);
}

/* A fixture's guest memory at a guest-physical address. */
static inline uint8_t *G(struct uft_fx *fx, uint64_t gpa)
{
	return fx->h.mem + gpa;
}

#endif
