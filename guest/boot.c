/*
 * boot.c - libuf's boot: from the tender's entry state to musl's start.
 *
 * Everything privileged (IDT, syscall MSRs, TSS, page tables) was set up by
 * the tender before the first instruction, so booting is only: set up the
 * heap, then hand the Linux-style initial stack to __libc_start_main, which
 * calls main (libuf's event loop, or the user's own).  uf_exit is the one
 * way out of the guest.
 */
#include <stdint.h>

#include "hypercall.h"

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*ldso)(void));
int main(int argc, char **argv, char **envp);

_Noreturn void uf_boot(uint64_t *sp)
{
	uf_memory_init();
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	__libc_start_main(main, argc, argv, 0, 0, 0);
	uf_exit(UF_EXIT_NORMAL, 0, 0);
}

_Noreturn void uf_exit(uint32_t kind, int status, const char *msg)
{
	struct uf_hc_exit hc = {.kind = kind, .status = status};
	if (msg) {
		uint64_t n = 0;
		while (msg[n])
			n++;
		hc.msg = (uint64_t)(uintptr_t)msg;
		hc.msg_len = n;
	}
	for (;;)
		uf_hypercall(UF_HC_EXIT, &hc);
}
