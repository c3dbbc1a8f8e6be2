# common/sources.mk - the shared rulebook's source files, named once for every
# build that compiles them (the top-level Makefile for the tender, unifaasd
# and the CLI; tests/unit/unit.mk; tests/fuzz/fuzz.mk).  Each is built once
# per toolchain: with musl for the static tender, with the host compiler for
# everything else.
COMMON = names text image
