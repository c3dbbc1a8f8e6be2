/*
 * kvm_stub.c - replaces tender/hvt_kvm.c and hvt_kvm_$(ARCH).c in unit tests and the fuzzer.
 *
 * Why a stub, and why only this file: they are the only tender sources
 * that need /dev/kvm.  hvt_main.c (which holds hvt_end, hvt_write_all and
 * hvt_now_ns, used by the code under test) is compiled for real (uf-hvt's
 * main() is in hvt_entry.c, not linked into tests); its run loop and option parsing then link against these functions,
 * so all of their API (hvt.h) is provided here.  The VM setup calls fail (no VM in a unit test); the three queries the
 * hypercall code makes (rip, cr2, set_fs) return what the test put in the stub_* globals (kvm_stub.h).
 */
#include <stdio.h>

#include "hvt.h"
#include "kvm_stub.h"
#if defined(__aarch64__)
#include "hvt_pt_aarch64.h"
#endif

uint64_t stub_rip = 0x100123;
uint64_t stub_cr2;
int stub_set_fs_rc;
uint64_t stub_fs_base;
int stub_set_fs_calls;

void stub_reset(void)
{
	stub_rip = 0x100123;
	stub_cr2 = 0;
	stub_set_fs_rc = 0;
	stub_fs_base = 0;
	stub_set_fs_calls = 0;
}

int hvt_kvm_create(struct hvt *h, char *err, size_t errlen)
{
	(void)h;
	snprintf(err, errlen, "kvm_stub: no KVM in unit tests");
	return -1;
}

int hvt_kvm_open(struct hvt *h, char *err, size_t errlen)
{
	(void)h;
	snprintf(err, errlen, "kvm_stub: no KVM in unit tests");
	return -1;
}

int hvt_kvm_vcpu(struct hvt *h, uint64_t rip, uint64_t rsp, char *err, size_t errlen)
{
	(void)h;
	(void)rip;
	(void)rsp;
	snprintf(err, errlen, "kvm_stub: no KVM in unit tests");
	return -1;
}

void hvt_kvm_close(struct hvt *h)
{
	(void)h; /* guest memory belongs to the test (uft_hvt_free) */
}

uint64_t hvt_kvm_rip(struct hvt *h)
{
	(void)h;
	return stub_rip;
}

int hvt_kvm_run(struct hvt *h)
{
	(void)h;
	return -1; /* never called: the unit tests drive hvt_hypercall() directly */
}

uint64_t hvt_kvm_cr2(struct hvt *h)
{
	(void)h;
	return stub_cr2;
}

int hvt_kvm_set_fs(struct hvt *h, uint64_t base)
{
	(void)h;
	stub_fs_base = base;
	stub_set_fs_calls++;
	return stub_set_fs_rc;
}

#if defined(__aarch64__)
/* hvt_kvm_aarch64.c's registers of the aarch64 boot (hvt_boot_aarch64.c):
 * no vCPU in a unit test */
int hvt_kvm_aarch64_mmu(struct hvt *h, char *err, size_t errlen)
{
	(void)h;
	snprintf(err, errlen, "kvm_stub: no KVM in unit tests");
	return -1;
}

int hvt_kvm_aarch64_enter(struct hvt *h, uint64_t sp_el0, uint64_t vbar, char *err, size_t errlen)
{
	(void)h;
	(void)sp_el0;
	(void)vbar;
	snprintf(err, errlen, "kvm_stub: no KVM in unit tests");
	return -1;
}
#endif
