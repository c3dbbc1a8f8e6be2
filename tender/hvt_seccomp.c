/*
 * hvt_seccomp.c - the tender confines itself once setup is done.
 *
 * After the image is loaded and the vCPU configured, the tender needs only
 * to run the vCPU, serve hypercalls (read/write on descriptors it already
 * holds, clocks, randomness, sleep, memory for its own heap) and exit.
 * Everything else kills the process (SIGSYS), so a guest that found a bug
 * in hypercall handling still could not open files, exec or connect.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "hvt.h"

int hvt_seccomp_apply(struct hvt *h, char *err, size_t errlen)
{
	static const int allowed[] = {
		SCMP_SYS(read),          SCMP_SYS(write),         SCMP_SYS(writev),
		SCMP_SYS(lseek),         SCMP_SYS(ftruncate),     SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),    SCMP_SYS(close),         SCMP_SYS(brk),
		SCMP_SYS(munmap),        SCMP_SYS(mremap),        SCMP_SYS(madvise),
		SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
		SCMP_SYS(getrandom),     SCMP_SYS(rt_sigreturn),  SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime), SCMP_SYS(timer_delete),
		SCMP_SYS(exit),          SCMP_SYS(exit_group),    SCMP_SYS(futex),
	};
#if defined(__SANITIZE_ADDRESS__)
	/* ASan builds (tests only): what the sanitizer runtime needs to report
	 * an error.  Leak checking at exit needs ptrace and is off in these
	 * runs (tests/lib.sh); the unit tests check leaks without seccomp. */
	static const int sanitizer[] = {
		SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(sched_yield),
		SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(mprotect), SCMP_SYS(prctl),
		SCMP_SYS(readlink), SCMP_SYS(openat), SCMP_SYS(getdents64), SCMP_SYS(pread64),
		SCMP_SYS(fcntl), SCMP_SYS(sched_getaffinity),
	};
#endif
	int rc = -1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) < 0)
			goto out;
#if defined(__SANITIZE_ADDRESS__)
	for (size_t i = 0; i < sizeof(sanitizer) / sizeof(sanitizer[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer[i], 0) < 0)
			goto out;
#endif
	/* ioctl only on the vCPU, and only to run it, read its registers or set its TLS base */
	static const unsigned long vcpu_ioctls[] = {KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_SET_SREGS};
	for (size_t i = 0; i < sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)h->vcpu_fd),
				     SCMP_A1(SCMP_CMP_EQ, vcpu_ioctls[i])) < 0)
			goto out;
	/* memory for the tender's own heap, never executable */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) < 0)
		goto out;
	if (seccomp_load(ctx) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		snprintf(err, errlen, "cannot install the seccomp filter");
	seccomp_release(ctx);
	return rc;
}
