/*
 * kvm_exit_aarch64.c - what a VM and one hypercall exit cost under an aarch64
 * KVM, at the KVM level (bench/emulated.sh runs it in the emulated
 * Cortex-A72, scripts/in-qemu.sh arm64; built by make ARCH=aarch64).
 *
 * It makes a VM the way uf-hvt does (hvt_kvm_open: the VM and its memory;
 * hvt_kvm_vcpu: the vCPU at EL1), copies kvm_exit_aarch64_guest.S to 0x1000
 * and runs it: the guest makes libuf's hypercall store in a loop, so each
 * KVM_RUN is one MMIO exit at UF_HC_ADDR(1) and one re-entry, without the
 * tender's dispatch.  Prints "key value" lines: vm_us, vcpu_us,
 * first_exit_us (KVM_RUN to the first exit, the guest's first
 * instructions), then "block NS" for BLOCKS blocks of PER exits each (the
 * mean per exit; argv[1], argv[2], defaults 40 x 500), as bench/hc_loop.c
 * does for the tender's round trip.  Exits 1 if an exit is not that store.
 * This is a benchmark: it never judges a figure.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvt.h"

extern const unsigned char exit_guest_start[], exit_guest_end[];

#define GUEST_BASE 0x1000ull
#define GUEST_SP   0x80000ull

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* one KVM_RUN that must end at the guest's hypercall store */
static int one_exit(struct hvt *h)
{
	if (hvt_kvm_run(h) < 0) {
		perror("kvm-exit-aarch64: KVM_RUN");
		return -1;
	}
	if (h->run->exit_reason != KVM_EXIT_MMIO || !h->run->mmio.is_write || h->run->mmio.phys_addr != UF_HC_ADDR(1)) {
		fprintf(stderr, "kvm-exit-aarch64: exit reason %u at 0x%llx, want the store to UF_HC_ADDR(1)\n",
		        h->run->exit_reason, (unsigned long long)h->run->mmio.phys_addr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long blocks = argc > 1 ? atol(argv[1]) : 40, per = argc > 2 ? atol(argv[2]) : 500;
	struct hvt h;
	char err[256];
	memset(&h, 0, sizeof(h));
	h.kvm_fd = h.vm_fd = h.vcpu_fd = -1;
	h.mem_size = 0x100000;
	long long t0 = now_ns();
	if (hvt_kvm_open(&h, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvm-exit-aarch64: %s\n", err);
		return 1;
	}
	long long t1 = now_ns();
	if (hvt_kvm_vcpu(&h, GUEST_BASE, GUEST_SP, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvm-exit-aarch64: %s\n", err);
		return 1;
	}
	long long t2 = now_ns();
	memcpy(h.mem + GUEST_BASE, exit_guest_start, (size_t)(exit_guest_end - exit_guest_start));
	long long t3 = now_ns();
	if (one_exit(&h) < 0)
		return 1;
	long long t4 = now_ns();
	printf("vm_us %lld\nvcpu_us %lld\nfirst_exit_us %lld\n", (t1 - t0) / 1000, (t2 - t1) / 1000, (t4 - t3) / 1000);
	for (long b = 0; b < blocks; b++) {
		long long s = now_ns();
		for (long i = 0; i < per; i++)
			if (one_exit(&h) < 0)
				return 1;
		printf("block %lld\n", (now_ns() - s) / per);
	}
	hvt_kvm_close(&h);
	return 0;
}
