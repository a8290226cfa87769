#!/bin/sh
# tunnelgw: install the build, test and benchmark dependencies on Debian 12 with apt-get.
# The README and .ci/run both call this script, so the list lives here only.
set -eu

BUILD="build-essential autoconf automake pkg-config
       libssh-dev libssl-dev libconfig-dev libsqlite3-dev libevent-dev"
TEST="check openssh-client openssl python3 haproxy sqlite3
      dropbear-bin putty-tools python3-paramiko python3-asyncssh"

# --fuzz: clang with libFuzzer and the sanitizer runtimes, and llvm-symbolizer for stack traces.
FUZZ="clang libclang-rt-14-dev llvm"

pkgs="$BUILD $TEST"
case "${1:-}" in
	--bench) pkgs="$pkgs openssh-server iperf3" ;;
	--fuzz) pkgs="$pkgs $FUZZ" ;;
	"") ;;
	*) echo "usage: $0 [--bench|--fuzz]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
		|| missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
