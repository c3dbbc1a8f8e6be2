/*
 * hvt_kvm_aarch64.c - the vCPU of an aarch64 VM (hvt.h's per-architecture
 * part of the KVM layer; hvt_kvm.c holds the rest).
 *
 * The vCPU is initialised as the host's preferred target
 * (KVM_ARM_PREFERRED_TARGET + KVM_ARM_VCPU_INIT: a Cortex-A72 on a
 * Raspberry Pi 4), then started at EL1 on SP_EL1 with every exception
 * masked (DAIF) and FP/SIMD enabled (CPACR_EL1.FPEN), so compiled C may use
 * the vector registers.  Registers are reached one at a time through
 * KVM_SET_ONE_REG / KVM_GET_ONE_REG: the core registers by their offset in
 * struct kvm_regs, the system registers by their encoding.
 *
 * hvt_kvm_vcpu starts the vCPU with the MMU off (all of memory Device
 * memory); uf-hvt then moves it to SP_EL0 with libuf's vectors
 * (hvt_kvm_aarch64_enter) and turns the MMU on with the page tables of
 * hvt_pt_aarch64.c (hvt_kvm_aarch64_mmu): hvt_boot_aarch64.c says why.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hvt.h"
#include "hvt_pt_aarch64.h"

#define CORE_REG(x)      (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define SYSREG_TPIDR_EL0 ARM64_SYS_REG(3, 3, 13, 0, 2)
#define SYSREG_FAR_EL1   ARM64_SYS_REG(3, 0, 6, 0, 0)
#define SYSREG_CPACR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 2)
#define SYSREG_MAIR_EL1  ARM64_SYS_REG(3, 0, 10, 2, 0)
#define SYSREG_TCR_EL1   ARM64_SYS_REG(3, 0, 2, 0, 2)
#define SYSREG_TTBR0_EL1 ARM64_SYS_REG(3, 0, 2, 0, 0)
#define SYSREG_SCTLR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 0)
#define SYSREG_VBAR_EL1  ARM64_SYS_REG(3, 0, 12, 0, 0)
#define CPACR_FPEN       (3ull << 20) /* FP/SIMD at EL1 and EL0 not trapped */
#define PSTATE_EL1H      0x5ull       /* EL1, on SP_EL1 */
#define PSTATE_EL1T      0x4ull       /* EL1, on SP_EL0 */
#define PSTATE_DAIF      (0xfull << 6)

static int set_reg(struct hvt *h, uint64_t id, uint64_t value)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&value};
	return hvt_kvm_ioctl(h->vcpu_fd, KVM_SET_ONE_REG, &r) < 0 ? -1 : 0;
}

struct reg_value {
	uint64_t id, value;
	const char *name;
};

static int set_regs(struct hvt *h, const struct reg_value *regs, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (set_reg(h, regs[i].id, regs[i].value) < 0) {
			snprintf(err, errlen, "KVM_SET_ONE_REG %s: %s", regs[i].name, strerror(errno));
			return -1;
		}
	return 0;
}

static uint64_t get_reg(struct hvt *h, uint64_t id)
{
	uint64_t value = 0;
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&value};
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_GET_ONE_REG, &r) < 0)
		return 0;
	return value;
}

/* The vCPU's boot state: the preferred target, EL1h with DAIF masked, FP on, PC and SP. */
int hvt_kvm_vcpu(struct hvt *h, uint64_t rip, uint64_t rsp, char *err, size_t errlen)
{
	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (hvt_kvm_ioctl(h->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		snprintf(err, errlen, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		return -1;
	}
	if (hvt_kvm_ioctl(h->vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		snprintf(err, errlen, "KVM_ARM_VCPU_INIT (target %u): %s", init.target, strerror(errno));
		return -1;
	}
	/* A load or store outside memory that the CPU gives no syndrome for (a
	 * pair, a writeback) exits to us (KVM_EXIT_ARM_NISV, a bad hypercall)
	 * instead of failing KVM_RUN with ENOSYS.  Optional: Linux >= 5.5. */
	struct kvm_enable_cap cap = {.cap = KVM_CAP_ARM_NISV_TO_USER};
	(void)hvt_kvm_ioctl(h->vm_fd, KVM_ENABLE_CAP, &cap);
	const struct reg_value regs[] = {
	    {SYSREG_CPACR_EL1, CPACR_FPEN, "CPACR_EL1"},
	    {CORE_REG(regs.pstate), PSTATE_EL1H | PSTATE_DAIF, "PSTATE"},
	    {CORE_REG(sp_el1), rsp, "SP_EL1"},
	    {CORE_REG(regs.pc), rip, "PC"},
	};
	return set_regs(h, regs, sizeof(regs) / sizeof(regs[0]), err, errlen);
}

/* the thread pointer musl reads (TPIDR_EL0) */
int hvt_kvm_set_fs(struct hvt *h, uint64_t base)
{
	return set_reg(h, SYSREG_TPIDR_EL0, base);
}

/* the faulting address of the last data or instruction abort */
uint64_t hvt_kvm_cr2(struct hvt *h)
{
	return get_reg(h, SYSREG_FAR_EL1);
}

uint64_t hvt_kvm_rip(struct hvt *h)
{
	return get_reg(h, CORE_REG(regs.pc));
}

/* The MMU on, with hvt_pt_aarch64.c's tables at UF_PT_ADDR (which the
 * caller has built): MAIR_EL1, TCR_EL1, TTBR0_EL1, then SCTLR_EL1. */
int hvt_kvm_aarch64_mmu(struct hvt *h, char *err, size_t errlen)
{
	const struct reg_value regs[] = {
	    {SYSREG_MAIR_EL1, hvt_pt_aarch64_mair, "MAIR_EL1"},
	    {SYSREG_TCR_EL1, hvt_pt_aarch64_tcr, "TCR_EL1"},
	    {SYSREG_TTBR0_EL1, UF_PT_ADDR, "TTBR0_EL1"},
	    {SYSREG_SCTLR_EL1, hvt_pt_aarch64_sctlr, "SCTLR_EL1"},
	};
	return set_regs(h, regs, sizeof(regs) / sizeof(regs[0]), err, errlen);
}

/* From EL1h to EL1t: the program on SP_EL0, exceptions on SP_EL1 (which
 * hvt_kvm_vcpu set), taken to the vectors at vbar. */
int hvt_kvm_aarch64_enter(struct hvt *h, uint64_t sp_el0, uint64_t vbar, char *err, size_t errlen)
{
	const struct reg_value regs[] = {
	    {CORE_REG(regs.sp), sp_el0, "SP_EL0"},
	    {SYSREG_VBAR_EL1, vbar, "VBAR_EL1"},
	    {CORE_REG(regs.pstate), PSTATE_EL1T | PSTATE_DAIF, "PSTATE"},
	};
	return set_regs(h, regs, sizeof(regs) / sizeof(regs[0]), err, errlen);
}
