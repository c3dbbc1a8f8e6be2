/*
 * faults.c - a guest that misbehaves on request (tests/integration/faults.sh).
 *
 * One image covers every case: the environment variable CASE (`--env
 * CASE=...`) picks what the handler of each event does.  Cases that should
 * end the unit never return; the others print a result on stdout (which the
 * tender forwards to its stderr, the unit's log) and exit or return normally.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uf_abi.h>
#include <unifaas.h>

static int recurse(int depth)
{
	volatile char pad[256];
	pad[0] = (char)depth;
	pad[255] = (char)depth;
	return recurse(depth + 1) + pad[0] + pad[255];
}

/* One frame of 3 MiB: far more than the 4 KiB guard page below the stack.
 * Built without -fstack-clash-protection, the first store lands 3 MiB
 * below the stack pointer, in the heap, and the event ends "cleanly". */
static __attribute__((noinline)) int big_frame(int v)
{
	volatile char buf[3u << 20];
	buf[0] = (char)v;
	buf[sizeof(buf) - 1] = (char)v;
	return buf[0] + buf[sizeof(buf) - 1];
}

__attribute__((noinline, used)) void faults_target(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Allocate in `chunk`-byte steps until malloc says no; returns the bytes obtained. */
static size_t grab_all(size_t chunk)
{
	size_t got = 0;
	for (;;) {
		char *p = malloc(chunk);
		if (!p)
			break;
		memset(p, 0xa5, chunk); /* the memory must really be there */
		got += chunk;
	}
	return got;
}

static void print_lines(void)
{
	/* 8192 lines of exactly 1024 bytes: 8 MiB through printf */
	static char tail[1024];
	memset(tail, 'x', sizeof(tail));
	tail[1024 - 8 - 1] = '\0';
	for (int i = 0; i < 8192; i++)
		printf("%08d%s\n", i, tail);
}

static int print_fwrite(void)
{
	/* one fwrite of 8 MiB: goes out in UF_CONSOLE_MAX pieces */
	size_t n = 8u << 20;
	char *buf = malloc(n);
	if (!buf) {
		fprintf(stderr, "faults: no memory for the buffer\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '\n' : (char)('a' + (i / 64) % 26);
	if (fwrite(buf, 1, n, stdout) != n)
		return 1;
	fflush(stdout);
	return 0;
}

/* The cases of one architecture: 1 if c is one (those that return have not
 * faulted), 0 if not.  x86-64: privileged instructions from ring 3 and
 * software interrupts; aarch64: a breakpoint, alignment and a garbage SP.
 * (No misaligned-SP case: QEMU 7.2 does not check SCTLR_EL1.SA.) */
static int arch_case(const char *c)
{
#if defined(__x86_64__)
	if (!strcmp(c, "hlt")) {
		__asm__ volatile("hlt");
	} else if (!strcmp(c, "cli")) {
		__asm__ volatile("cli");
	} else if (!strcmp(c, "wrmsr")) {
		__asm__ volatile("wrmsr" ::"c"(0xc0000082u), "a"(0), "d"(0));
	} else if (!strcmp(c, "lidt")) {
		struct __attribute__((packed)) {
			uint16_t limit;
			uint64_t base;
		} d = {0, 0};
		__asm__ volatile("lidt %0" ::"m"(d));
	} else if (!strcmp(c, "mov_cr3")) {
		__asm__ volatile("mov %0, %%cr3" ::"r"(0ul));
	} else if (!strcmp(c, "iret_ring0")) {
		/* an interrupt-return frame naming the kernel code segment */
		__asm__ volatile("mov %%rsp, %%rax\n\t"
		                 "pushq $0x10\n\t" /* ss */
		                 "pushq %%rax\n\t" /* rsp */
		                 "pushfq\n\t"
		                 "pushq $0x08\n\t" /* cs: ring 0 */
		                 "lea 1f(%%rip), %%rax\n\t"
		                 "pushq %%rax\n\t"
		                 "iretq\n"
		                 "1:" ::
		                     : "rax", "memory");
	} else if (!strcmp(c, "load_kernel_ds")) {
		__asm__ volatile("mov $0x10, %%ax\n\tmov %%ax, %%ds" ::: "rax", "memory");
	} else if (!strcmp(c, "int3")) {
		__asm__ volatile("int3");
	} else if (!strcmp(c, "int_0x80")) {
		__asm__ volatile("int $0x80");
	} else if (!strcmp(c, "bad_rsp")) {
		/* the exception path must not depend on the guest's stack */
		__asm__ volatile("mov $8, %%rsp\n\tpushq $0" ::: "memory");
	} else {
		return 0;
	}
#else
	if (!strcmp(c, "brk")) {
		__asm__ volatile("brk #0x2a");
	} else if (!strcmp(c, "unaligned_exclusive")) {
		/* exclusive loads must be aligned, even on Normal memory */
		static char buf[32] __attribute__((aligned(16)));
		uint64_t v;
		__asm__ volatile("ldxr %0, [%1]" : "=r"(v) : "r"(buf + 3) : "memory");
		printf("%lx\n", (unsigned long)v);
	} else if (!strcmp(c, "pc_misaligned")) {
		void (*volatile fp)(void) = (void (*)(void))((uintptr_t)faults_target + 2);
		fp();
	} else if (!strcmp(c, "bad_rsp")) {
		/* the exception path must not depend on the guest's stack */
		__asm__ volatile("mov x9, #16\n\tmov sp, x9\n\tstr x10, [sp, #-16]!" ::: "x9", "memory");
	} else {
		return 0;
	}
#endif
	return 1;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	const char *c = uf_getenv("CASE");
	if (!c)
		c = "";
	if (!strcmp(c, "null_read")) {
		volatile int *volatile p = 0;
		printf("read %d\n", *p);
	} else if (!strcmp(c, "null_write")) {
		volatile int *volatile p = 0;
		*p = 42;
	} else if (!strcmp(c, "div_zero")) {
		volatile int a = 7, b = 0;
		printf("quotient %d\n", a / b);
	} else if (!strcmp(c, "ud2")) {
#if defined(__aarch64__)
		__asm__ volatile("udf #0");
#else
		__asm__ volatile("ud2");
#endif
	} else if (!strcmp(c, "stack_overflow")) {
		printf("depth %d\n", recurse(0));
	} else if (!strcmp(c, "big_frame")) {
		printf("big frame returned %d (wrote below the stack guard)\n", big_frame(1));
	} else if (!strcmp(c, "spin")) {
		volatile unsigned long n = 0;
		for (;;)
			n++;
	} else if (!strcmp(c, "sleep")) {
		/* SLEEP_S (default 2): long enough for a test to look at the
		 * sleeping tender's descriptors on a loaded machine */
		const char *sl = uf_getenv("SLEEP_S");
		struct timespec ts = {.tv_sec = sl ? atoi(sl) : 2};
		fprintf(stderr, "faults: sleeping\n");
		nanosleep(&ts, NULL);
		fprintf(stderr, "faults: woke up\n");
	} else if (!strcmp(c, "malloc_huge")) {
		/* far beyond any budget: must fail cleanly, then small blocks still work */
		void *huge = malloc((size_t)64 << 30);
		void *big = malloc((size_t)2 << 30);
		size_t got = grab_all(1u << 20);
		size_t small = grab_all(4096);
		printf("huge=%s big=%s got=%zu small=%zu\n", huge ? "non-null" : "null", big ? "non-null" : "null", got,
		       small);
		return 0;
	} else if (!strcmp(c, "write_code")) {
		void (*volatile fp)(void) = faults_target;
		*(volatile char *)(uintptr_t)fp = (char)0xc3;
		fp();
	} else if (!strcmp(c, "write_rodata")) {
		static const char ro[] = "read-only";
		*(volatile char *)(uintptr_t)ro = 'R';
		printf("%s\n", ro);
	} else if (!strcmp(c, "exec_heap")) {
		unsigned char *code = malloc(16);
		code[0] = 0xc3; /* ret */
		((void (*)(void))(uintptr_t)code)();
	} else if (!strcmp(c, "exec_stack")) {
		volatile unsigned char code[16];
		code[0] = 0xc3;
		((void (*)(void))(uintptr_t)code)();
	} else if (!strcmp(c, "exec_data")) {
		static unsigned char code[16] = {0xc3};
		((void (*)(void))(uintptr_t)code)();
	} else if (!strcmp(c, "beyond_memory")) {
		volatile char *p = (volatile char *)(uintptr_t)0x7ff00000; /* far above any small budget */
		*p = 1;
	} else if (!strcmp(c, "read_gdt")) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x1000; /* supervisor-only */
		printf("gdt %lx\n", (unsigned long)*p);
	} else if (!strcmp(c, "write_pagetables")) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x10000;
		*p = 0;
	} else if (arch_case(c)) {
		/* the architecture's own (arch_case) */
	} else if (!strcmp(c, "noncanonical")) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x8000000000000000ull;
		printf("%lx\n", (unsigned long)*p);
	} else if (!strcmp(c, "forge_progress")) {
		/* spins while bumping the event counter the tender watches */
		volatile uint64_t *progress =
		    (volatile uint64_t *)(uintptr_t)(UF_BOOTINFO_ADDR +
		                                     __builtin_offsetof(struct uf_bootinfo, progress));
		for (;;)
			*progress = *progress + 1;
	} else if (!strcmp(c, "burn")) {
		/* uses about atoi(data) ms of CPU, then pushes */
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		long ms = atol(ev->data);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
		return uf_push(ctx, "burnt", ev->data, ev->len);
	} else if (!strcmp(c, "crash_on")) {
		/* pushes its data, except for "crash", which dereferences NULL */
		if (!strcmp(ev->data, "crash")) {
			volatile int *volatile p = 0;
			*p = 1;
		}
		return uf_push(ctx, "seen", ev->data, ev->len);
	} else if (!strcmp(c, "print_lines")) {
		print_lines();
		return 0;
	} else if (!strcmp(c, "print_fwrite")) {
		return print_fwrite();
	} else if (!strcmp(c, "abort")) {
		abort();
	} else if (!strcmp(c, "exit3")) {
		exit(3);
	} else if (!strcmp(c, "exit0")) {
		exit(0);
	} else if (!strcmp(c, "handler_fail")) {
		/* events whose data starts with "bad" push, then fail */
		char out[128];
		int len = snprintf(out, sizeof(out), "from-%s", ev->data);
		uf_push(ctx, "results", out, (size_t)len);
		uf_push(ctx, "audit", ev->id, strlen(ev->id));
		return strncmp(ev->data, "bad", 3) == 0 ? 1 : 0;
	} else {
		fprintf(stderr, "faults: unknown CASE '%s'\n", c);
		return 1;
	}
	printf("faults: case %s survived\n", c);
	return 0;
}
