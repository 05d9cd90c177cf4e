# deb.sh - the Debian package: `make deb` builds it, lintian reports no
# error and no warning, apt-get installs it (files, modes, conffiles, man
# pages, units that verify and are neither enabled nor started), the
# installed binary and deploy hook work on a generated tree and the
# shipped configuration loads; reinstalling and upgrading keep the state
# and a changed conffile; purging removes every file the package installed,
# /var/lib/snisync, /etc/snisync and snisync's own Dovecot include, and
# removes the Postfix map only when Postfix no longer names it.
#
# Needs root; installs and purges the package snisync on this machine and
# leaves it as it found it: whatever sits at a path the test uses
# (/var/lib/snisync, /etc/snisync, the package's files, the default
# Postfix map and Dovecot include) is moved aside first and put back at
# the end, and the package is purged even when the test fails. Refuses to
# run when a snisync package is already installed. SNISYNC_DEB=FILE tests
# that package instead of building one (lintian then checks just it).
# The package part uses the installed /usr/sbin/snisync, never $SNISYNC.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

start=$(date +%s)
if [ "$(id -u)" != 0 ]; then
	t_fail "deb.sh: must run as root (installs and purges the package)"
	exit 1
fi
for tool in apt-get dpkg-deb dpkg-buildpackage dh lintian; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		t_fail "deb.sh: $tool is missing (make deps installs it)"
		exit 1
	fi
done
pkg_state() {
	local s
	s=$(dpkg-query -W -f='${db:Status-Status}' snisync 2>/dev/null)
	echo "${s:-not-installed}"
}
if [ "$(pkg_state)" != not-installed ]; then
	t_fail "deb.sh: a snisync package is already here ($(pkg_state)); not touching it"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 --no-install-recommends)
VER=$(sed -n 's/^VERSION *= *//p' "$T_TOP/Makefile")
ARCH=$(dpkg --print-architecture)
STATE=/var/lib/snisync
MAP=/etc/postfix/tls_sni
DCF=/etc/dovecot/conf.d/99-snisync.conf
t_tmpdir T

# ---- the package ------------------------------------------------------------
if [ -n "${SNISYNC_DEB:-}" ]; then
	DEB=$SNISYNC_DEB
	LINT=$DEB
	t_check "given package $DEB exists" test -f "$DEB"
else
	make -s -C "$T_TOP" deb >"$T/build.out" 2>"$T/build.err"
	rc=$?
	t_eq "make deb succeeds" "$rc" 0
	[ "$rc" = 0 ] || { tail -n 30 "$T/build.err" "$T/build.out" | sed 's/^/# /'; exit 1; }
	DEB=$T_TOP/$(tail -n 1 "$T/build.out")
	t_eq "make deb prints the package's path last" "$DEB" \
		"$T_TOP/build/snisync_${VER}_$ARCH.deb"
	LINT=$T_TOP/build/deb/snisync_${VER}_$ARCH.changes
	t_check "the .changes is in build/deb" test -f "$LINT"
fi
[ -f "$DEB" ] || exit 1
t_eq "package version is the Makefile's VERSION" \
	"$(dpkg-deb -f "$DEB" Version)" "$VER"
deps=$(dpkg-deb -f "$DEB" Depends)
# libssl3 is libssl3t64 from Debian 13 on (the 64-bit time_t transition).
for lib in libc6 'libssl3(t64)?' libjansson4 liblmdb0; do
	t_match "Depends names $lib (shlibs)" "$deps" "(^|, )$lib( |,|$)"
done
t_eq "Recommends" "$(dpkg-deb -f "$DEB" Recommends)" certbot
t_eq "Suggests" "$(dpkg-deb -f "$DEB" Suggests)" "dovecot-core, postfix-lmdb"

