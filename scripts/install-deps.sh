#!/usr/bin/env bash
# Installs every Debian package unifaas needs to build, test and benchmark.
# Idempotent: packages already present are skipped; apt runs only when
# something is missing. Uses sudo when not root.
#
#   scripts/install-deps.sh           the x86-64 build (make, make test)
#   scripts/install-deps.sh --arm64   also the aarch64 cross toolchain and
#                                     Debian's arm64 libraries (make ARCH=aarch64)
#   scripts/install-deps.sh --emulation  also what scripts/in-qemu.sh needs for
#                                     make test-svm / make test-arm64: QEMU for
#                                     x86-64 and aarch64, cpio, and the dpkg
#                                     architecture arm64 (in-qemu.sh fetches the
#                                     arm64 kernel and busybox-static:arm64 with
#                                     apt-get download; kernels and busybox are
#                                     never installed).  Never by default.
#                                     make test-arm64-platform also fetches,
#                                     the same way, Debian's arm64 redis-tools,
#                                     mosquitto, bash, curl, python3 and
#                                     coreutils with the libraries they load
#                                     (tests/emulated/arm64_platform_stage.sh):
#                                     nothing more is installed for it.
#
# The arm64 set adds the dpkg architecture arm64 (multiarch). musl for arm64
# comes from musl-dev:arm64 (its /usr/bin/aarch64-linux-musl-gcc); never
# musl-tools:arm64, which would make apt remove the x86 musl-tools (musl-gcc).
set -euo pipefail

ARM64=0
EMULATION=0
for a in "$@"; do
	case "$a" in
	--arm64) ARM64=1 ;;
	--emulation) EMULATION=1 ;;
	*)
		echo "install-deps: unknown option '$a' (known: --arm64, --emulation)" >&2
		exit 2
		;;
	esac
done

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

PKGS=(
	build-essential make pkg-config git
	musl-tools musl-dev            # guest libc and musl-gcc
	libjsmn-dev                    # header-only JSON for guests
	libseccomp-dev                 # tender sandbox
	libhiredis-dev redis-server    # queues and KV (tender data plane, tests)
	redis-tools                    # redis-cli, used by tests
	libjansson-dev                 # host JSON: CLI, daemon, unit tests
	libcurl4-openssl-dev           # CLI's API client, HTTP egress
	libuv1-dev                     # daemon event loop
	libcyaml-dev libyaml-dev       # workflow manifests
	libmicrohttpd-dev              # daemon HTTP API and HTTP ingress
	libssl-dev                     # daemon: SHA-256 of ingress tokens, base64 of CloudEvents (libcrypto)
	mosquitto libmosquitto-dev     # MQTT broker and client
	mosquitto-clients libssl-dev openssl # mosquitto_pub/sub (tests); $7$ hashes (CLI); test CAs
	iproute2 iputils-ping          # TAP devices for network functions, tests
	libcmocka-dev                  # unit tests
	clang libclang-rt-14-dev       # libFuzzer target, sanitizers
	runc hyperfine                 # benchmark baselines
	wrk                            # bench only (bench/http_ingress.sh): never needed by the platform
	procps psmisc                  # ps/pkill used by tests
	curl python3                   # tests: raw HTTP requests, JSON and log parsing
)

# make ARCH=aarch64: the cross compilers, the arm64 UAPI headers
# (/usr/aarch64-linux-gnu/include), and the :arm64 -dev packages the tender
# (hiredis), the CLI and unifaasd link with; qemu-user-static runs the
# results here, qemu-system-arm runs an emulated Cortex-A72 with KVM.
ARM64_PKGS=(
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross # host side: unifaasd, the CLI's API half
	musl-dev:arm64                              # aarch64-linux-musl-gcc: tender, CLI front, libuf
	libhiredis-dev:arm64 libjansson-dev:arm64 libcurl4-openssl-dev:arm64
	libuv1-dev:arm64 libcyaml-dev:arm64 libyaml-dev:arm64 libmicrohttpd-dev:arm64
	libssl-dev:arm64 libmosquitto-dev:arm64 libcmocka-dev:arm64 # (seccomp: the host libseccomp writes the arm64 filter)
	qemu-user-static qemu-system-arm cpio
)
if [ "$ARM64" = 1 ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "install-deps: adding the dpkg architecture arm64"
		$SUDO dpkg --add-architecture arm64
	fi
	PKGS+=("${ARM64_PKGS[@]}")
fi

EMULATION_PKGS=(
	qemu-system-x86                # qemu-system-x86_64 -cpu max: AMD SVM under TCG
	qemu-system-arm                # qemu-system-aarch64 -M virt,virtualization=on
	cpio binutils                  # the initramfs; objcopy reads kernel modules' depends=
)
arch_added=
if [ "$EMULATION" = 1 ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "install-deps: adding the dpkg architecture arm64 (apt-get download of arm64 kernel and busybox)"
		$SUDO dpkg --add-architecture arm64
		arch_added=1
	fi
	PKGS+=("${EMULATION_PKGS[@]}")
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	[ -n "$arch_added" ] && $SUDO apt-get update -qq # the arm64 lists
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
