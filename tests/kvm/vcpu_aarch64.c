/*
 * vcpu_aarch64.c - tests the aarch64 KVM layer of the tender
 * (tender/hvt_kvm.c + tender/hvt_kvm_aarch64.c) on a real /dev/kvm: run
 * inside the emulated Cortex-A72 (scripts/in-qemu.sh arm64), as root.
 *
 * It makes a VM the way uf-hvt does (hvt_kvm_open, hvt_kvm_vcpu,
 * hvt_kvm_set_fs), copies vcpu_aarch64_guest.S to 0x1000 and runs it: every
 * value the guest stores outside memory comes back as a KVM_EXIT_MMIO and
 * is checked - the thread pointer, the stack pointer, the PC (also as
 * hvt_kvm_rip sees it), FP/SIMD enabled, FAR_EL1 as hvt_kvm_cr2 reads it,
 * libuf's hypercall store (guest/hypercall.h) as the tender sees it, the
 * CPU-time limit's timer interrupting a spinning guest, and an exception taken to the guest's vectors (ESR_EL1's
 * class).  Prints one PASS/FAIL line per check; exits 0 only if all pass.  A guest that stops exiting is killed by
 * SIGALRM after 30 s.
 *
 * The guest runs under the tender's seccomp filter for aarch64
 * (hvt_seccomp.c, gen_seccomp.c aarch64), installed once the vCPU is set
 * up, as uf-hvt does: KVM_RUN, KVM_GET_ONE_REG and KVM_SET_ONE_REG must
 * pass it; a forked child shows that a call outside the list (openat) is
 * killed with SIGSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvt.h"
#define KVM_TEST "vcpu-aarch64"
#include "check.h"

extern const unsigned char vcpu_guest_start[], vcpu_guest_end[], vcpu_guest_store_pc[];

#define GUEST_BASE 0x1000ull
#define GUEST_SP   0x80000ull
#define MMIO_BASE  0x100000ull
#define TLS        0x123456789abcdef0ull

/* Runs the guest to its next MMIO store; -1 on any other exit. */
static int next_store(struct hvt *h, uint64_t *addr, uint64_t *value)
{
	if (hvt_kvm_run(h) < 0) {
		perror("KVM_RUN");
		return -1;
	}
	if (h->run->exit_reason != KVM_EXIT_MMIO || !h->run->mmio.is_write || h->run->mmio.len != 8) {
		printf("FAIL vcpu-aarch64 exit reason %u (want an 8-byte MMIO store) at pc 0x%lx\n",
		       h->run->exit_reason, (unsigned long)hvt_kvm_rip(h));
		return -1;
	}
	*addr = h->run->mmio.phys_addr;
	memcpy(value, h->run->mmio.data, 8);
	return 0;
}

/* The CPU-time limit the way hvt_main.c makes it: a CLOCK_THREAD_CPUTIME_ID
 * timer whose signal interrupts KVM_RUN (here SIGUSR2: SIGALRM is this
 * test's own deadline).  Armed before seccomp (timer_create is not allowed
 * after), set after (timer_settime is). */
static timer_t cpu_timer;
static volatile sig_atomic_t cpu_timer_fired;

static void on_cpu_timer(int sig)
{
	(void)sig;
	cpu_timer_fired = 1;
}

static int cpu_timer_create(void)
{
	struct sigaction sa = {.sa_handler = on_cpu_timer};
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
	return sigaction(SIGUSR2, &sa, NULL) < 0 || timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &cpu_timer) < 0 ? -1
	                                                                                                        : 0;
}

/* the guest spins; 200 ms of this thread's CPU time later KVM_RUN returns EINTR */
static void check_cpu_limit(struct hvt *h)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 200 * 1000 * 1000}};
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	timer_settime(cpu_timer, 0, &its, NULL);
	int r = hvt_kvm_run(h);
	int e = errno;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	check(r < 0 && e == EINTR && cpu_timer_fired, "CPU-time timer interrupts KVM_RUN (EINTR)", (unsigned)e, EINTR);
	check(ms >= 200, "the guest's run counts as the thread's CPU time (ms)", (unsigned long long)ms, 200);
}