# ---- lintian -----------------------------------------------------------------
lintian --pedantic -I --tag-display-limit 0 "$LINT" >"$T/lintian" 2>"$T/lintian.err"
sed 's/^/# lintian: /' "$T/lintian"
nerr=$(grep -c '^E: ' "$T/lintian")
nwarn=$(grep -c '^W: ' "$T/lintian")
t_eq "lintian: no error" "$nerr" 0
t_eq "lintian: no warning" "$nwarn" 0
t_check "lintian ran (no error of its own)" \
	sh -c "! grep -v 'running with root privileges' '$T/lintian.err' | grep -q ."

# ---- leave the machine as found -----------------------------------------------
# The package's paths: "d /etc/snisync", "f /usr/sbin/snisync", ...
dpkg-deb -c "$DEB" | awk '{ t = substr($1, 1, 1); p = $6; sub(/^\./, "", p);
	if (p != "/" && p != "") { sub(/\/$/, "", p); print (t == "d" ? "d" : "f"), p } }' \
	>"$T/paths"
# Whatever sits where the test writes is moved to SAVE (/var/tmp: it
# survives a reboot should the test die without cleaning up) and put back
# at the end; what the test leaves at those paths is removed then.
SAVE=$(mktemp -d /var/tmp/snisync-deb-test.XXXXXX) || exit 1
SAVED=()
OURS=()
save_aside() {
	local p
	for p in "$@"; do
		if [ -e "$p" ] || [ -L "$p" ]; then
			mkdir -p "$SAVE$(dirname "$p")" && mv "$p" "$SAVE$p" ||
				{ t_fail "deb.sh: could not move $p aside"; exit 1; }
			SAVED+=("$p")
			echo "# moved aside: $p"
		fi
		OURS+=("$p")
	done
}
deb_cleanup() {
	local p
	if [ "$(pkg_state)" != not-installed ]; then
		"${APT[@]}" purge snisync </dev/null || dpkg --purge --force-all snisync
	fi
	for p in "${OURS[@]}"; do
		rm -rf "$p"
	done
	for p in "${SAVED[@]}"; do
		mkdir -p "$(dirname "$p")"
		mv "$SAVE$p" "$p" || echo "deb.sh: could not put back $p: it is in $SAVE" >&2
	done
	[ -n "$(find "$SAVE" -type f -print -quit)" ] || rm -rf "$SAVE"
}
t_atexit deb_cleanup
save_aside "$STATE" /etc/snisync "$MAP" "$MAP.lmdb" "$DCF"
# The package's files, and a `make install` man page of the same name
# (man would find it before the package's).
mapfile -t files < <(awk '$1 == "f" { print $2
	if ($2 ~ /\/man\/.*\.gz$/) print substr($2, 1, length($2) - 3) }' "$T/paths")
save_aside "${files[@]}"
# Directories the package brings that were not here (purge removes them).
awk '$1 == "d" { print $2 }' "$T/paths" | while read -r d; do
	[ -d "$d" ] || echo "$d"
done >"$T/newdirs"
# systemd state before: enable links, and all of deb-systemd-helper's.
sysd_links() {
	find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
		-path '*.wants/*snisync*' 2>/dev/null | sort
}
sysd_state() {
	find /etc/systemd/system /var/lib/systemd -name '*snisync*' 2>/dev/null | sort
}
links_before=$(sysd_links)
sysd_before=$(sysd_state)

# ---- install -----------------------------------------------------------------
"${APT[@]}" install "$DEB" </dev/null >"$T/install.out" 2>&1
rc=$?
t_eq "apt-get install ./snisync_${VER}_$ARCH.deb succeeds" "$rc" 0
[ "$rc" = 0 ] || { tail -n 30 "$T/install.out" | sed 's/^/# /'; exit 1; }
t_eq "package is installed" "$(pkg_state)" installed
t_eq "snisync --version" "$(/usr/sbin/snisync --version 2>&1)" "snisync $VER"
# The release's unit directory: /lib/systemd/system on Debian 12,
# /usr/lib/systemd/system from Debian 13 on (packaging/debian/rules).
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' debhelper)" ge 13.11.6; then
	UD=/usr/lib/systemd/system
else
	UD=/lib/systemd/system
