/*
 * entry_x86_64.S - the guest's first instruction, its syscall entry, its exception
 * stubs and the image note.
 *
 * The whole guest runs in ring 3.  The tender enters _start with paging on,
 * user segments loaded, RSP at a Linux-style initial stack (argc, argv,
 * envp, auxv).  Invariants:
 *  - uf_syscall_entry is LSTAR: musl's inline `syscall` lands here.  It
 *    steps below the 128-byte red zone, keeps every register Linux keeps,
 *    calls uf_syscall, and returns to RCX.  If the CPU really switched to
 *    ring 0 (hardware KVM) it returns with SYSRET; where `syscall` stays in
 *    ring 3 (PVM-style KVM), with a plain jump.
 *  - exception stubs run on IST1 (supervisor stack set up by the tender) and
 *    use only plain integer instructions: they push a uniform frame and
 *    report it with one UF_HC_FAULT hypercall (hypercall.h's store).  They
 *    never return: the tender ends the unit.
 *  - .note.unifaas carries UF_ABI_VERSION and the two entry points above,
 *    from which the tender programs LSTAR and the IDT.
 */
#include "hypercall.h"

	.section .text.boot, "ax"
	.globl _start
_start:
	xor %ebp, %ebp
	mov %rsp, %rdi
	and $-16, %rsp
	call uf_boot
1:	jmp 1b

	.text
	.globl uf_syscall_entry
uf_syscall_entry:
	sub $128, %rsp
	push %rcx
	push %r11
	push %rdi
	push %rsi
	push %rdx
	push %r10
	push %r8
	push %r9
	push %rbx
	mov %rsp, %rbx
	and $-16, %rsp
	sub $8, %rsp
	push %r9		/* arg 6 on the stack */
	mov %r8, %r9
	mov %r10, %r8
	mov %rdx, %rcx
	mov %rsi, %rdx
	mov %rdi, %rsi
	mov %rax, %rdi
	call uf_syscall
	mov %rbx, %rsp
	pop %rbx
	pop %r9
	pop %r8
	pop %r10
	pop %rdx
	pop %rsi
	pop %rdi
	pop %r11
	pop %rcx
	push %rax
	mov %cs, %eax
	test $3, %al
	pop %rax		/* pop leaves the flags of the test alone */
	jz 2f
	push %r11
	popfq
	lea 128(%rsp), %rsp	/* lea: keeps the flags just restored */
	jmp *%rcx
2:	lea 128(%rsp), %rsp
	sysretq

/* Exception stubs: push a zero error code where the CPU pushes none. */
.macro EXC_NOERR n
uf_exc_\n:
	pushq $0
	pushq $\n
	jmp uf_exc_common
.endm
.macro EXC_ERR n
uf_exc_\n:
	pushq $\n
	jmp uf_exc_common
.endm

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR 8
EXC_NOERR 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR 17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR 21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR 29
EXC_ERR 30
EXC_NOERR 31

uf_exc_common:
	/* the stack now holds struct uf_hc_fault */
	mov %esp, %eax
3:	UF_HC_STORE %eax, %rdx, 4	/* 4: UF_HC_FAULT */
	jmp 3b

	.section .rodata
	.balign 8
uf_exc_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad uf_exc_\n
	.endr

	UF_IMAGE_NOTE uf_syscall_entry, uf_exc_table

	.section .note.GNU-stack, "", @progbits
