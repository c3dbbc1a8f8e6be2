/*
 * syscall.c - the Linux system-call layer that lets musl run unchanged.
 *
 * libuf's syscall entry calls uf_syscall with the number and six arguments:
 * on x86-64 uf_syscall_entry (entry_x86_64.S, musl's `syscall`), on aarch64
 * the first exception vector (entry_aarch64.S, musl's `svc #0`).  The
 * numbers are the architecture's (<sys/syscall.h>).  Each call is served
 * inside the guest when it can be (memory, TLS, identity, signals to self)
 * and through one hypercall otherwise (console, clocks, randomness, sleep,
 * exit).  Anything else returns
 * -ENOSYS, which musl reports as a normal error.  There are no files, no
 * processes and no threads: a unit is one single-threaded process.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "hypercall.h"

#if defined(__x86_64__)
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003

static uint64_t fs_base;
#endif

static long console_write(int fd, const void *buf, uint64_t len)
{
	if (fd != 1 && fd != 2)
		return -EBADF;
	uint64_t done = 0;
	while (done < len) {
		uint64_t n = len - done;
		if (n > UF_CONSOLE_MAX)
			n = UF_CONSOLE_MAX;
		struct uf_hc_console hc = {.buf = (uint64_t)(uintptr_t)buf + done, .len = n, .fd = (uint32_t)fd};
		uf_hypercall(UF_HC_CONSOLE, &hc);
		if (hc.ret < 0)
			return done ? (long)done : hc.ret;
		done += n;
	}
	return (long)done;
}

/* stdio writes a buffer and the new data as two iovecs: send them in one exit. */
static long console_writev(int fd, const struct iovec *iov, int cnt)
{
	char buf[4096];
	uint64_t total = 0;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (total <= sizeof(buf)) {
		uint64_t off = 0;
		for (int i = 0; i < cnt; i++) {
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		return console_write(fd, buf, total);
	}
	long done = 0;
	for (int i = 0; i < cnt; i++) {
		long r = console_write(fd, iov[i].iov_base, iov[i].iov_len);
		if (r < 0)
			return done ? done : r;
		done += r;
	}
	return done;
}

static long clock_get(clockid_t id, struct timespec *ts)
{
	struct uf_hc_time hc = {.clock = id == CLOCK_REALTIME ? UF_CLOCK_WALL : UF_CLOCK_MONO};
	uf_hypercall(UF_HC_TIME, &hc);
	if (hc.ret < 0)
		return hc.ret;
	ts->tv_sec = (time_t)(hc.ns / 1000000000u);
	ts->tv_nsec = (long)(hc.ns % 1000000000u);
	return 0;
}

static long random_get(void *buf, uint64_t len)
{
	uint64_t done = 0;
	while (done < len) {
		uint64_t n = len - done > UF_RANDOM_MAX ? UF_RANDOM_MAX : len - done;
		struct uf_hc_random hc = {.buf = (uint64_t)(uintptr_t)buf + done, .len = n};
		uf_hypercall(UF_HC_RANDOM, &hc);
		if (hc.ret < 0)
			return hc.ret;
		done += n;
	}
	return (long)done;
}

static long sleep_for(const struct timespec *req)
{
	if (!req || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L)
		return -EINVAL;
	struct uf_hc_yield hc = {.timeout_ns = (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec};
	uf_hypercall(UF_HC_YIELD, &hc);
	return hc.ret;
}

#if defined(__x86_64__)
/* TLS on x86-64; on aarch64 musl writes TPIDR_EL0 itself (EL1 may) */
static long arch_prctl(int code, uint64_t addr)
{
	switch (code) {
	case ARCH_SET_FS:
		/* ring 3 sets its own FS base where the CPU allows it */
		fs_base = addr;
		if (uf_bootinfo()->flags & UF_BI_FSGSBASE) {
			__asm__ volatile("wrfsbase %0" : : "r"(addr) : "memory");
			return 0;
		} else {
			struct uf_hc_setfs hc = {.base = addr};
			uf_hypercall(UF_HC_SETFS, &hc);
			return hc.ret;
		}
	case ARCH_GET_FS:
		*(uint64_t *)(uintptr_t)addr = fs_base;
		return 0;
	default:
		return -EINVAL;
	}
}
#endif

static long signal_self(int sig)
{
	if (sig == 0)
		return 0;
	uf_exit(UF_EXIT_ABORT, sig, sig == SIGABRT ? "abort() called" : "signal raised");
}

static long process_exit(int status)
{
	if (status == 0)
		uf_api_flush();
	uf_exit(UF_EXIT_NORMAL, status, 0);
}

static long tty_ioctl(int fd, unsigned long req, void *arg)
{
	/* Claiming a terminal makes stdout line-buffered, so logs reach the
	 * tender line by line even if the unit dies later. */
	if ((fd == 1 || fd == 2) && req == TIOCGWINSZ) {
		struct winsize *ws = arg;
		ws->ws_row = 24;
		ws->ws_col = 80;
		ws->ws_xpixel = ws->ws_ypixel = 0;
		return 0;
	}
	return -ENOTTY;
}

long uf_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	(void)a6;
	switch (nr) {
	case SYS_write:
		return console_write((int)a1, (const void *)a2, (uint64_t)a3);
	case SYS_writev:
		return console_writev((int)a1, (const struct iovec *)a2, (int)a3);
	case SYS_read:
	case SYS_readv:
		return a1 == 0 ? 0 : -EBADF;
	case SYS_ioctl:
		return tty_ioctl((int)a1, (unsigned long)a2, (void *)a3);
	case SYS_brk:
		return uf_memory_brk((uintptr_t)a1);
	case SYS_mmap:
		return uf_memory_mmap((uintptr_t)a1, (uint64_t)a2, (int)a3, (int)a4, (int)a5);
	case SYS_munmap:
		return uf_memory_munmap((uintptr_t)a1, (uint64_t)a2);
	case SYS_mprotect:
	case SYS_madvise:
		return 0; /* every heap page is read-write and stays mapped */
	case SYS_mremap:
		return -ENOMEM; /* musl falls back to allocate-and-copy */
	case SYS_clock_gettime:
		return clock_get((clockid_t)a1, (struct timespec *)a2);
	case SYS_gettimeofday: {
		struct timespec ts;
		long r = clock_get(CLOCK_REALTIME, &ts);
		if (r == 0 && a1) {
			long *tv = (long *)a1;
			tv[0] = ts.tv_sec;
			tv[1] = ts.tv_nsec / 1000;
		}
		return r;
	}
	case SYS_nanosleep:
		return sleep_for((const struct timespec *)a1);
	case SYS_clock_nanosleep:
		return (a2 & TIMER_ABSTIME) ? -EINVAL : sleep_for((const struct timespec *)a3);
	case SYS_sched_yield:
		return 0;
	case SYS_getrandom:
		return random_get((void *)a1, (uint64_t)a2);
#if defined(__x86_64__)
	case SYS_arch_prctl:
		return arch_prctl((int)a1, (uint64_t)a2);
#endif
	case SYS_set_tid_address:
	case SYS_getpid:
	case SYS_gettid:
		return 1;
	case SYS_getuid:
	case SYS_geteuid:
	case SYS_getgid:
	case SYS_getegid:
		return 0;
	case SYS_rt_sigprocmask:
	case SYS_rt_sigaction:
	case SYS_sigaltstack:
		return 0;
	case SYS_kill:
	case SYS_tkill:
		return signal_self((int)a2);
	case SYS_tgkill:
		return signal_self((int)a3);
	case SYS_exit:
	case SYS_exit_group:
		return process_exit((int)a1);
	case SYS_close:
		return a1 >= 0 && a1 <= 2 ? 0 : -EBADF;
	case SYS_lseek:
		return -ESPIPE;
	case SYS_futex:
		return 0; /* single-threaded: nothing ever waits */
	default:
		return -ENOSYS;
	}
}