fi
t_check "the package's units are in $UD" grep -qx "f $UD/snisync.service" "$T/paths"
for f in /usr/sbin/snisync $UD/snisync.service \
	$UD/snisync-resync.service \
	$UD/snisync-resync.timer \
	/etc/letsencrypt/renewal-hooks/deploy/snisync \
	/etc/letsencrypt/renewal-hooks/post/snisync /etc/snisync/snisync.json; do
	t_check "installed: $f" test -s "$f"
done
t_eq "modes: binary, hooks, configuration" \
	"$(stat -c %a /usr/sbin/snisync /etc/letsencrypt/renewal-hooks/deploy/snisync \
		/etc/letsencrypt/renewal-hooks/post/snisync /etc/snisync/snisync.json | tr '\n' ' ')" "755 755 755 644 "
t_eq "conffiles are the hooks and the configuration" \
	"$(dpkg-query -W -f='${Conffiles}\n' snisync | awk 'NF { print $1 }' | sort | tr '\n' ' ')" \
	"/etc/letsencrypt/renewal-hooks/deploy/snisync /etc/letsencrypt/renewal-hooks/post/snisync /etc/snisync/snisync.json "
t_eq "dpkg --verify: nothing changed" "$(dpkg --verify snisync 2>&1)" ""
t_check "the hook runs the installed binary" \
	grep -q '^SNISYNC=${SNISYNC:-/usr/sbin/snisync}$' /etc/letsencrypt/renewal-hooks/deploy/snisync
t_check "snisync.service runs the installed binary" \
	grep -q '^ExecStart=/usr/sbin/snisync watch$' $UD/snisync.service
t_check "snisync-resync.service runs the installed binary" \
	grep -q '^ExecStart=/usr/sbin/snisync resync$' $UD/snisync-resync.service
t_check "the configuration is comments only (all defaults)" \
	sh -c "! grep -Ev '^[[:space:]]*(#|\$)' /etc/snisync/snisync.json | grep -q ."

