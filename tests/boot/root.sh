# tests/boot/root.sh - the cached Debian roots that tests/boot/run boots
# under systemd: build/boot-RELEASE/root, made in two stages.
#   1. debootstrap --variant=minbase with systemd, systemd-sysv and dbus
#      (tests/dovecot24/chroot.sh's d24_ensure, stamp build/boot-R/complete);
#   2. apt-get inside the root (chroot, a policy-rc.d that starts nothing):
#      Postfix preseeded to "Internet Site" (Debian's own main.cf, the
#      snakeoil certificate as the default TLS certificate), postfix-lmdb,
#      Dovecot with IMAP and POP3, certbot, pebble and the tools `make
#      deb` needs (packaging/deps.sh --list deb) and git; stamp
#      build/boot-R/complete-apt, written last, holding the package list.
# Python packages (certbot) cannot go through debootstrap (it fails on
# python3-cryptography's dependency order), hence stage 2. Nothing is
# configured here: the root is the distribution's install as apt leaves
# it, and each run changes only its own overlay.
# Source it from bash after tests/dovecot24/chroot.sh, in a private mount
# namespace (boot_root mounts /proc, /sys and /dev under the root while
# apt runs and unmounts them again). set -u safe.
#
#   boot_root RELEASE   sets D24_* for RELEASE and BOOT_ROOT, builds what
#                       is missing; 0 when the root is complete, else 1
#                       with BOOT_ERR set (one line).

BOOT_APT_PKGS='postfix postfix-lmdb dovecot-core dovecot-imapd dovecot-pop3d
openssl ca-certificates certbot pebble git make gcc pkg-config libc6-dev
libssl-dev liblmdb-dev libjansson-dev build-essential debhelper dpkg-dev
fakeroot procps'
BOOT_ERR=''

# _boot_in ROOT CMD: the shell command CMD in the chroot, clean environment.
_boot_in() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive \
		/usr/sbin/chroot "$1" sh -c "$2" </dev/null
}

# _boot_apt: stage 2 (the caller holds the lock).
_boot_apt() {
	local root=$D24_ROOT log=$D24_DIR/apt.log t0 rc pids f
	t0=$(date +%s)
	rm -f "$D24_DIR/complete-apt"
	mkdir -p "$D24_DIR/archives/partial" || return 1
	mount -t proc proc "$root/proc" &&
		mount -t sysfs sysfs "$root/sys" &&
		mount --rbind /dev "$root/dev" &&
		mount --bind "$D24_DIR/archives" "$root/var/cache/apt/archives" || {
		BOOT_ERR="mounts in $root failed"; d24_umount_all; return 1; }
	printf '#!/bin/sh\n# tests/boot/root.sh: nothing starts while apt runs\nexit 101\n' \
		>"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	# The host's apt settings for reaching its mirror (a snapshot's dates).
	for f in /etc/apt/apt.conf.d/*; do
		[ -f "$f" ] && grep -q '^Acquire::Check-' "$f" &&
			grep '^Acquire::Check-' "$f" >"$root/etc/apt/apt.conf.d/99boot-$(basename "$f")"
	done
	echo "# apt-get install in $root (about 2 min)" >&2
	timeout -k 10 1200 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /usr/sbin/chroot "$root" sh -ec "
		echo mail.boot.test >/etc/mailname
		printf '%s\n' \
			'postfix postfix/main_mailer_type select Internet Site' \
			'postfix postfix/mailname string mail.boot.test' |
			debconf-set-selections
		apt-get update -q
		apt-get install -y -q --no-install-recommends $(echo $BOOT_APT_PKGS)
		apt-get clean
		" </dev/null >"$log" 2>&1
	rc=$?
	pids=$(d24_procs "$root")
	[ -z "$pids" ] || kill $pids 2>/dev/null
	rm -f "$root/usr/sbin/policy-rc.d"
	d24_umount_all "$root"
	if [ "$rc" != 0 ]; then
		BOOT_ERR="apt-get in the root: exit $rc: $(grep -E '^E: ' "$log" | tail -n 1) (log $log)"
		return 1
	fi
	for f in usr/bin/certbot usr/bin/pebble usr/sbin/postfix usr/sbin/dovecot \
		usr/bin/dpkg-buildpackage usr/bin/git; do
		[ -e "$root/$f" ] || { BOOT_ERR="/$f missing after apt (log $log)"; return 1; }
	done
	{
		echo "packages=$(echo $BOOT_APT_PKGS)"
		echo "dovecot=$(_boot_in "$root" 'dovecot --version')"
		echo "postfix=$(_boot_in "$root" 'postconf -d -h mail_version')"
		echo "certbot=$(_boot_in "$root" 'certbot --version' 2>&1)"
		echo "systemd=$(_boot_in "$root" 'systemctl --version | head -n 1')"
		echo "seconds=$(($(date +%s) - t0))"
	} >"$D24_DIR/complete-apt.tmp" && mv -f "$D24_DIR/complete-apt.tmp" "$D24_DIR/complete-apt"
}

_boot_apt_complete() {
	[ -f "$D24_DIR/complete-apt" ] &&
		grep -qx "packages=$(echo $BOOT_APT_PKGS)" "$D24_DIR/complete-apt" &&
		[ -x "$D24_ROOT/usr/bin/certbot" ]
}

boot_root() {
	local r=$1 rc fd
	D24_SUITE=$r
	D24_PKGS=systemd,systemd-sysv,dbus
	D24_FILES='usr/bin/systemctl usr/bin/dbus-daemon'
	D24_DIR=${BOOT_DIR:-$D24_TOP/build}/boot-$r
	D24_ROOT=$D24_DIR/root
	BOOT_ROOT=$D24_ROOT
	BOOT_ERR=''
	# A new stage 1 voids stage 2.
	if ! d24_complete; then
		rm -f "$D24_DIR/complete-apt"
		d24_ensure || { BOOT_ERR="debootstrap: $D24_ERR"; return 1; }
	fi
	_boot_apt_complete && return 0
	exec {fd}>"$D24_DIR/lock-apt" || { BOOT_ERR="cannot open $D24_DIR/lock-apt"; return 1; }
	flock -w 1200 "$fd" || { exec {fd}>&-; BOOT_ERR="another build holds $D24_DIR/lock-apt"; return 1; }
	if _boot_apt_complete; then rc=0; else _boot_apt; rc=$?; fi
	exec {fd}>&-
	return "$rc"
}