/* a child under the filter making a call it does not allow: SIGSYS */
static void check_refused(struct hvt *h)
{
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		if (hvt_seccomp_apply(h, err, sizeof(err)) < 0)
			_exit(3);
		open("/dev/null", O_RDONLY);
		_exit(4);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "seccomp: openat killed with SIGSYS", (unsigned)st, SIGSYS);
}

int main(void)
{
	struct hvt h;
	char err[256];
	alarm(30);
	memset(&h, 0, sizeof(h));
	h.kvm_fd = h.vm_fd = h.vcpu_fd = -1;
	h.mem_size = MMIO_BASE;
	size_t len = (size_t)(vcpu_guest_end - vcpu_guest_start);
	if (hvt_kvm_open(&h, err, sizeof(err)) < 0 || hvt_kvm_vcpu(&h, GUEST_BASE, GUEST_SP, err, sizeof(err)) < 0) {
		printf("FAIL vcpu-aarch64 setup: %s\n", err);
		return 1;
	}
	memcpy(h.mem + GUEST_BASE, vcpu_guest_start, len);
	setvbuf(stdout, NULL, _IOLBF, 0); /* musl's first write would ask isatty with an ioctl */
	check_refused(&h);
	if (cpu_timer_create() < 0) {
		perror("vcpu-aarch64: CPU-time timer");
		return 1;
	}
	if (hvt_seccomp_apply(&h, err, sizeof(err)) < 0) {
		printf("FAIL vcpu-aarch64 seccomp: %s\n", err);
		return 1;
	}
	check(hvt_kvm_set_fs(&h, TLS) == 0, "hvt_kvm_set_fs", 0, 0);
	uint64_t pc_store = GUEST_BASE + (uint64_t)(vcpu_guest_store_pc - vcpu_guest_start);
	const struct {
		const char *what;
		uint64_t want;
	} want[] = {
	    {"TPIDR_EL0 is the thread pointer set", TLS},  {"SP is the initial stack", GUEST_SP},
	    {"PC runs at the entry point", pc_store + 12}, {"FP/SIMD usable at EL1", GUEST_SP},
	    {"FAR_EL1 as the guest set it", 0xbeef},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t addr, value;
		if (next_store(&h, &addr, &value) < 0)
			return 1;
		if (i == 0)
			check(hvt_kvm_rip(&h) == pc_store, "hvt_kvm_rip at an MMIO exit", hvt_kvm_rip(&h), pc_store);
		if (i == 4)
			check(hvt_kvm_cr2(&h) == 0xbeef, "hvt_kvm_cr2 reads FAR_EL1", hvt_kvm_cr2(&h), 0xbeef);
		check(addr == MMIO_BASE + 8 * i, "MMIO exit address", addr, MMIO_BASE + 8 * i);
		check(value == want[i].want, want[i].what, value, want[i].want);
	}
	/* a hypercall: one 4-byte store of the argument's address to call 3's slot */
	if (hvt_kvm_run(&h) < 0 || h.run->exit_reason != KVM_EXIT_MMIO) {
		printf("FAIL vcpu-aarch64 hypercall store: no MMIO exit\n");
		return 1;
	}
	uint32_t arg = 0;
	memcpy(&arg, h.run->mmio.data, 4);
	check(h.run->mmio.phys_addr == UF_HC_ADDR(3) && h.run->mmio.len == 4 && h.run->mmio.is_write,
	      "UF_HC_STORE exits at UF_HC_ADDR(3), 4 bytes, a write", h.run->mmio.phys_addr, UF_HC_ADDR(3));
	check(arg == 0x2345, "UF_HC_STORE carries the argument's address", arg, 0x2345);
	uint64_t addr, esr;
	if (next_store(&h, &addr, &esr) < 0)
		return 1;
	check(esr >> 26 == 0, "ESR_EL1 class: undefined instruction, taken to VBAR_EL1", esr >> 26, 0);
	check_cpu_limit(&h); /* the guest now spins in its vector */
	hvt_kvm_close(&h);
	printf("vcpu-aarch64: %s\n", failed ? "FAILED" : "all passed");
	return failed;
}
