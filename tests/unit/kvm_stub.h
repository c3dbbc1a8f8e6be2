/*
 * kvm_stub.h - test double for tender/hvt_kvm.c (unit tests and the fuzzer).
 *
 * hvt_kvm.c talks to /dev/kvm, which unit tests must not need.  kvm_stub.c
 * replaces exactly that one file: every other tender source (hvt_main.c,
 * hvt_hypercall.c, hvt_dataplane.c, hvt_boot.c, hvt_elf.c, hvt_seccomp.c,
 * backend_local.c) is compiled unchanged into the tests.
 *
 * The stub's answers are these globals, so a test can choose what the vCPU
 * "reports" (e.g. CR2 for a page fault) and see what the tender asked of it
 * (e.g. the FS base set by UF_HC_SETFS).
 */
#ifndef UF_KVM_STUB_H
#define UF_KVM_STUB_H

#include <stdint.h>

extern uint64_t stub_rip;        /* hvt_kvm_rip() returns this         */
extern uint64_t stub_cr2;        /* hvt_kvm_cr2() returns this         */
extern int stub_set_fs_rc;       /* hvt_kvm_set_fs() returns this      */
extern uint64_t stub_fs_base;    /* last base given to hvt_kvm_set_fs  */
extern int stub_set_fs_calls;    /* number of hvt_kvm_set_fs() calls   */

void stub_reset(void);

#endif
