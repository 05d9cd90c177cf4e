#!/bin/bash
# tests/dovecot24/chroot.sh - a cached Debian 13 (trixie) chroot with the
# real Dovecot 2.4 and Postfix 3.10, for tests/dovecot24/run. The suite,
# its directory, the packages and the files a complete root must hold can
# be set by a script that sources it (D24_SUITE, D24_DIR, D24_PKGS,
# D24_FILES): tests/fresh/run keeps a bookworm minbase root with it.
#
# Run it:     bash tests/dovecot24/chroot.sh [build|mirror|clean]
#   build     (default) make the chroot unless a complete one is cached,
#             then print its root directory
#   mirror    print the Debian mirror found in this machine's apt sources
#   clean     unmount anything left under it and delete it
# Source it:  functions d24_* below (bash; set -u safe).
#
# Layout (build/ is gitignored):
#   build/trixie/root/       the chroot
#   build/trixie/complete    stamp, written last; without it (or when its
#                            package list differs) the chroot is rebuilt
#   build/trixie/build.log   debootstrap's output
#   build/trixie/lock        flock: one build at a time
#
# The mirror is never hard-coded: it comes from /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list|*.sources (one-line and deb822 formats),
# first URI that serves dists/trixie/Release wins. $D24_MIRROR overrides.
# debootstrap installs its own policy-rc.d and a fake start-stop-daemon
# while packages are configured, so nothing is started; Postfix is also
# preseeded to "No configuration" (no /etc/postfix/main.cf in the chroot).
# The build runs in a private mount namespace, so a failed or interrupted
# debootstrap cannot leave /proc or /sys mounted under the chroot.

D24_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
D24_SUITE=${D24_SUITE:-trixie}
D24_DIR=${D24_DIR:-$D24_TOP/build/$D24_SUITE}
D24_ROOT=$D24_DIR/root
D24_PKGS=${D24_PKGS-dovecot-core,dovecot-imapd,dovecot-pop3d,openssl,postfix,postfix-lmdb,lmdb-utils}
# Files (globs, relative to the root) a complete chroot holds.
D24_FILES=${D24_FILES-usr/sbin/dovecot usr/sbin/postmap usr/lib/postfix/*lmdb*}
D24_BUILD_TIMEOUT=${D24_BUILD_TIMEOUT:-1200}	# seconds for debootstrap
D24_ERR=''	# reason of the last failure (one line)
# D24_APT_DIR: where apt's sources live (default /etc/apt; for testing).

# _d24_fetch_ok URL: URL answers within 10 s.
_d24_fetch_ok() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 10 "$1" 2>/dev/null
	else
		wget -q -O /dev/null -T 10 -t 1 "$1" 2>/dev/null
	fi
}

# _d24_source_uris: "URI SUITE" per line for every enabled binary ("deb")
# source entry in apt's configuration, in apt's file order.
_d24_source_uris() {
	local f
	local -a files=()
	local etc=${D24_APT_DIR:-/etc/apt}
	[ -f "$etc/sources.list" ] && files+=("$etc/sources.list")
	for f in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
		[ -f "$f" ] && files+=("$f")
	done
	for f in "${files[@]}"; do
		case $f in
		*.sources)
			# deb822: paragraphs; fields may continue on indented lines.
			awk '
			function flush(   n, i, j, u, s, nu, ns, uu, ss) {
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
					nu = split(uris, uu, /[ \t]+/)
					ns = split(suites, ss, /[ \t]+/)
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
						if (uu[i] != "" && ss[j] != "") print uu[i], ss[j]
				}
				types = uris = suites = enabled = ""; cur = ""
			}
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { if (cur == "types") types = types " " $0
				   if (cur == "uris") uris = uris " " $0
				   if (cur == "suites") suites = suites " " $0
				   next }
			{
				k = tolower($0); sub(/:.*/, "", k)
				v = $0; sub(/^[^:]*:[ \t]*/, "", v)
				cur = k
				if (k == "types") types = v
				else if (k == "uris") uris = v
				else if (k == "suites") suites = v
				else if (k == "enabled") enabled = v
			}
			END { flush() }' "$f"
			;;
		*)
			# one-line: deb [opts] URI SUITE COMPONENT...
			sed -e 's/#.*//' "$f" | awk '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if (i + 1 <= NF) print $i, $(i + 1)
			}'
			;;
		esac
	done
}

# d24_mirror: prints the Debian archive mirror to use, or fails (D24_ERR).
d24_mirror() {
	_d24_find_mirror && echo "$D24_FOUND"
}