# Man pages: dpkg may be told not to install them (path-exclude, e.g. in
# slim images); then the package's own list must hold them.
man_excluded=0
grep -qs '^path-exclude[= ]*/usr/share/man' /etc/dpkg/dpkg.cfg.d/* && man_excluded=1
for m in man8/snisync.8.gz man5/snisync.json.5.gz; do
	if [ "$man_excluded" = 0 ]; then
		t_check "man page installed: /usr/share/man/$m" test -s "/usr/share/man/$m"
	else
		t_check "man page in the package: /usr/share/man/$m (dpkg excludes man pages here)" \
			grep -qx "f /usr/share/man/$m" "$T/paths"
	fi
done
if [ "$man_excluded" = 0 ] && command -v man >/dev/null 2>&1; then
	t_eq "man -w snisync" "$(man -w snisync 2>&1)" /usr/share/man/man8/snisync.8.gz
	t_eq "man -w 5 snisync.json" "$(man -w 5 snisync.json 2>&1)" \
		/usr/share/man/man5/snisync.json.5.gz
	vman=--man=yes
else
	vman=--man=no
fi

# Units: verify (with their Documentation= page when man can find it);
# installed neither enabled nor started.
out=$(systemd-analyze verify "$vman" $UD/snisync.service \
	$UD/snisync-resync.service $UD/snisync-resync.timer 2>&1)
t_eq "systemd-analyze verify $vman on the installed units ($out)" "$?" 0
t_eq "no unit enabled by the installation (no .wants links)" \
	"$(sysd_links)" "$links_before"
if [ -d /run/systemd/system ]; then
	for u in snisync.service snisync-resync.timer; do
		t_eq "$u is not enabled" "$(systemctl is-enabled "$u" 2>&1)" disabled
		t_eq "$u is not running" "$(systemctl is-active "$u" 2>&1)" inactive
	done
else
	echo "# systemd is not running here: enable and start checked by files only"
fi

# ---- the installed binary --------------------------------------------------
/usr/sbin/snisync -c /etc/snisync/snisync.json check >"$T/dc.out" 2>"$T/dc.err"
rc=$?
t_nomatch "the shipped configuration loads (check: exit $rc)" "$rc" '^3$'
t_check "no configuration error" sh -c "! grep -q 'snisync.json' '$T/dc.err'"
/usr/sbin/snisync check >/dev/null 2>"$T/dc2.err"
t_nomatch "without -c it loads too (exit $?)" "$?" '^3$'

LE=$T/le
tree_standard "$LE" "$T/ca" || { t_fail "fixture tree"; exit 1; }
mkdir -p "$T/out"
tree_conf "$T/conf.json" "$LE" "$STATE" "$T/out/tls_sni" "$T/out/99-snisync.conf"
/usr/sbin/snisync -c "$T/conf.json" check >"$T/check.out" 2>"$T/check.err"
t_eq "check on the test tree: exit 1 (rejected lineages)" "$?" 1
for lin in $(printf '%s\n' "${TREE_EXPECT[@]}" | sort -u); do
	t_check "check: $lin ok" grep -Eq "^$lin +ok " "$T/check.out"
done
for lin in "${!TREE_REJECT[@]}"; do
	t_check "check: $lin rejected" grep -Eq "^$lin +rejected " "$T/check.out"
done
t_check "check wrote no state" test ! -e "$STATE"

/usr/sbin/snisync -c "$T/conf.json" resync >"$T/resync.out" 2>"$T/resync.err"
t_eq "resync into $STATE: exit 1 (rejected lineages)" "$?" 1
t_check "resync wrote $STATE/state.lmdb" test -s "$STATE/state.lmdb"
t_check "resync wrote the served files" test -s "$STATE/served/mail.example.test.pem"
t_check "resync wrote the map" test -s "$T/out/tls_sni.lmdb"
# (without $SNISYNC, which tests/run exports: the hook would run that one)
env -u SNISYNC RENEWED_LINEAGE="$LE/live/mail.example.test" SNISYNC_CONFIG="$T/conf.json" \
	/etc/letsencrypt/renewal-hooks/deploy/snisync >"$T/hook.out" 2>"$T/hook.err"
t_eq "the installed deploy hook exits 0" "$?" 0
t_check "the hook synced the lineage" grep -q "live/mail.example.test synced" "$T/hook.err"

# ---- reinstall and upgrade ----------------------------------------------------
"${APT[@]}" install --reinstall "$DEB" </dev/null >"$T/reinstall.out" 2>&1
t_eq "apt-get install --reinstall succeeds" "$?" 0
t_check "reinstall keeps the state" test -s "$STATE/state.lmdb"

echo '# a local change' >>/etc/snisync/snisync.json
mkdir "$T/repack"
dpkg-deb -R "$DEB" "$T/repack/root"
sed -i "s/^Version: .*/Version: $VER+uptest1/" "$T/repack/root/DEBIAN/control"
dpkg-deb --root-owner-group -b "$T/repack/root" "$T/repack/snisync_${VER}+uptest1_$ARCH.deb" >/dev/null
"${APT[@]}" install "$T/repack/snisync_${VER}+uptest1_$ARCH.deb" </dev/null >"$T/upgrade.out" 2>&1
rc=$?
t_eq "upgrade to $VER+uptest1 succeeds" "$rc" 0
[ "$rc" = 0 ] || tail -n 20 "$T/upgrade.out" | sed 's/^/# /'
t_eq "upgraded version" "$(dpkg-query -W -f='${Version}' snisync)" "$VER+uptest1"
t_eq "upgrade keeps the changed conffile" "$(tail -n 1 /etc/snisync/snisync.json)" '# a local change'
t_eq "no .dpkg-* file beside it" "$(ls /etc/snisync)" snisync.json
t_check "upgrade keeps the state" test -s "$STATE/state.lmdb"
/usr/sbin/snisync -c /etc/snisync/snisync.json check >/dev/null 2>&1
t_nomatch "the changed configuration loads (exit $?)" "$?" '^3$'

