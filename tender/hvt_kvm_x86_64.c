/*
 * hvt_kvm_x86_64.c - the vCPU of an x86-64 VM (hvt.h's per-architecture
 * part of the KVM layer; hvt_kvm.c holds the rest).
 *
 * The vCPU starts in 64-bit mode with paging (CR3 = page tables of
 * hvt_boot.c), SSE enabled, EFER.SCE set for `syscall`, NX enforced and
 * CR0.WP set so that read-only pages are read-only in ring 0 too.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include "hvt.h"

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
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
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
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
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
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_SET_MSRS, &msrs) != 3) {
		snprintf(err, errlen, "KVM_SET_MSRS (syscall MSRs) failed");
		return -1;
	}
	struct kvm_regs r = {.rip = rip, .rsp = rsp, .rflags = 0x2};
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_SET_REGS, &r) < 0) {
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
	return hvt_kvm_ioctl(h->vcpu_fd, KVM_SET_MSRS, &msr) == 1 ? 0 : -1;
}

uint64_t hvt_kvm_cr2(struct hvt *h)
{
	struct kvm_sregs s;
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return 0;
	return s.cr2;
}

uint64_t hvt_kvm_rip(struct hvt *h)
{
	struct kvm_regs r;
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_GET_REGS, &r) < 0)
		return 0;
	return r.rip;
}
