/*
 * hvt_reaper.c - destroys the VM after the tender has exited.
 *
 * Destroying a VM costs ~0.7 ms here, a third of a unit's life, and in the
 * exit path it delays whoever waits for the tender.  So, once the VM and its
 * vCPU are set up (before the guest runs), the tender clones a reaper: a
 * separate process sharing its memory (CLONE_VM, so no copy) with a copy of
 * its descriptor table, of which it keeps only the three KVM descriptors
 * (and a pidfd of the tender).  When the tender exits,
 * the VM stays referenced by the reaper, so the exit is immediate; the
 * reaper, waiting on a pidfd of the tender, then exits and the kernel tears
 * the VM down in it.  Holding no other descriptor, the reaper never delays
 * the end of the tender's output (EOF on its stdout/stderr pipes).
 *
 * The reaper is a sibling of the tender (CLONE_PARENT): whoever started
 * the tender must also collect the reaper's exit status, as a shell or
 * unifaasd (a child subreaper) does for any child.  That is why it is
 * opt-in (--fast-exit): a parent that waits only for the tender, such as
 * timeout(1), leaves the reaper to init, and an init that does not reap
 * (as on this project's test machines) collects one zombie per unit.
 *
 * Invariants: after closing the rest, the reaper only waits, under a
 * seccomp filter that allows nothing but ppoll and exit (it shares memory
 * with the tender, which confines itself later); any failure before that
 * makes it exit at once, which only costs the fast exit, never the VM.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvt.h"

static char reaper_stack[8192] __attribute__((aligned(16)));

struct reaper_arg {
	pid_t tender;
	int keep[3];
};
static struct reaper_arg the_arg;

static int reaper_main(void *arg)
{
	const struct reaper_arg *a = arg;
	for (int fd = 0; fd < 1024; fd++)
		if (fd != a->keep[0] && fd != a->keep[1] && fd != a->keep[2])
			syscall(SYS_close, fd);
	/* raw syscalls only: this process has no TLS of its own (errno) */
	long pidfd = syscall(SYS_pidfd_open, a->tender, 0);
	struct sock_filter only_wait[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ppoll, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(only_wait) / sizeof(only_wait[0]), .filter = only_wait};
	if (pidfd < 0 || syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		syscall(SYS_exit, 0);
	struct pollfd p = {.fd = (int)pidfd, .events = POLLIN};
	while (syscall(SYS_ppoll, &p, 1, NULL, NULL, 0) <= 0) /* readable once the tender has exited */
		;
	syscall(SYS_exit, 0);
	return 0;
}

int hvt_reaper_start(struct hvt *h, char *err, size_t errlen)
{
	the_arg = (struct reaper_arg){.tender = getpid(), .keep = {h->kvm_fd, h->vm_fd, h->vcpu_fd}};
	int pid = clone(reaper_main, reaper_stack + sizeof(reaper_stack), CLONE_VM | CLONE_PARENT | SIGCHLD, &the_arg);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the VM reaper: %s", strerror(errno));
		return -1;
	}
	return 0;
}
