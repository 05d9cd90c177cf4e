# watch_e2e.sh - snisync watch and the deploy hook, end to end with real
# pebble + certbot, real Postfix and real Dovecot on 127.0.0.1:
# a new lineage is served within settle + 2 s; a forced renewal of three
# lineages is served with at most two reloads per service; the latency
# from certbot's last link swap to the reload is printed; the deploy hook
# alone (no daemon) brings a renewal into service; certbot delete removes
# the names while both servers keep serving the rest; SIGHUP with a bad
# config keeps the old one; systemd notifications; SIGTERM exits 0.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/acme.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le			# certbot's --config-dir; live/ does not exist yet
mkdir -p "$LE" "$T/pf" && tree_pfc "$T/pfc"
SETTLE_MS=1000
acme_start "$T/pebble" || { t_fail "pebble starts"; exit 1; }
stack_start "$T" "$T/pf/tls_sni"
stack_conf "$T/conf.json" "$LE" "$T/state" "$T/pf/tls_sni"
sed -i "s/^{/{\"watch\": {\"settle_ms\": $SETTLE_MS}, /" "$T/conf.json"
reloads() { stack_reloads "$@"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { x = $1; if (x == int(x)) print int(x); else printf \"%.2f\\n\", x }"; }
fp_of() { certs_fp "$LE/live/$1/cert.pem"; }

# A systemd-style notification socket, read by a tiny listener.
"$T_TOP/tests/lib/notify-listen" "$T/notify.sock" "$T/notify.log" &
t_atexit "kill $!"
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done

start_daemon() {
	NOTIFY_SOCKET=$T/notify.sock "$SNISYNC" -c "$T/conf.json" watch \
		>>"$T/watch.log" 2>&1 &
	DAEMON=$!
	t_atexit "kill $DAEMON"
}
stop_daemon() {
	kill -TERM "$DAEMON"
	wait "$DAEMON"
}
# served_both NAME FP SECONDS: polls until Postfix and Dovecot both serve FP
# for NAME; prints the seconds it took; fails after SECONDS.
served_both() {
	local t0 end
	t0=$(now)
	end=$(calc "$t0 + $3")
	while :; do
		if [ "$(probe_fp "$PF_PORT" smtp "$1")" = "$2" ] &&
			[ "$(probe_fp "$DC_IMAPS_PORT" tls "$1")" = "$2" ]; then
			calc "$(now) - $t0"
			return 0
		fi
		[ "$(calc "$(now) > $end")" = 1 ] && return 1
		sleep 0.05
	done
}

start_daemon
for _ in $(seq 100); do grep -q '^READY=1' "$T/notify.log" 2>/dev/null && break; sleep 0.1; done
t_check "daemon notifies READY=1 after its first sync" grep -q '^READY=1' "$T/notify.log"
t_check "daemon sends a STATUS= summary" grep -q '^STATUS=0 lineages' "$T/notify.log"
t_check "the map exists before any certificate does" test -f "$T/pf/tls_sni.lmdb"

# --- a new lineage (certbot creates live/ itself) --------------------------
cb "$LE" certonly "${CB_AUTH[@]}" --cert-name one.example.test \
	-d one.example.test -d mx.one.example.test >"$T/cb1.log" 2>&1
t_eq "certbot certonly (first lineage) succeeds" "$?" 0
limit=$(calc "$SETTLE_MS / 1000 + 2")
for name in one.example.test mx.one.example.test; do
	if took=$(served_both "$name" "$(fp_of one.example.test)" "$limit"); then
		t_ok "new lineage: $name served by Postfix and Dovecot ${took}s after certbot exited (limit ${limit}s)"
	else
		t_fail "new lineage: $name not served within ${limit}s"
	fi
done
for lin in two.example.test three.example.test; do
	cb "$LE" certonly "${CB_AUTH[@]}" --key-type rsa --cert-name "$lin" -d "$lin" \
		-d "www.$lin" >"$T/cb-$lin.log" 2>&1
	if took=$(served_both "www.$lin" "$(fp_of "$lin")" "$limit"); then
		t_ok "new lineage $lin served ${took}s after certbot exited"
	else
		t_fail "new lineage $lin not served within ${limit}s"
	fi
done

# --- forced renewal of three lineages ---------------------------------------
pf0=$(reloads "$T/pf.reloads")
dc0=$(reloads "$T/dc.reloads")
declare -A OLD
for lin in one.example.test two.example.test three.example.test; do OLD[$lin]=$(fp_of "$lin"); done
cb "$LE" renew --force-renewal --no-random-sleep-on-renew >"$T/renew.log" 2>&1
t_eq "certbot renew --force-renewal succeeds" "$?" 0
ok=1
for lin in one.example.test two.example.test three.example.test; do
	new=$(fp_of "$lin")
	[ "$new" != "${OLD[$lin]}" ] || { ok=0; echo "# $lin was not renewed"; }
	for name in "$lin" "$( [ "$lin" = one.example.test ] && echo mx.one.example.test || echo "www.$lin")"; do
		served_both "$name" "$new" 10 >/dev/null || { ok=0; echo "# $name: new serial not served"; }
	done
done
[ "$ok" = 1 ] && t_ok "renewal: every name of the 3 lineages serves the new certificate" ||
	t_fail "renewal: every name of the 3 lineages serves the new certificate"
sleep "$(calc "$SETTLE_MS / 1000 * 2")"	# nothing more may come
dpf=$(( $(reloads "$T/pf.reloads") - pf0 ))
ddc=$(( $(reloads "$T/dc.reloads") - dc0 ))
echo "# renewal of 3 lineages: postfix reloaded $dpf time(s), dovecot $ddc time(s)"
t_check "renewal: postfix reloaded at most twice for the batch (got $dpf)" test "$dpf" -ge 1 -a "$dpf" -le 2
t_check "renewal: dovecot reloaded at most twice for the batch (got $ddc)" test "$ddc" -ge 1 -a "$ddc" -le 2
# Latency: the newest live link is certbot's last swap; the reload after it.
last_link=$(stat -c '%.9Z' "$LE"/live/*/fullchain.pem | sort -n | tail -1)
reload_at=$(awk -v t="$last_link" '$1 > t { print $1; exit }' "$T/pf.reloads")
if [ -n "$reload_at" ]; then
	lat=$(calc "int(($reload_at - $last_link) * 1000)")
	echo "# latency from certbot's last symlink event to the postfix reload command: ${lat} ms (settle ${SETTLE_MS} ms; the daemon waits for certbot to exit)"
	t_ok "latency measured: ${lat} ms"
else
	t_fail "no reload after certbot's last symlink swap"
fi
t_nomatch "no error logged during issuance and renewal" "$(cat "$T/watch.log")" 'error:'

# --- hook only, no daemon -------------------------------------------------
stop_daemon
t_eq "SIGTERM: the daemon exits 0" "$?" 0
mkdir -p "$LE/renewal-hooks/deploy"
cat >"$LE/renewal-hooks/deploy/snisync" <<HOOK
#!/bin/sh
SNISYNC=$SNISYNC SNISYNC_CONFIG=$T/conf.json exec $T_TOP/hooks/snisync-deploy
HOOK
chmod +x "$LE/renewal-hooks/deploy/snisync"
old=$(fp_of two.example.test)
cb "$LE" renew --force-renewal --no-random-sleep-on-renew --cert-name two.example.test \
	>"$T/hook.log" 2>&1
t_eq "certbot renew with the deploy hook succeeds" "$?" 0
new=$(fp_of two.example.test)
t_check "the hook run renewed the lineage" test "$old" != "$new"
t_eq "hook only: Postfix serves the new certificate right after certbot" \
	"$(probe_fp "$PF_PORT" smtp www.two.example.test)" "$new"
t_eq "hook only: Dovecot serves the new certificate right after certbot" \
	"$(probe_fp "$DC_IMAPS_PORT" tls www.two.example.test)" "$new"
t_check "hook only: the hook logged through certbot" grep -q 'snisync hook: .*two.example.test synced' "$T/hook.log"
# The hook never fails certbot: with snisync missing it still exits 0.
RENEWED_LINEAGE=$LE/live/two.example.test SNISYNC=/nonexistent \
	sh "$T_TOP/hooks/snisync-deploy" 2>/dev/null
t_eq "the hook exits 0 even when snisync is missing" "$?" 0
# Run again by hand: a no-op (nothing written, nothing reloaded).
pfn=$(reloads "$T/pf.reloads")
RENEWED_LINEAGE=$LE/live/two.example.test SNISYNC=$SNISYNC SNISYNC_CONFIG=$T/conf.json \
	sh "$T_TOP/hooks/snisync-deploy" 2>"$T/hook2.log"
t_check "the hook is a no-op for an applied lineage" grep -q 'nothing changed' "$T/hook2.log"
t_eq "the no-op hook reloaded nothing" "$(reloads "$T/pf.reloads")" "$pfn"
rm "$LE/renewal-hooks/deploy/snisync"

# --- one certbot renew run, the deploy hook and the post hook ---------------
# As installed: the deploy hook defers the reloads when the post hook is
# beside it, and the post hook reloads once at the end of the run. Five
# more lineages, then one run renews all eight: one reload per service.
for i in 1 2 3 4 5; do
	cb "$LE" certonly "${CB_AUTH[@]}" --cert-name "run$i.example.test" \
		-d "run$i.example.test" >"$T/run$i.log" 2>&1 || t_fail "certbot certonly run$i.example.test"
done
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>&1
mkdir -p "$LE/renewal-hooks/deploy" "$LE/renewal-hooks/post"
for h in deploy post; do
	cat >"$LE/renewal-hooks/$h/snisync" <<HOOK
#!/bin/sh
SNISYNC=$SNISYNC SNISYNC_CONFIG=$T/conf.json SNISYNC_POST_HOOK=$LE/renewal-hooks/post/snisync \\
	exec $T_TOP/hooks/snisync-$h
HOOK
	chmod +x "$LE/renewal-hooks/$h/snisync"
done
pf0=$(reloads "$T/pf.reloads") dc0=$(reloads "$T/dc.reloads")
declare -A BEFORE
for l in "$LE"/live/*/; do l=$(basename "$l"); BEFORE[$l]=$(fp_of "$l"); done
cb "$LE" renew --force-renewal --no-random-sleep-on-renew >"$T/run.log" 2>&1
t_eq "certbot renew of ${#BEFORE[@]} lineages with both hooks succeeds" "$?" 0
t_eq "the deploy hook ran for each lineage, deferring the reloads" \
	"$(grep -c 'snisync hook: .* synced' "$T/run.log")" "${#BEFORE[@]}"
t_check "the deploy hook said the reloads wait" grep -q 'reload deferred to the next run' "$T/run.log"
t_check "the post hook ran once and synced" test "$(grep -c 'snisync post hook: synced' "$T/run.log")" = 1
dpf=$(( $(reloads "$T/pf.reloads") - pf0 )) ddc=$(( $(reloads "$T/dc.reloads") - dc0 ))
echo "# one certbot renew run of ${#BEFORE[@]} lineages: postfix reloaded $dpf time(s), dovecot $ddc time(s)"
t_eq "one certbot run of ${#BEFORE[@]} renewals: one reload per service" "$dpf $ddc" "1 1"
bad=''
for l in "${!BEFORE[@]}"; do
	new=$(fp_of "$l")
	[ "$new" != "${BEFORE[$l]}" ] || bad+=" $l(not renewed)"
	[ "$(probe_fp "$PF_PORT" smtp "$l")" = "$new" ] || bad+=" $l(postfix)"
	[ "$(probe_fp "$DC_IMAPS_PORT" tls "$l")" = "$new" ] || bad+=" $l(dovecot)"
done
t_eq "right after certbot: every lineage renewed and served by both" "${bad# }" ""
S_STATUS=$("$SNISYNC" -c "$T/conf.json" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"]
print(s["postfix"]["reload_pending"], s["dovecot"]["reload_pending"])')
t_eq "no reload left pending" "$S_STATUS" "False False"
rm "$LE/renewal-hooks/deploy/snisync" "$LE/renewal-hooks/post/snisync"

# --- certbot delete ---------------------------------------------------------
start_daemon
sleep 0.5
cb "$LE" delete --cert-name three.example.test >"$T/delete.log" 2>&1
t_eq "certbot delete succeeds" "$?" 0
if served_both www.three.example.test "$DEFAULT_FP" "$limit" >/dev/null; then
	t_ok "after delete, the lineage's names get the default certificate"
else
	t_fail "after delete, the lineage's names get the default certificate"
fi
postmap -c "$T/pfc" -F -q three.example.test "lmdb:$T/pf/tls_sni" >/dev/null 2>&1
t_eq "after delete, the name is gone from the map" "$?" 1
t_eq "after delete, Postfix still serves the others" \
	"$(probe_fp "$PF_PORT" smtp one.example.test)" "$(fp_of one.example.test)"
t_eq "after delete, Dovecot still serves the others" \
	"$(probe_fp "$DC_POP3S_PORT" tls www.two.example.test)" "$(fp_of two.example.test)"

# --- SIGHUP: a bad config is refused, the old one kept ----------------------
cp "$T/conf.json" "$T/conf.good"
printf '{"watch": {"settle_ms": "soon"}}\n' >"$T/conf.json"
kill -HUP "$DAEMON"
sleep 1
t_check "SIGHUP with a bad config: refused, old one kept" wait_for 5 grep -q 'configuration refused; keeping the previous one' "$T/watch.log"
t_check "SIGHUP with a bad config: the daemon still runs" kill -0 "$DAEMON"
# READY=1 follows the full sync a SIGHUP runs (which asks postconf and
# doveconf for the default certificates again): wait for it
for _ in $(seq 100); do
	grep -A3 '^RELOADING=1' "$T/notify.log" | grep -q '^READY=1' && break
	sleep 0.1
done
t_check "SIGHUP: RELOADING=1 then READY=1 notified" sh -c "grep -A3 '^RELOADING=1' '$T/notify.log' | grep -q '^READY=1'"
cp "$T/conf.good" "$T/conf.json"
kill -HUP "$DAEMON"
sleep 1
t_check "SIGHUP with a good config: reloaded" wait_for 5 grep -q 'watch: configuration reloaded' "$T/watch.log"
stop_daemon
t_eq "SIGTERM after all that: exit 0" "$?" 0
t_nomatch "no error logged but the refused config" \
	"$(grep 'error:' "$T/watch.log" | grep -v 'conf.json')" 'error:'
t_done