# _d24_find_mirror: sets D24_FOUND (no subshell, so D24_ERR survives).
_d24_find_mirror() {
	local uri suite seen=' ' tried=''
	D24_FOUND=''
	if [ -n "${D24_MIRROR:-}" ]; then
		D24_FOUND=$D24_MIRROR
		return 0
	fi
	while read -r uri suite; do
		# The main archive, not security/ports-style or flat repositories.
		case $suite in */* | *-security) continue ;; esac
		case $uri in http://* | https://* | ftp://* | file:/*) ;; *) continue ;; esac
		uri=${uri%/}
		case $seen in *" $uri "*) continue ;; esac
		seen+="$uri "
		if _d24_fetch_ok "$uri/dists/$D24_SUITE/Release"; then
			D24_FOUND=$uri
			return 0
		fi
		tried+=" $uri"
	done < <(_d24_source_uris)
	if [ -n "$tried" ]; then
		D24_ERR="no apt source serves dists/$D24_SUITE/Release (tried:$tried)"
	else
		D24_ERR="no Debian archive URI found in ${D24_APT_DIR:-/etc/apt}/sources.list{,.d/*.list,.d/*.sources}"
	fi
	return 1
}

# d24_mounts [ROOT]: mount points at or under ROOT (default the chroot),
# deepest first.
d24_mounts() {
	awk -v r="${1:-$D24_ROOT}" '$5 == r || index($5, r "/") == 1 { print $5 }' \
		/proc/self/mountinfo | awk '{ print length($0), $0 }' |
		sort -rn | cut -d' ' -f2-
}

# d24_umount_all [ROOT]: unmounts everything at or under ROOT (default the
# chroot), lazily if busy.
d24_umount_all() {
	local m r=${1:-$D24_ROOT}
	while read -r m; do
		[ -n "$m" ] || continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done < <(d24_mounts "$r")
	[ -z "$(d24_mounts "$r")" ] && return 0
	D24_ERR="still mounted under $r: $(d24_mounts "$r" | tr '\n' ' ')"
	return 1
}

# d24_mount_begin: /proc (and /dev when debootstrap could not make device
# nodes) inside the chroot. Undo with d24_umount_all.
d24_mount_begin() {
	if ! mountpoint -q "$D24_ROOT/proc"; then
		mount -t proc proc "$D24_ROOT/proc" || {
			D24_ERR="mount proc on $D24_ROOT/proc failed"; return 1; }
	fi
	if [ ! -c "$D24_ROOT/dev/null" ] || [ ! -c "$D24_ROOT/dev/urandom" ]; then
		mount --bind /dev "$D24_ROOT/dev" || {
			D24_ERR="bind mount of /dev failed"; return 1; }
	fi
}

# d24_bind DIR: host directory DIR visible at the same path in the chroot.
d24_bind() {
	local d=$1
	case $d in /*) ;; *) D24_ERR="d24_bind: $d is not absolute"; return 1 ;; esac
	mkdir -p "$D24_ROOT$d" && mount --bind "$d" "$D24_ROOT$d" || {
		D24_ERR="bind mount of $d into the chroot failed"; return 1; }
}

# d24_unbind DIR: undoes d24_bind and removes the empty mount point.
d24_unbind() {
	local d=$1
	if mountpoint -q "$D24_ROOT$d"; then
		umount "$D24_ROOT$d" 2>/dev/null || umount -l "$D24_ROOT$d" || return 1
	fi
	rmdir "$D24_ROOT$d" 2>/dev/null
	return 0
}

# d24_in CMD...: runs CMD inside the chroot with a clean environment.
d24_in() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		/usr/sbin/chroot "$D24_ROOT" "$@"
}

# d24_procs [ROOT]: pids of processes whose root directory is ROOT
# (default the chroot).
d24_procs() {
	local p r want=${1:-$D24_ROOT}
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[ "$r" = "$want" ] && echo "${p#/proc/}"
	done
}

# _d24_missing_file: prints the first of D24_FILES the root lacks.
_d24_missing_file() {
	local f
	for f in $D24_FILES; do
		compgen -G "$D24_ROOT/$f" >/dev/null || { echo "$f"; return 0; }
	done
	return 1
}

# d24_complete: the cached chroot is complete and for the current package list.
d24_complete() {
	[ -f "$D24_DIR/complete" ] &&
		grep -qx "packages=$D24_PKGS" "$D24_DIR/complete" &&
		! _d24_missing_file >/dev/null
}

# _d24_remove_root: deletes a half-made chroot (never across mounts).
_d24_remove_root() {
	[ -e "$D24_ROOT" ] || return 0
	d24_umount_all || return 1
	rm -rf --one-file-system "$D24_ROOT" || {
		D24_ERR="cannot remove $D24_ROOT"; return 1; }
}

# _d24_reason LOG: one line saying why debootstrap failed.
_d24_reason() {
	local r
	r=$(grep -E '^(E|W): ' "$1" 2>/dev/null | grep -v 'W: Cannot check Release signature' | tail -n 1)
	[ -n "$r" ] || r=$(grep -v '^I: ' "$1" 2>/dev/null | grep . | tail -n 1)
	printf '%s' "${r:-no output}"
}

# _d24_build: the build itself (caller holds the lock). Runs debootstrap
# in a private mount namespace.
_d24_build() {
	local mirror log=$D24_DIR/build.log t0 rc pids dv pv miss
	t0=$(date +%s)
	if ! command -v debootstrap >/dev/null 2>&1; then
		echo "# installing debootstrap with apt-get" >&2
		if ! timeout 300 apt-get install -y -q debootstrap >"$D24_DIR/apt.log" 2>&1; then
			timeout 300 apt-get update -q >>"$D24_DIR/apt.log" 2>&1
			timeout 300 apt-get install -y -q debootstrap >>"$D24_DIR/apt.log" 2>&1 || {
				D24_ERR="apt-get install debootstrap: $(tail -n 1 "$D24_DIR/apt.log")"
				return 1; }
		fi
	fi
	_d24_find_mirror || return 1
	mirror=$D24_FOUND
	_d24_remove_root || return 1
	rm -f "$D24_DIR/complete"
	# Preseed Postfix through a debconf override database that lives in
	# the target (debootstrap passes its environment to dpkg in the chroot).
	mkdir -p "$D24_ROOT/var/lib/snisync-preseed" || return 1
	cat >"$D24_ROOT/var/lib/snisync-preseed/debconf.dat" <<-'EOF'
		Name: postfix/main_mailer_type
		Template: postfix/main_mailer_type
		Value: No configuration
		Owners: postfix
		Flags: seen

	EOF
	echo "# debootstrap $D24_SUITE from $mirror into $D24_ROOT (about 1 min)" >&2
	DEBCONF_DB_OVERRIDE='File{/var/lib/snisync-preseed/debconf.dat}' \
	timeout -k 10 "$D24_BUILD_TIMEOUT" unshare --mount --propagation private \
		debootstrap --variant=minbase ${D24_PKGS:+--include="$D24_PKGS"} \
		"$D24_SUITE" "$D24_ROOT" "$mirror" >"$log" 2>&1
	rc=$?
	# Anything debootstrap's package scripts left running in the chroot
	# was started by this build: stop it by pid.
	pids=$(d24_procs)
	if [ -n "$pids" ]; then
		echo "# stopping processes left in the chroot: $pids" >&2
		kill $pids 2>/dev/null
		sleep 1
		pids=$(d24_procs)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	fi
	d24_umount_all
	if [ "$rc" != 0 ]; then
		if [ "$rc" = 124 ]; then
			D24_ERR="timed out after ${D24_BUILD_TIMEOUT}s (mirror $mirror; log $log)"
		else
			D24_ERR="$(_d24_reason "$log") (exit $rc, mirror $mirror; log $log)"
		fi
		return 1
	fi
	rm -rf "$D24_ROOT/var/lib/snisync-preseed"
	miss=$(_d24_missing_file) && { D24_ERR="$miss missing in the chroot"; return 1; }
	# Versions for the stamp (tests/dovecot24/run asserts them).
	dv='' pv=''
	[ -x "$D24_ROOT/usr/sbin/dovecot" ] && dv=$(d24_in dovecot --version 2>&1)
	[ -x "$D24_ROOT/usr/sbin/postconf" ] && pv=$(d24_in postconf -d -h mail_version 2>&1)
	# The stamp goes last: its presence means "complete".
	{
		echo "packages=$D24_PKGS"
		echo "mirror=$mirror"
		[ -z "$dv" ] || echo "dovecot=$dv"
		[ -z "$pv" ] || echo "postfix=$pv"
		echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "seconds=$(($(date +%s) - t0))"
	} >"$D24_DIR/complete.tmp" && mv -f "$D24_DIR/complete.tmp" "$D24_DIR/complete"
	echo "# $D24_SUITE chroot ready in $(($(date +%s) - t0)) s${dv:+: dovecot $dv, postfix $pv}" >&2
}

# d24_ensure: a complete chroot exists afterwards (built if needed), or
# returns 1 with D24_ERR set. Concurrent callers wait for one builder.
d24_ensure() {
	local rc
	d24_complete && return 0
	mkdir -p "$D24_DIR" || { D24_ERR="cannot create $D24_DIR"; return 1; }
	exec {_d24_lockfd}>"$D24_DIR/lock" || { D24_ERR="cannot open $D24_DIR/lock"; return 1; }
	if ! flock -w "$D24_BUILD_TIMEOUT" "$_d24_lockfd"; then
		exec {_d24_lockfd}>&-
		D24_ERR="another build holds $D24_DIR/lock"
		return 1
	fi
	if d24_complete; then
		rc=0
	else
		_d24_build
		rc=$?
	fi
	exec {_d24_lockfd}>&-
	return "$rc"
}

# d24_clean: removes the cached chroot.
d24_clean() {
	d24_umount_all || return 1
	rm -f "$D24_DIR/complete"
	_d24_remove_root
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ "$(id -u)" = 0 ] || { echo "chroot.sh: must run as root" >&2; exit 1; }
	case ${1:-build} in
	build) d24_ensure && echo "$D24_ROOT" ;;
	mirror) d24_mirror ;;
	clean) d24_clean ;;
	*) echo "usage: $0 [build|mirror|clean]" >&2; exit 2 ;;
	esac
	rc=$?
	[ "$rc" = 0 ] || echo "chroot.sh: ${D24_ERR:-failed}" >&2
	exit "$rc"
fi