# ---- purge --------------------------------------------------------------------
# Postfix's answer comes from a stand-in postconf first on the PATH apt
# gives dpkg and so postrm (DPkg::Path): the real main.cf is not touched.
fake_postconf() {	# DIR MAPS
	mkdir -p "$1"
	printf '#!/bin/sh\ncase "$1" in -h) echo "%s" ;; esac\nexit 0\n' "$2" >"$1/postconf"
	chmod 0755 "$1/postconf"
}
DPATH=$(apt-config shell P DPkg::Path | sed -n "s/^P='\\(.*\\)'\$/\\1/p")
DPATH=${DPATH:-/usr/sbin:/usr/bin:/sbin:/bin}
fake_postconf "$T/pf-uses" "lmdb:$MAP"
fake_postconf "$T/pf-unused" ""

# Real outputs at the default paths, written by the installed binary.
have_pf=0 have_dc=0
[ -d /etc/postfix ] && have_pf=1
[ -d /etc/dovecot/conf.d ] && have_dc=1
real_outputs() {
	local pf=null dc=null
	[ "$have_pf" = 1 ] && pf="{\"map\": \"$MAP\", \"reload\": null}"
	[ "$have_dc" = 1 ] && dc="{\"config\": \"$DCF\", \"version\": \"2.3\", \"check\": null, \"reload\": null}"
	printf '{"letsencrypt_dir": "%s", "state_dir": "%s", "postfix": %s, "dovecot": %s}\n' \
		"$LE" "$STATE" "$pf" "$dc" >"$T/real.json"
	/usr/sbin/snisync -c "$T/real.json" resync >/dev/null 2>&1
	[ "$have_pf" = 0 ] || t_check "map written at $MAP" grep -q "^mail.example.test $STATE/served/mail.example.test.pem\$" "$MAP"
	[ "$have_dc" = 0 ] || t_check "include written at $DCF" \
		grep -q '^# Written by snisync for Dovecot 2.3' "$DCF"
}
# Every file of the package is gone, and the directories it brought.
purged() {	# LABEL
	local left
	t_eq "$1: package gone" "$(pkg_state)" not-installed
	left=$(awk '$1 == "f" { print $2 }' "$T/paths" | while read -r f; do
		[ -e "$f" ] || [ -L "$f" ] && echo "$f"; done)
	t_eq "$1: no file of the package is left" "$left" ""
	left=$(while read -r d; do [ -e "$d" ] && echo "$d"; done <"$T/newdirs")
	t_eq "$1: no directory it brought is left" "$left" ""
	t_check "$1: $STATE is gone" test ! -e "$STATE"
	t_check "$1: /etc/snisync is gone" test ! -e /etc/snisync
	t_eq "$1: no systemd enable state is left" "$(sysd_state)" "$sysd_before"
}

real_outputs
"${APT[@]}" -o DPkg::Path="$T/pf-uses:$DPATH" purge snisync </dev/null >"$T/purge1.out" 2>&1
rc=$?
t_eq "purge (Postfix still names the map) succeeds" "$rc" 0
[ "$rc" = 0 ] || tail -n 20 "$T/purge1.out" | sed 's/^/# /'
purged "purge 1"
if [ "$have_pf" = 1 ]; then
	t_eq "purge 1: says why it keeps the map" \
		"$(grep -c "^snisync: keeping $MAP and $MAP.lmdb: " "$T/purge1.out")" 1
	t_check "purge 1: map kept" test -s "$MAP.lmdb" -a -e "$MAP"
fi
[ "$have_dc" = 0 ] || t_check "purge 1: snisync's Dovecot include removed" test ! -e "$DCF"
rm -f "$MAP" "$MAP.lmdb"

