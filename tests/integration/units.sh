# units.sh - the systemd units verify, stay hardened, and install where
# `make install` says; the deploy hook gets the installed binary's path.
. "$(dirname "$0")/../lib/common.sh"

t_tmpdir T
make -s -C "$T_TOP" DESTDIR="$T/root" PREFIX=/usr install >/dev/null 2>"$T/make.err"
t_eq "make install succeeds" "$?" 0
for f in usr/sbin/snisync usr/share/man/man8/snisync.8 \
	usr/lib/systemd/system/snisync.service \
	usr/lib/systemd/system/snisync-resync.service \
	usr/lib/systemd/system/snisync-resync.timer \
	etc/letsencrypt/renewal-hooks/deploy/snisync \
	etc/letsencrypt/renewal-hooks/post/snisync; do
	t_check "installed: /$f" test -s "$T/root/$f"
done
for h in deploy post; do
	t_check "$h hook is executable" test -x "$T/root/etc/letsencrypt/renewal-hooks/$h/snisync"
	t_check "$h hook calls the installed binary" \
		grep -q '^SNISYNC=${SNISYNC:-/usr/sbin/snisync}$' "$T/root/etc/letsencrypt/renewal-hooks/$h/snisync"
done
t_check "service runs the installed binary" \
	grep -q '^ExecStart=/usr/sbin/snisync watch$' "$T/root/usr/lib/systemd/system/snisync.service"

# Verify against this checkout's binary (ExecStart must exist).
make -s -C "$T_TOP" SBINDIR="$T_TOP" build/units/snisync.service \
	build/units/snisync-resync.service >/dev/null
mkdir -p "$T/u"
cp "$T_TOP/build/units/snisync.service" "$T_TOP/build/units/snisync-resync.service" \
	"$T_TOP/units/snisync-resync.timer" "$T/u/"
rm -f "$T_TOP/build/units/snisync.service" "$T_TOP/build/units/snisync-resync.service"
out=$(systemd-analyze verify --man=no "$T/u/snisync.service" \
	"$T/u/snisync-resync.service" "$T/u/snisync-resync.timer" 2>&1)
t_eq "systemd-analyze verify passes ($out)" "$?" 0
for u in snisync.service snisync-resync.service; do
	score=$(systemd-analyze security --offline=true "$T/u/$u" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "# systemd-analyze security $u: $score"
	t_check "$u exposure level $score is below 3.0" \
		awk -v s="$score" 'BEGIN { exit !(s != "" && s < 3.0) }'
done
for k in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes \
	ProtectSystem=strict PrivateTmp=yes ProtectHome=yes 'ReadWritePaths=/var/lib/snisync'; do
	t_check "snisync.service sets $k" grep -qF "$k" "$T/u/snisync.service"
done
# The loopback probes (verify, the Dovecot confirmation) and `postfix
# reload`'s tools need AF_INET/AF_INET6, postfix's getifaddrs AF_NETLINK;
# the address filter keeps them on the loopback.
for u in snisync.service snisync-resync.service; do
	for k in 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' IPAddressDeny=any \
		IPAddressAllow=localhost; do
		t_check "$u sets $k" grep -qx "$k" "$T/u/$u"
	done
done
t_match "capability set is restricted" \
	"$(grep '^CapabilityBoundingSet=' "$T/u/snisync.service")" '^CapabilityBoundingSet=CAP_'
t_done
