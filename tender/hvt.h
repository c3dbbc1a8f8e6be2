/*
 * hvt.h - the uf-hvt tender: one process, one VM, one vCPU, one unit.
 *
 * struct hvt holds everything about the running unit.  Setup (hvt_kvm*.c,
 * hvt_elf.c, hvt_boot.c) fills it; the run loop (hvt_main.c) enters the guest
 * and hands every MMIO exit (the hypercalls) to hvt_hypercall (hvt_hypercall.c), which serves
 * it through the platform backend (backend.h).
 *
 * Guest memory is reached only through hvt_guest_ptr(), the one place that
 * checks a guest address and length: readable means inside guest memory and
 * off the NULL page; writable additionally means inside a region the guest
 * itself may write (never its code, rodata, GDT or page tables), so a
 * hypercall cannot be used to get around W^X.
 */
#ifndef UF_HVT_H
#define UF_HVT_H

#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "backend.h"
#include "image.h"
#include "event_limits.h"
#include "uf_abi.h"

#define HVT_MAX_REGIONS 16

struct hvt_region {
	uint64_t lo, hi; /* [lo, hi) */
};

struct hvt_layout {
	uint64_t entry;
	struct uf_image_note note; /* common/image.h */
	uint64_t exc_handlers[32];
	uint64_t image_end; /* end of the highest segment, page-aligned */
	uint64_t heap_start, heap_end, stack_lo, stack_top;
	struct hvt_region exec[HVT_MAX_REGIONS]; /* R+X: image text          */
	struct hvt_region ro[HVT_MAX_REGIONS];   /* R: image rodata          */
	struct hvt_region rw[HVT_MAX_REGIONS];   /* R+W: everything writable */
	int nexec, nro, nrw;
	uint8_t phdrs[64 * 56]; /* copy of the program headers, for AT_PHDR */
	uint32_t phnum;
};

struct hvt_options {
	const char *image;
	uint64_t mem_size;
	uint32_t timeout_ms; /* CPU time per event; 0 = no limit */
	uint32_t idle_ms;
	uint32_t batch_max;
	uint64_t stack_size;
	const char **env; /* "KEY=VALUE", NULL-terminated */
	int nenv;
	int verbose;
	int fast_exit; /* hand VM teardown to a reaper (hvt_reaper.c) */
	/* --push-allow: the queues pushes may go to (NULL: any queue) */
	const char **push_allow;
	int npush_allow;
	const char *push_allow_text; /* the option's value, for messages */
	/* --publish: the MQTT topic filters publishes may match; publish_any:
	 * any topic (a local run without --publish) */
	const char **publish;
	int npublish;
	int publish_any;
	char *publish_text; /* the filters, for messages */
	/* who this unit is, for log lines: consumer, workflow, step */
	const char *unit, *workflow, *step;
	const char *tap; /* --tap: TAP device to attach (hvt_net.c), or NULL */
	uint8_t mac[6];  /* --mac, when mac_set; else derived from the tap name */
	int mac_set;
	const char *egress; /* --egress: unifaasd's egress socket (hvt_egress.c), or NULL */
	int egress_fd;      /* --egress-fd: a connected egress socket, or 0 */
	/* --limit, --manifest-limit: what one event may write, the size of one
	 * commit's MULTI/EXEC (common/event_limits.h; the node defaults otherwise) */
	struct uf_limits limits;
};

/* hvt_net.c: the unit's TAP device; NET calls answer -ENOSYS unless attached. */
struct hvt_net {
	int attached;
	int fd; /* O_NONBLOCK; valid only when attached */
	uint8_t mac[6];
};

