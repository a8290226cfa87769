#!/bin/sh
# tunnelgw: install the build, test and benchmark dependencies on Debian 12 with apt-get.
# The README and .ci/run both call this script, so the lists live here only.
#   contrib/install-deps.sh           build and test dependencies (make check, CI)
#   contrib/install-deps.sh --build   build dependencies only (contrib/quickstart.sh without check)
#   contrib/install-deps.sh --bench   build and test, plus what bench/run needs (sshd, iperf3,
#                                     and socat for the UDP comparison)
#   contrib/install-deps.sh --fuzz    build and test, plus clang and libFuzzer
#   contrib/install-deps.sh --browser build and test, plus chromium, its driver and selenium
#                                     for the dashboard's browser scenarios (make check-dashboard)
#   contrib/install-deps.sh --postgresql  build and test, plus PostgreSQL 15's server and
#                                     iproute2, for the suite on PostgreSQL and the scenarios of
#                                     several gateways (make check-postgresql)
#   contrib/install-deps.sh --deb     build and test, plus the Debian packaging tools and
#                                     debootstrap (dpkg-buildpackage, lintian, tests/package.sh)
# As root it runs apt-get itself; otherwise through sudo, and without sudo it says so and exits 1.
set -eu

# openssh-client: ssh-keygen makes the demo's key, and ssh is what the demo tries.
BUILD="build-essential autoconf automake pkg-config
       libssh-dev libssl-dev libconfig-dev libsqlite3-dev libevent-dev libjansson-dev
       libpq-dev openssh-client"
# dnsmasq-base and bind9-dnsutils: a DNS server (the binary, no system service) and dig, for
# the UDP tunnel scenarios (tests/udp.sh).
TEST="check openssl python3 python3-jsonschema python3-yaml haproxy sqlite3 curl
      dropbear-bin putty-tools python3-paramiko python3-asyncssh dnsmasq-base bind9-dnsutils"

# --fuzz: clang with libFuzzer and the sanitizer runtimes, and llvm-symbolizer for stack traces.
FUZZ="clang libclang-rt-14-dev llvm"

# --browser: Debian's chromium, driven headless by chromium-driver from python3-selenium
# (tests/dashboard.sh). Heavy, so not part of the plain test list: CI runs it once.
BROWSER="chromium chromium-driver python3-selenium"

# --postgresql: a PostgreSQL server that the tests start themselves (tests/pgserver.sh), and ip
# for the network namespaces of the several-gateway scenarios. Not in the plain test list: the
# server package is large, and CI runs the suite on it once.
POSTGRESQL="postgresql-15 postgresql-client-15 iproute2"

# --deb: dpkg-buildpackage with debhelper (debian/control's Build-Depends are the build and
# test lists above), lintian, and debootstrap for the package scenario (tests/package.sh).
DEB="debhelper devscripts lintian fakeroot dpkg-dev debootstrap"

pkgs="$BUILD $TEST"
case "${1:-}" in
	--build) pkgs="$BUILD" ;;
	--bench) pkgs="$pkgs openssh-server iperf3 socat" ;;
	--fuzz) pkgs="$pkgs $FUZZ" ;;
	--browser) pkgs="$pkgs $BROWSER" ;;
	--postgresql) pkgs="$pkgs $POSTGRESQL" ;;
	--deb) pkgs="$pkgs $DEB" ;;
	"") ;;
	*) echo "usage: $0 [--build|--bench|--fuzz|--browser|--postgresql|--deb]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
		|| missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "install-deps: missing packages:$missing; run as root, or install sudo" >&2
	exit 1
fi

# Debian's haproxy package enables and starts haproxy.service; the tests only run the binary.
# Note whether the service was enabled before, to leave it as it was.
haproxy_was=enabled
case " $missing " in
*" haproxy "*)
	if command -v systemctl >/dev/null 2>&1; then
		haproxy_was=$(systemctl is-enabled haproxy.service 2>/dev/null || true)
	fi
	;;
esac

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

if [ "$haproxy_was" != enabled ]; then
	$SUDO systemctl disable --now --quiet haproxy.service 2>/dev/null \
		|| $SUDO systemctl disable --quiet haproxy.service 2>/dev/null || true
	echo "install-deps: stopped and disabled haproxy.service (the tests run the haproxy binary themselves)"
fi
