/*
 * hvt_kvm.c - the VM itself, the part every architecture shares: /dev/kvm,
 * the VM and its one vCPU, guest memory, entering the guest, teardown.  The
 * vCPU's boot state and its registers are the architecture's
 * (hvt_kvm_x86_64.c, hvt_kvm_aarch64.c; the interface is in hvt.h).
 *
 * Guest memory is one anonymous mapping registered as KVM memory slot 0 at
 * guest-physical 0; pages are allocated by the host only when first touched,
 * so a unit's RSS is what it uses, not its budget.  No other slot exists:
 * the hypercall page (UF_HC_PAGE) has none, so a store there exits
 * (KVM_EXIT_MMIO, hvt_hypercall.c) on every architecture.
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
long hvt_kvm_ioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg);
}

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
	int api = hvt_kvm_ioctl(h->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (api != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, expected %d", api, KVM_API_VERSION);
		return -1;
	}
	h->vm_fd = hvt_kvm_ioctl(h->kvm_fd, KVM_CREATE_VM, NULL);
	if (h->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	h->vcpu_fd = hvt_kvm_ioctl(h->vm_fd, KVM_CREATE_VCPU, NULL);
	if (h->vcpu_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	int sz = hvt_kvm_ioctl(h->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
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
	if (hvt_kvm_ioctl(h->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int hvt_kvm_run(struct hvt *h)
{
	return (int)hvt_kvm_ioctl(h->vcpu_fd, KVM_RUN, NULL);
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
