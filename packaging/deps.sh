#!/bin/sh
# packaging/deps.sh [--list] [build|test|fuzz|deb|boot] - installs the Debian
# packages snisync needs to build (and to run its tests against real
# Postfix, Dovecot, certbot, dehydrated, lego and pebble), when they are
# missing. As root it runs apt-get; as anyone else it prints the exact
# apt-get line and fails. --list prints the set's packages and installs
# nothing. Exit status: 0 when everything is installed, apt-get's when it
# fails.
set -eu
BUILD_PKGS="make gcc pkg-config libc6-dev libssl-dev liblmdb-dev libjansson-dev"
TEST_PKGS="openssl python3 postfix postfix-lmdb lmdb-utils dovecot-core \
dovecot-imapd dovecot-pop3d certbot pebble dehydrated lego curl debootstrap systemd valgrind strace \
mandoc build-essential debhelper dpkg-dev fakeroot lintian prometheus"

# libFuzzer: clang only recommends its runtime, so name it.
FUZZ_PKGS="clang libclang-rt-dev openssl"
# make deb: dpkg-buildpackage refuses to start without build-essential
# ("Unmet build dependencies: build-essential:native"), whatever the
# compiler already installed.
DEB_PKGS="build-essential debhelper dpkg-dev fakeroot"

# make check-boot: Debian roots booted under systemd-nspawn.
BOOT_PKGS="systemd-container debootstrap"

list=0
if [ "${1:-}" = --list ]; then
	list=1
	shift
fi
case ${1:-build} in
build) want=$BUILD_PKGS ;;
test) want="$BUILD_PKGS $TEST_PKGS" ;;
fuzz) want="$BUILD_PKGS $FUZZ_PKGS" ;;
deb) want="$BUILD_PKGS $DEB_PKGS" ;;
boot) want="$BUILD_PKGS $BOOT_PKGS" ;;
*) echo "usage: deps.sh [--list] [build|test|fuzz|deb|boot]" >&2; exit 2 ;;
esac
if [ "$list" = 1 ]; then
	printf '%s\n' $want | sort -u
	exit 0
fi
missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "snisync: missing Debian packages; as root, run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
# Postfix without a system mail configuration; no service is started by
# the installation (the tests start private instances on 127.0.0.1).
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	made_policy=1
fi
# The trap keeps the script's own exit status: a test that fails inside it
# (no policy-rc.d of ours to remove) must not turn a good install into a
# failure, nor a failed one into a success.
cleanup() {
	rc=$?
	if [ "$made_policy" = 1 ]; then
		rm -f "$policy"
	fi
	exit "$rc"
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
