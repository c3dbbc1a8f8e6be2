/*
 * hvt_reaper.c - destroys the VM after the tender has exited.
 *
 * Destroying a VM costs ~0.7 ms here, a third of a unit's life, and in the
 * exit path it delays whoever waits for the tender.  So, before the VM
 * exists, the tender clones a reaper that shares its memory and descriptor
 * table (CLONE_VM | CLONE_FILES) but is a separate process.  When the
 * tender exits, the VM stays referenced by the reaper, so the exit is
 * immediate; the reaper is then killed by PR_SET_PDEATHSIG and the kernel
 * tears the VM down in it.
 *
 * Invariants: after starting, the reaper only sleeps, under a seccomp
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

static int reaper_main(void *arg)
{
	pid_t tender = (pid_t)(long)arg;
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

int hvt_reaper_start(char *err, size_t errlen)
{
	int pid = clone(reaper_main, reaper_stack + sizeof(reaper_stack), CLONE_VM | CLONE_FILES | SIGCHLD,
	                (void *)(long)getpid());
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the VM reaper: %s", strerror(errno));
		return -1;
	}
	return 0;
}
