# tender/sources.mk - the tender's source files, named once for every build
# that compiles them (the top-level Makefile, tests/unit/unit.mk,
# tests/fuzz/fuzz.mk).  TENDER_CORE is everything but the KVM layer, which
# the unit tests and the fuzzer replace with tests/unit/kvm_stub.c.
TENDER_CORE = hvt_main hvt_elf hvt_boot hvt_boot_$(ARCH) hvt_hypercall hvt_fault hvt_dataplane hvt_seccomp backend_local kvfile backend_redis json_text hvt_reaper hvt_net hvt_standby hvt_egress
# hvt_boot.c and hvt_kvm.c are every architecture's; hvt_boot_$(ARCH).c (page
# tables, descriptor tables or vectors) and hvt_kvm_$(ARCH).c (the vCPU's
# registers) the architecture's part
ARCH       ?= x86_64
TENDER_KVM  = hvt_kvm hvt_kvm_$(ARCH) $(if $(filter aarch64,$(ARCH)),hvt_pt_aarch64)
# main() of uf-hvt alone: `unifaas run` links the rest and calls hvt_main().
TENDER_ENTRY = hvt_entry
# Debian's libhiredis.a is built for glibc: the musl tender adds the four
# fortify functions it calls (glibc builds have them).
TENDER_MUSL = glibc_compat
