/*
 * hvt_reaper.c - destroys the VM after the tender has exited.
 *
 * Destroying a VM costs ~0.7 ms here, a third of a unit's life, and in the
 * exit path it delays whoever waits for the tender.  So, before the VM
 * is set up, the tender clones a reaper: a separate process sharing its
 * memory (CLONE_VM, so no copy) with a copy of its descriptor table, of which
 * the reaper keeps only the three KVM descriptors.  When the tender exits,
 * the VM stays referenced by the reaper, so the exit is immediate; the
 * reaper is then killed by PR_SET_PDEATHSIG and the kernel tears the VM
 * down in it.  Holding no other descriptor, the reaper never delays the
 * end of the tender's output (EOF on its stdout/stderr pipes).
 *
 * Invariants: after closing the rest, the reaper only sleeps, under a seccomp
 * filter that allows nothing but sleeping and exiting (it shares memory
 * with the tender, which confines itself later); if the tender is gone
 * before the reaper armed its death signal, the reaper exits at once.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
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
	pid_t tender = a->tender;
	for (int fd = 0; fd < 1024; fd++)
		if (fd != a->keep[0] && fd != a->keep[1] && fd != a->keep[2])
			syscall(SYS_close, fd);
	struct sock_filter only_sleep[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pause, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(only_sleep) / sizeof(only_sleep[0]), .filter = only_sleep};
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || syscall(SYS_getppid) != tender ||
	    syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		syscall(SYS_exit, 0);
	for (;;)
		syscall(SYS_pause);
	return 0;
}

int hvt_reaper_start(struct hvt *h, char *err, size_t errlen)
{
	the_arg = (struct reaper_arg){.tender = getpid(), .keep = {h->kvm_fd, h->vm_fd, h->vcpu_fd}};
	int pid = clone(reaper_main, reaper_stack + sizeof(reaper_stack), CLONE_VM | SIGCHLD, &the_arg);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the VM reaper: %s", strerror(errno));
		return -1;
	}
	return 0;
}