# Again, with a map Postfix does not name and an include that is not ours.
"${APT[@]}" install "$DEB" </dev/null >"$T/install2.out" 2>&1
t_eq "install after purge succeeds" "$?" 0
real_outputs
[ "$have_dc" = 0 ] || printf '# hand-written\nlocal_name x.example {\n}\n' >"$DCF"
"${APT[@]}" -o DPkg::Path="$T/pf-unused:$DPATH" purge snisync </dev/null >"$T/purge2.out" 2>&1
rc=$?
t_eq "purge (Postfix does not name the map) succeeds" "$rc" 0
[ "$rc" = 0 ] || tail -n 20 "$T/purge2.out" | sed 's/^/# /'
purged "purge 2"
if [ "$have_pf" = 1 ]; then
	t_check "purge 2: map and map.lmdb removed" test ! -e "$MAP" -a ! -e "$MAP.lmdb"
	t_eq "purge 2: no word about the map" "$(grep -c 'snisync: keeping' "$T/purge2.out")" 0
fi
[ "$have_dc" = 0 ] || t_check "purge 2: a Dovecot include that is not snisync's is kept" \
	grep -q '^# hand-written' "$DCF"
rm -f "$DCF"

# ---- upgrade from 0.1.0: its store becomes served files -----------------------
# 0.1.0 kept each key and chain in state_dir/store/<sha256>.pem. Its package
# is built from the last commit that had that store; it syncs a tree, one
# lineage then breaks (its last good pair is only in the old store) and
# one renews; after the upgrade to this package every applied pair is
# still served, from served/ files, and the old store is gone.
OLD_COMMIT=c0e4e1734be096dcba786d8e42cb77cdc6228edd
UP=$T/up
mkdir -p "$UP/old" "$UP/pf" "$UP/dc" && tree_pfc "$UP/pfc"
if git -C "$T_TOP" archive "$OLD_COMMIT" 2>"$UP/archive.err" | tar -x -C "$UP/old"; then
	make -s -C "$UP/old" deb >"$UP/build.out" 2>"$UP/build.err"
	rc=$?
	OLD_DEB=$UP/old/$(tail -n 1 "$UP/build.out")
	t_eq "upgrade: the 0.1.0 package builds" "$rc" 0
	[ "$rc" = 0 ] || tail -n 20 "$UP/build.err" | sed 's/^/# /'
else
	t_fail "upgrade: the history holds 0.1.0 ($OLD_COMMIT): $(head -1 "$UP/archive.err")"
	OLD_DEB=
