/*
 * hvt_seccomp_rules.h - the tender's system-call allow-list, in one place.
 *
 * Read by gen_seccomp.c at build time, which compiles it with libseccomp into
 * a BPF program (build/gen/hvt_seccomp_bpf.h); hvt_seccomp.c installs that
 * program with two prctl calls.  Compiling the filter at every boot cost ~0.25 ms,
 * an eighth of the boot budget.
 *
 * HVT_ALLOW(name): allowed with any arguments.
 * HVT_ALLOW_IOCTL(cmd): ioctl allowed with this request code (the only
 * descriptors left open are KVM's and stdio, where KVM requests mean nothing);
 * the code must be the same on every architecture (no arch-sized struct).
 * HVT_ALLOW_IOCTL_ON(arch, cmd): the same, in the filter for one
 * architecture only ("x86_64", "aarch64": ARCH in the Makefile).
 * A system call that does not exist on the architecture is left out of its
 * filter (gen_seccomp.c).
 * HVT_ALLOW_MMAP_NOEXEC: mmap allowed unless PROT_EXEC is asked for.
 * HVT_SANITIZER_ALLOW(name): allowed only in ASan/UBSan test builds, for the
 * sanitizer runtime's error reports.
 */
HVT_ALLOW(read)
HVT_ALLOW(write)
HVT_ALLOW(poll)
HVT_ALLOW(ppoll)
HVT_ALLOW(writev)
HVT_ALLOW(lseek)
HVT_ALLOW(ftruncate)
HVT_ALLOW(fstat)
HVT_ALLOW(newfstatat)
HVT_ALLOW(close)
HVT_ALLOW(brk)
HVT_ALLOW(munmap)
HVT_ALLOW(mremap)
HVT_ALLOW(madvise)
HVT_ALLOW(clock_gettime)
HVT_ALLOW(clock_nanosleep)
HVT_ALLOW(nanosleep)
HVT_ALLOW(getrandom)
HVT_ALLOW(rt_sigreturn)
HVT_ALLOW(rt_sigprocmask)
HVT_ALLOW(timer_settime)
HVT_ALLOW(timer_gettime)
HVT_ALLOW(timer_delete)
HVT_ALLOW(exit)
HVT_ALLOW(exit_group)
HVT_ALLOW(futex)
HVT_ALLOW(wait4) /* reaps the --kv file's helper (kvfile.c) */
HVT_ALLOW_IOCTL(KVM_RUN)
HVT_ALLOW_IOCTL_ON("x86_64", KVM_GET_REGS)
HVT_ALLOW_IOCTL_ON("x86_64", KVM_GET_SREGS)
HVT_ALLOW_IOCTL_ON("x86_64", KVM_SET_MSRS)
HVT_ALLOW_IOCTL_ON("aarch64", KVM_GET_ONE_REG) /* PC, FAR_EL1 (hvt_kvm_aarch64.c) */
HVT_ALLOW_IOCTL_ON("aarch64", KVM_SET_ONE_REG) /* TPIDR_EL0 */
HVT_ALLOW_MMAP_NOEXEC
HVT_SANITIZER_ALLOW(gettid)
HVT_SANITIZER_ALLOW(getpid)
HVT_SANITIZER_ALLOW(tgkill)
HVT_SANITIZER_ALLOW(sched_yield)
HVT_SANITIZER_ALLOW(rt_sigaction)
HVT_SANITIZER_ALLOW(sigaltstack)
HVT_SANITIZER_ALLOW(mprotect)
HVT_SANITIZER_ALLOW(prctl)
HVT_SANITIZER_ALLOW(readlink)
HVT_SANITIZER_ALLOW(openat)
HVT_SANITIZER_ALLOW(getdents64)
HVT_SANITIZER_ALLOW(pread64)
HVT_SANITIZER_ALLOW(fcntl)
HVT_SANITIZER_ALLOW(sched_getaffinity)
