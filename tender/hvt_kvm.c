/*
 * hvt_kvm.c - the VM itself: /dev/kvm, guest memory, one vCPU in long mode.
 *
 * Guest memory is one anonymous mapping registered as KVM memory slot 0 at
 * guest-physical 0; pages are allocated by the host only when first touched,
 * so a unit's RSS is what it uses, not its budget.  No other slot exists:
 * the hypercall page (UF_HC_PAGE) has none, so a store there exits
 * (KVM_EXIT_MMIO, hvt_hypercall.c).  The vCPU starts in
 * 64-bit mode with paging (CR3 = page tables of hvt_boot.c), SSE enabled,
 * EFER.SCE set for `syscall`, NX enforced and CR0.WP set so that read-only
 * pages are read-only in ring 0 too.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvt.h"

/*
 * Every KVM ioctl goes through here: the request is passed as an unsigned
 * long, zero-extended.  musl's ioctl() takes it as an int, so requests with
 * the top bit set (most KVM_GET_* ones) would reach the kernel sign-extended
 * and fail the seccomp filter's exact match.
 */
static long kvm_ioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg);
}

#define CR0_PE         (1ull << 0)
#define CR0_MP         (1ull << 1)
#define CR0_ET         (1ull << 4)
#define CR0_NE         (1ull << 5)
#define CR0_WP         (1ull << 16)
#define CR0_AM         (1ull << 18)
#define CR0_PG         (1ull << 31)
#define CR4_PAE        (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_SCE       (1ull << 0)
#define MSR_FS_BASE    0xc0000100u
#define MSR_STAR       0xc0000081u
#define MSR_LSTAR      0xc0000082u
#define MSR_SFMASK     0xc0000084u
#define EFER_LME       (1ull << 8)
#define EFER_LMA       (1ull << 10)
#define EFER_NXE       (1ull << 11)

/*
 * The image-independent part of a VM: /dev/kvm, the VM and its one vCPU
 * with its kvm_run page.  A standby tender (hvt_standby.c) does this before
 * it knows what it will run; KVM lets memory be added to a VM afterwards.
 */