fi
if [ -f "$OLD_DEB" ]; then
	t_eq "upgrade: it is version 0.1.0" "$(dpkg-deb -f "$OLD_DEB" Version)" 0.1.0
	"${APT[@]}" install "$OLD_DEB" </dev/null >"$UP/install.out" 2>&1
	t_eq "upgrade: 0.1.0 installs" "$?" 0
	ULE=$UP/le
	certs_leaf "$T/ca" "$UP/a" ec256 up1.example.test www.up1.example.test &&
		lineage_add "$ULE" up1.example.test "$UP/a.key" "$UP/a.crt" "$UP/a.chain" &&
		certs_leaf "$T/ca" "$UP/b" rsa2048 up2.example.test &&
		lineage_add "$ULE" up2.example.test "$UP/b.key" "$UP/b.crt" "$UP/b.chain" &&
		certs_leaf "$T/ca" "$UP/c" ec256 up3.example.test &&
		lineage_add "$ULE" up3.example.test "$UP/c.key" "$UP/c.crt" "$UP/c.chain" ||
		t_fail "upgrade: fixture tree"
	printf '{"letsencrypt_dir": "%s", "state_dir": "%s", "postfix": {"map": "%s", "reload": null}, "dovecot": {"config": "%s", "version": "2.3", "check": null, "reload": null}}\n' \
		"$ULE" "$STATE" "$UP/pf/tls_sni" "$UP/dc/sni.conf" >"$UP/conf.json"
	/usr/sbin/snisync -c "$UP/conf.json" resync >/dev/null 2>"$UP/old.err"
	t_eq "upgrade: 0.1.0 syncs the tree" "$?" 0
	t_eq "upgrade: 0.1.0 filled its store (2 files per lineage)" \
		"$(ls "$STATE/store" 2>/dev/null | grep -c '^[0-9a-f]\{64\}\.pem$')" 6
	postmap -c "$UP/pfc" -s "lmdb:$UP/pf/tls_sni" | sort >"$UP/before.dump"
	# up3 breaks (a key that is not its certificate's), up2 renews
	certs_leaf "$T/ca" "$UP/d" ec256 up3.example.test &&
		lineage_add "$ULE" up3.example.test "$UP/a.key" "$UP/d.crt" "$UP/d.chain" &&
		certs_leaf "$T/ca" "$UP/e" rsa2048 up2.example.test &&
		lineage_add "$ULE" up2.example.test "$UP/e.key" "$UP/e.crt" "$UP/e.chain" ||
		t_fail "upgrade: the break and the renewal"
	"${APT[@]}" install "$DEB" </dev/null >"$UP/upgrade.out" 2>&1
	t_eq "upgrade: 0.1.0 -> $VER succeeds" "$?" 0
	t_eq "upgrade: version $VER installed" "$(dpkg-query -W -f='${Version}' snisync)" "$VER"
	/usr/sbin/snisync -c "$UP/conf.json" resync >/dev/null 2>"$UP/new.err"
	t_eq "upgrade: the first resync exits 1 (up3 rejected)" "$?" 1
	sed 's/^/# /' "$UP/new.err"
	t_check "upgrade: up3's last good pair, from the old store, is still served" \
		cmp -s <(grep '^up3\.example\.test' "$UP/before.dump") \
		<(postmap -c "$UP/pfc" -s "lmdb:$UP/pf/tls_sni" | grep '^up3\.example\.test')
	t_check "upgrade: up3's served file holds that pair (its old key, then its old chain)" \
		cmp -s "$STATE/served/up3.example.test.pem" <(cat "$UP/c.key"; echo; cat "$UP/c.crt" "$UP/c.chain")
	t_check "upgrade: up1 unchanged in the map" \
		cmp -s <(grep 'up1\.example\.test' "$UP/before.dump") \
		<(postmap -c "$UP/pfc" -s "lmdb:$UP/pf/tls_sni" | grep 'up1\.example\.test')
	cmp -s <(postmap -c "$UP/pfc" -F -q up2.example.test "lmdb:$UP/pf/tls_sni") \
		<(tree_expected_value "$ULE" up2.example.test)
	t_eq "upgrade: up2's renewal is served" "$?" 0
	t_eq "upgrade: one served file per lineage" "$(ls "$STATE/served")" \
		"$(printf '%s\n' up1.example.test.pem up2.example.test.pem up3.example.test.pem)"
	t_nomatch "upgrade: the include names no old store file" "$(cat "$UP/dc/sni.conf")" "$STATE/store"
	t_nomatch "upgrade: the map source names no old store file" "$(cat "$UP/pf/tls_sni")" "$STATE/store"
	mkdir -p "$UP/pm" && cp "$UP/pf/tls_sni" "$UP/pm/tls_sni" &&
		postmap -c "$UP/pfc" -F "lmdb:$UP/pm/tls_sni"
	t_check "upgrade: the map is byte-identical to postmap -F of its new source" \
		cmp -s "$UP/pf/tls_sni.lmdb" "$UP/pm/tls_sni.lmdb"
	t_check "upgrade: the old store is removed" test ! -e "$STATE/store"
	t_match "upgrade: and it says so" "$(cat "$UP/new.err")" \
		'store: .*/store removed: every pair is served from served/ now'
	/usr/sbin/snisync -c "$UP/conf.json" resync >/dev/null 2>"$UP/again.err"
	t_match "upgrade: the next resync changes nothing" "$(cat "$UP/again.err")" 'nothing changed'
	"${APT[@]}" purge snisync </dev/null >"$UP/purge.out" 2>&1
	t_eq "upgrade: purge succeeds" "$?" 0
fi

echo "# deb.sh took $(($(date +%s) - start)) s"
t_done