struct hvt {
	struct hvt_options opt;
	uint8_t *mem;
	uint64_t mem_size;
	struct hvt_layout lay;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct uf_backend *backend;
	struct hvt_net net;
	uint32_t inflight;                       /* events popped and not yet committed */
	uint64_t pop_progress;                   /* bootinfo->progress at the last pop: event i of
	                                          * the batch is being handled when progress is
	                                          * pop_progress + i + 1 */
	char denied_logged[8][UF_QUEUE_MAX + 1]; /* queues whose grant refusal was logged */
	uint32_t topics_denied;                  /* publish refusals logged (at most 16) */
	uint32_t limits_logged;                  /* limit refusals logged (at most 16) */
	uint32_t quota_logged;                   /* storage quota deferrals logged (at most 16) */
	int console_fd;                          /* where the guest's stdout and stderr go */
	int egress_on, egress_fd, egress_broken; /* hvt_egress.c: connected to unifaasd's egress server */
	int egress_none;                         /* --egress none: every call is refused */
	/* how the unit ended, once it has */
	int ended;
	int end_code;
	char end_reason[512];
	uint64_t t_start_ns, t_ready_ns; /* tender start; first pop (boot-to-ready) */
	/* time limit bookkeeping */
	uint64_t watched_progress;
	int stalled_ticks;
	uint32_t batch_events; /* events in the last pop: the batch's CPU budget */
	uint64_t batch_ticks;  /* ticks since that pop */
};

/* hvt_main.c: the tender's whole life, from its arguments to its exit
 * status; main() of uf-hvt (hvt_entry.c) and `unifaas run` (cli/front.c,
 * which links the tender in rather than exec it) call it. */
int hvt_main(int argc, char **argv);

/*
 * Checked access to guest memory, the one accessor: NULL if [gpa, gpa+len)
 * is not allowed.  The rule for what it returns: copy, then check.  Guest
 * memory may change at any moment (nothing may rest on the vCPU staying
 * stopped), so anything the tender checks - a length, a name, a key, a
 * record, a grant - is first copied into tender memory, once, and only the
 * copy is checked and used (hvt_hypercall copies the argument struct,
 * hvt_dataplane.c the staged records, keys and values).  Bytes the tender
 * passes on without looking at them (console output, a frame to the TAP
 * device, what it writes into the guest) may be used in place.
 */
void *hvt_guest_ptr(struct hvt *h, uint64_t gpa, uint64_t len, int writable);
int hvt_gpa_writable(const struct hvt_layout *lay, uint64_t gpa, uint64_t len);

/* hvt_main.c: unifaasd asked the unit to end (SIGUSR1) once its batch is committed */
extern volatile sig_atomic_t hvt_drain_asked;

/* End the unit with a UF_END_* code and a reason; first call wins. */
void hvt_end(struct hvt *h, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* hvt_elf.c: check (uf_image_check) and load the image into guest memory,
 * fill h->lay. */
int hvt_elf_load(struct hvt *h, const char *path, char *err, size_t errlen);

/* hvt_boot.c: the layout, boot info and initial stack (every
 * architecture's), then hvt_boot_arch; *rsp: the initial stack pointer. */
int hvt_boot_setup(struct hvt *h, uint64_t *rsp, char *err, size_t errlen);
/* whether [lo, hi) lies inside one of the n regions */
int hvt_region_has(const struct hvt_region *r, int n, uint64_t lo, uint64_t hi);
/*
 * hvt_boot_<arch>.c, one per architecture: hvt_boot_arch writes what the
 * CPU needs to enforce the layout (page tables; x86's GDT, TSS and IDT);
 * hvt_boot_vcpu gives the vCPU its first state: the entry point, the stack
 * at rsp, the image's syscall entry / exception vectors, the MMU.
 */
int hvt_boot_arch(struct hvt *h, char *err, size_t errlen);
int hvt_boot_vcpu(struct hvt *h, uint64_t rsp, char *err, size_t errlen);
uint32_t hvt_tss_limit(void); /* x86-64 */

/* hvt_fault.c: a guest fault's reason ("guest fault: ...") into out, from
 * the record libuf's stubs reported (uf_abi.h); x86-64's page-fault
 * address is cr2.  Both built on every host (the unit tests use both). */
void hvt_fault_reason_x86_64(const struct hvt_layout *lay, uint64_t mem_size, const struct uf_hc_fault *f, uint64_t cr2,
                             char *out, size_t len);
void hvt_fault_reason_aarch64(const struct hvt_layout *lay, uint64_t mem_size, const struct uf_hc_fault *f, char *out,
                              size_t len);

/* hvt_kvm.c: what every architecture shares */
int hvt_kvm_create(struct hvt *h, char *err, size_t errlen); /* /dev/kvm, VM, vCPU */
int hvt_kvm_open(struct hvt *h, char *err, size_t errlen);   /* + memory (creates if needed) */
void hvt_kvm_close(struct hvt *h);
/* the one way to a KVM ioctl (the request zero-extended; hvt_kvm.c says why) */
long hvt_kvm_ioctl(int fd, unsigned long req, void *arg);
/*
 * hvt_kvm_<arch>.c, one per architecture (ARCH in the Makefile): the vCPU's
 * boot state and its registers.  The names are x86's; on aarch64 "rip" is
 * the PC, "rsp" the initial stack pointer, "cr2" the faulting address
 * (FAR_EL1) and "fs" the thread pointer (TPIDR_EL0).
 */
int hvt_kvm_vcpu(struct hvt *h, uint64_t rip, uint64_t rsp, char *err, size_t errlen);
/* what messages call the program counter */
#if defined(__aarch64__)
#define HVT_PC "pc"
#else
#define HVT_PC "rip"
#endif

/* hvt_standby.c: 1 with argc/argv of the unit to become, 0 when released
 * before any request, -1 with err on a malformed request */
int hvt_standby_wait(int *argc, char ***argv, char *err, size_t errlen);
int hvt_kvm_run(struct hvt *h); /* hvt_kvm.c */
uint64_t hvt_kvm_rip(struct hvt *h);
uint64_t hvt_kvm_cr2(struct hvt *h);
int hvt_kvm_set_fs(struct hvt *h, uint64_t base);

/* hvt_hypercall.c: serve one access outside guest memory (KVM_EXIT_MMIO) to
 * `gpa` of `len` bytes; `value`: the first 4 bytes stored (a 32-bit store to
 * a slot of the hypercall page is a hypercall, anything else ends the unit). */
void hvt_hypercall(struct hvt *h, uint64_t gpa, uint32_t len, int is_write, uint32_t value);

/* hvt_net.c: attach to the existing TAP device h->opt.tap (before seccomp);
 * -1 with a message naming the device and the cause.  hvt_net_attach_fd
 * takes an already open frame descriptor instead (tests). */
int hvt_net_open(struct hvt *h, char *err, size_t errlen);
void hvt_net_attach_fd(struct hvt *h, int fd, const uint8_t mac[6]);
void hvt_net_close(struct hvt *h);
int hvt_net_parse_mac(const char *s, uint8_t mac[6]); /* "02:00:..": 0, or -1 if not a unicast MAC */
void hvt_hc_net(struct hvt *h, void *arg);

/* hvt_egress.c: connect to --egress (before seccomp; -1 with err), serve
 * UF_HC_HTTP through it (-ENOSYS without), close. */
int hvt_egress_open(struct hvt *h, char *err, size_t errlen);
void hvt_hc_http(struct hvt *h, void *arg);
void hvt_egress_close(struct hvt *h);

/* hvt_dataplane.c: when the unit has ended with a batch in flight, settle
 * it (backend->settle_on_end): the event being handled fails with the end
 * reason, unless the end was clean; the others are handed back. */
void hvt_dataplane_settle(struct hvt *h);

/* hvt_reaper.c: hand VM teardown to a process that outlives the tender */
int hvt_reaper_start(struct hvt *h, char *err, size_t errlen); /* after the vCPU exists */

/* hvt_seccomp.c */
int hvt_seccomp_apply(struct hvt *h, char *err, size_t errlen);

uint64_t hvt_now_ns(void);

/* Formats one message (at most 1 KiB) and writes it with write(2): no stdio,
 * so it is safe after seccomp (stdio probes the descriptor on first use). */
void hvt_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes all of buf, retrying short writes; ignores a closed reader. */
void hvt_write_all(int fd, const void *buf, size_t len);

#endif