int hvt_kvm_create(struct hvt *h, char *err, size_t errlen)
{
	h->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (h->kvm_fd < 0) {
		snprintf(err, errlen, "cannot open /dev/kvm: %s%s", strerror(errno),
		         errno == ENOENT   ? " (no KVM on this host: enable virtualisation or load kvm)"
		         : errno == EACCES ? " (add yourself to the kvm group)"
		                           : "");
		return -1;
	}
	int api = kvm_ioctl(h->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (api != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, expected %d", api, KVM_API_VERSION);
		return -1;
	}
	h->vm_fd = kvm_ioctl(h->kvm_fd, KVM_CREATE_VM, NULL);
	if (h->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	h->vcpu_fd = kvm_ioctl(h->vm_fd, KVM_CREATE_VCPU, NULL);
	if (h->vcpu_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	int sz = kvm_ioctl(h->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (sz <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	h->run_size = (size_t)sz;
	h->run = mmap(NULL, h->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, h->vcpu_fd, 0);
	if (h->run == MAP_FAILED) {
		h->run = NULL;
		snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The VM (made here unless a standby made it already) and its memory. */
int hvt_kvm_open(struct hvt *h, char *err, size_t errlen)
{
	if (h->vm_fd < 0 && hvt_kvm_create(h, err, errlen) < 0)
		return -1;
	h->mem = mmap(NULL, h->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->mem == MAP_FAILED) {
		h->mem = NULL;
		snprintf(err, errlen, "cannot reserve %lu MiB of guest memory: %s", (unsigned long)(h->mem_size >> 20),
		         strerror(errno));
		return -1;
	}
	struct kvm_userspace_memory_region region = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = h->mem_size,
	    .userspace_addr = (uint64_t)(uintptr_t)h->mem,
	};
	if (kvm_ioctl(h->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The guest starts, and stays, in ring 3. */
static void segments(struct kvm_sregs *s)
{
	struct kvm_segment code = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = UF_SEL_UCODE,
	    .type = 11,
	    .present = 1,
	    .dpl = 3,
	    .db = 0,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	struct kvm_segment data = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = UF_SEL_UDATA,
	    .type = 3,
	    .present = 1,
	    .dpl = 3,
	    .db = 1,
	    .s = 1,
	    .l = 0,
	    .g = 1,
	};
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){
	    .base = UF_TSS_ADDR,
	    .limit = hvt_tss_limit(),
	    .selector = UF_SEL_TSS,
	    .type = 11,
	    .present = 1,
	    .s = 0,
	};
	s->gdt.base = UF_GDT_ADDR;
	s->gdt.limit = 8 * 8 - 1;
	s->idt.base = UF_IDT_ADDR;
	s->idt.limit = 32 * 16 - 1;
}

/* The vCPU's boot state: long mode, ring 3, syscall MSRs, entry registers. */
int hvt_kvm_vcpu(struct hvt *h, uint64_t rip, uint64_t rsp, char *err, size_t errlen)
{
	struct kvm_sregs s;
	if (kvm_ioctl(h->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	segments(&s);
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s.cr3 = UF_PT_ADDR;
	/*
	 * No KVM_SET_CPUID2: SSE needs only CR0/CR4, and asking KVM for its
	 * CPUID table costs ~0.5 ms here, a quarter of a boot.  Without it the
	 * guest may not use WRFSBASE, so libuf sets its TLS base with one
	 * UF_HC_SETFS hypercall instead (UF_BI_FSGSBASE stays clear).
	 */
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	if (kvm_ioctl(h->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	/* syscall: kernel CS/SS from STAR[47:32]; SYSRET to user CS/SS from STAR[63:48] */
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[3];
	} msrs = {.m.nmsrs = 3};
	msrs.e[0] = (struct kvm_msr_entry){
	    .index = MSR_STAR, .data = ((uint64_t)(UF_SEL_UDATA - 8 - 3) << 48) | ((uint64_t)UF_SEL_CODE << 32)};
	msrs.e[1] = (struct kvm_msr_entry){.index = MSR_LSTAR, .data = h->lay.note.syscall_entry};
	msrs.e[2] = (struct kvm_msr_entry){.index = MSR_SFMASK, .data = 0x700}; /* TF, IF, DF */
	if (kvm_ioctl(h->vcpu_fd, KVM_SET_MSRS, &msrs) != 3) {
		snprintf(err, errlen, "KVM_SET_MSRS (syscall MSRs) failed");
		return -1;
	}
	struct kvm_regs r = {.rip = rip, .rsp = rsp, .rflags = 0x2};
	if (kvm_ioctl(h->vcpu_fd, KVM_SET_REGS, &r) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int hvt_kvm_set_fs(struct hvt *h, uint64_t base)
{
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e;
	} msr = {.m.nmsrs = 1, .e = {.index = MSR_FS_BASE, .data = base}};
	return kvm_ioctl(h->vcpu_fd, KVM_SET_MSRS, &msr) == 1 ? 0 : -1;
}

uint64_t hvt_kvm_cr2(struct hvt *h)
{
	struct kvm_sregs s;
	if (kvm_ioctl(h->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return 0;
	return s.cr2;
}

int hvt_kvm_run(struct hvt *h)
{
	return (int)kvm_ioctl(h->vcpu_fd, KVM_RUN, NULL);
}

uint64_t hvt_kvm_rip(struct hvt *h)
{
	struct kvm_regs r;
	if (kvm_ioctl(h->vcpu_fd, KVM_GET_REGS, &r) < 0)
		return 0;
	return r.rip;
}

/* h->run is cleared before it is unmapped: whatever still looks at it
 * (a signal handler) sees the mapping or NULL, never a dangling page. */
void hvt_kvm_close(struct hvt *h)
{
	struct kvm_run *run = h->run;
	h->run = NULL;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (run)
		munmap(run, h->run_size);
	if (h->vcpu_fd >= 0)
		close(h->vcpu_fd);
	if (h->vm_fd >= 0)
		close(h->vm_fd);
	if (h->kvm_fd >= 0)
		close(h->kvm_fd);
	if (h->mem)
		munmap(h->mem, h->mem_size);
	h->mem = NULL;
	h->vcpu_fd = h->vm_fd = h->kvm_fd = -1;
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * The ASan build (make test): LeakSanitizer would stop the world with clone
 * and ptrace at exit, which the seccomp filter refuses, so a process that
 * runs guests (uf-hvt, `unifaas run`) would die of SIGSYS instead of ending
 * with its status.  tests/lib.sh sets detect_leaks=0 for what the tests
 * start, but unifaasd gives units an environment of its own; this default
 * holds there too.  Leaks are checked by the unit tests, which do not link
 * this file.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif
