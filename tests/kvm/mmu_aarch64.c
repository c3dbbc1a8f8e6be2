/*
 * mmu_aarch64.c - tests an aarch64 guest's page tables
 * (tender/hvt_pt_aarch64.c) and the translation registers the tender sets
 * (hvt_kvm_aarch64_mmu) on a real /dev/kvm: run inside the emulated
 * Cortex-A72 (make test-arm64).  The guest (mmu_aarch64_guest.S) runs with
 * the MMU on from its first instruction and reports through the hypercall
 * page; W^X and the unmapped pages are checked by the faults it takes:
 * each one's class and status code (ESR_EL1) and address (FAR_EL1).
 * Prints one PASS/FAIL line per check; exits 0 only if all pass.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvt.h"
#define KVM_TEST "mmu-aarch64"
#include "check.h"
#include "hvt_pt_aarch64.h"

extern const unsigned char mmu_guest_start[], mmu_guest_end[];

#define CODE 0x1000ull
#define RW   0x20000ull
#define RO   0x21000ull

static enum hvt_pt_kind kind(void *ctx, uint64_t a)
{
	(void)ctx;
	return a == CODE ? HVT_PT_RX : a == RW ? HVT_PT_RW : a == RO ? HVT_PT_RO : HVT_PT_NONE;
}

/* the next report: its offset in the hypercall page and its value */
static int next(struct hvt *h, uint64_t *off, uint64_t *value)
{
	if (hvt_kvm_run(h) < 0 || h->run->exit_reason != KVM_EXIT_MMIO || h->run->mmio.len != 8 ||
	    h->run->mmio.phys_addr < UF_HC_PAGE || h->run->mmio.phys_addr >= UF_HC_PAGE + UF_PAGE_SIZE) {
		printf("FAIL mmu-aarch64 exit reason %u at pc 0x%lx, not a report to the hypercall page\n",
		       h->run->exit_reason, (unsigned long)hvt_kvm_rip(h));
		return -1;
	}
	*off = h->run->mmio.phys_addr - UF_HC_PAGE;
	memcpy(value, h->run->mmio.data, 8);
	return 0;
}

static int expect(struct hvt *h, uint64_t off, uint64_t want, const char *what)
{
	uint64_t o, v;
	if (next(h, &o, &v) < 0)
		return -1;
	check(o == off && v == want, what, v, want);
	return 0;
}

/* a fault the vector reported: ESR_EL1's class and status code, FAR_EL1 */
static int expect_fault(struct hvt *h, unsigned ec, unsigned fsc, uint64_t far, const char *what)
{
	uint64_t o1, esr, o2, addr;
	if (next(h, &o1, &esr) < 0 || next(h, &o2, &addr) < 0)
		return -1;
	char line[160];
	snprintf(line, sizeof(line), "%s: class and status", what);
	check(o1 == 24 && esr >> 26 == ec && (esr & 0x3f) == fsc, line, (esr >> 26) << 8 | (esr & 0x3f), ec << 8 | fsc);
	snprintf(line, sizeof(line), "%s: address", what);
	check(o2 == 32 && addr == far, line, addr, far);
	return 0;
}

int main(void)
{
	struct hvt h;
	char err[256];
	alarm(30);
	memset(&h, 0, sizeof(h));
	h.kvm_fd = h.vm_fd = h.vcpu_fd = -1;
	h.mem_size = 2u << 20;
	if (hvt_kvm_open(&h, err, sizeof(err)) < 0 ||
	    hvt_pt_aarch64_build(h.mem, h.mem_size, kind, NULL, err, sizeof(err)) < 0 ||
	    hvt_kvm_vcpu(&h, CODE, RO, err, sizeof(err)) < 0 || hvt_kvm_aarch64_mmu(&h, err, sizeof(err)) < 0) {
		printf("FAIL mmu-aarch64 setup: %s\n", err);
		return 1;
	}
	memcpy(h.mem + CODE, mmu_guest_start, (size_t)(mmu_guest_end - mmu_guest_start));
	memcpy(h.mem + RO, &(uint32_t){0x2222}, 4);
	if (expect(&h, 0, 0x1111, "R+W page written and read") < 0 || expect(&h, 8, 0x2222, "R page read") < 0 ||
	    expect_fault(&h, 0x25, 0x0f, RO, "store to a read-only page: data abort, permission (level 3)") < 0 ||
	    expect_fault(&h, 0x25, 0x0f, CODE, "store to text: data abort, permission (level 3)") < 0 ||
	    expect_fault(&h, 0x21, 0x0f, RW, "jump into R+W: instruction abort, permission (level 3)") < 0 ||
	    expect_fault(&h, 0x25, 0x06, 0x300000, "load past memory: data abort, translation (level 2)") < 0 ||
	    expect(&h, 16, 0, "guest ran to its end") < 0)
		return 1;
	hvt_kvm_close(&h);
	printf("mmu-aarch64: %s\n", failed ? "FAILED" : "all passed");
	return failed;
}
