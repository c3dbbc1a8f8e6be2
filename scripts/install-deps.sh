#!/usr/bin/env bash
# Installs every Debian package unifaas needs to build, test and benchmark.
# Idempotent: packages already present are skipped; apt runs only when
# something is missing. Uses sudo when not root.
set -euo pipefail

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

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
