# common/sources.mk - the shared rulebook's source files, named once for every
# build that compiles them (the top-level Makefile for the tender, unifaasd,
# the CLI and libuf; tests/unit/unit.mk; tests/fuzz/fuzz.mk).  Each is built
# once per toolchain: with musl for the static tender, with the host compiler
# for everything else.
#
# COMMON_GUEST: the pure rules the guest runtime (libuf) links too - names,
# keys, UTF-8, the integer format - so a guest checks exactly what the
# tender checks.
COMMON_GUEST = names numbers event_limits
COMMON = $(COMMON_GUEST) text image secret config delivery topic egress cgroup
