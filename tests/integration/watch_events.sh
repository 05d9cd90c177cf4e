# watch_events.sh - snisync watch without servers: it starts before live/
# exists, follows live/ being removed and recreated, reports a lineage
# that stays broken only after report_after_s (and not a transient one),
# retries a failed reload with backoff, and does no work while idle.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
mkdir -p "$LE" "$T/pf" "$T/dc" && tree_pfc "$T/pfc"
cat >"$T/reload" <<'SH'
#!/bin/sh
# fails while the flag file exists, then succeeds; logs each call
echo "$(date +%s.%N)" >>"$1.calls"
[ ! -e "$1.fail" ]
SH
chmod +x "$T/reload"
tree_conf "$T/conf.json" "$LE" "$T/state" "$MAP" "$T/dc/sni.conf" \
	postfix_reload="[\"$T/reload\", \"$T/pf\"]"
sed -i 's/^{/{"watch": {"settle_ms": 200, "report_after_s": 2}, /' "$T/conf.json"
q() { postmap -c "$T/pfc" -F -q "$1" "lmdb:$MAP" 2>/dev/null; }
in_map() { q "$1" | grep -q 'BEGIN CERTIFICATE'; }
calls() { [ -f "$T/pf.calls" ] && wc -l <"$T/pf.calls" | tr -d ' ' || echo 0; }

"$SNISYNC" -v -c "$T/conf.json" watch >"$T/watch.log" 2>&1 &
D=$!
t_atexit "kill $D"
wait_for 5 test -f "$MAP.lmdb"
t_check "starts without live/ and writes an empty map" test -f "$MAP.lmdb"

certs_ca "$T/ca"
tree_leaf "$LE" "$T/ca" a.example.test ec256 a.example.test
t_check "live/ created after start: its lineage is synced" wait_for 5 in_map a.example.test

# live/ removed and recreated with other content
rm -rf "$LE/live" "$LE/archive"
t_check "live/ removed: the names go" wait_for 5 sh -c "! postmap -c '$T/pfc' -F -q a.example.test 'lmdb:$MAP' >/dev/null 2>&1"
tree_leaf "$LE" "$T/ca" b.example.test ec256 b.example.test
t_check "live/ recreated: the new lineage is synced" wait_for 5 in_map b.example.test

# A lineage that stays broken is reported once, after report_after_s.
w=$T/w && mkdir -p "$w"
certs_leaf "$T/ca" "$w/c" ec256 c.example.test && certs_leaf "$T/ca" "$w/x" ec256 x.example.test
lineage_add "$LE" c.example.test "$w/x.key" "$w/c.crt" "$w/c.chain"
t0=$(date +%s.%N)
sleep 1
t_eq "a fresh failure is not reported before report_after_s" \
	"$(grep -c 'error: lineage c.example.test' "$T/watch.log")" 0
t_check "a failure that stays is reported after report_after_s" \
	wait_for 6 grep -q 'error: lineage c.example.test: fullchain.pem: private key does not match the certificate' "$T/watch.log"
t_eq "and reported once" "$(grep -c 'error: lineage c.example.test' "$T/watch.log")" 1
# A transient state (privkey swapped, fullchain not yet) is never reported.
tree_leaf "$LE" "$T/ca" d.example.test ec256 d.example.test
wait_for 5 in_map d.example.test
certs_leaf "$T/ca" "$w/d2" ec256 d.example.test
cp "$w/d2.key" "$LE/archive/d.example.test/privkey2.pem"
cp "$w/d2.crt" "$LE/archive/d.example.test/cert2.pem"
cp "$w/d2.chain" "$LE/archive/d.example.test/chain2.pem"
cat "$w/d2.crt" "$w/d2.chain" >"$LE/archive/d.example.test/fullchain2.pem"
ln -sfn ../../archive/d.example.test/privkey2.pem "$LE/live/d.example.test/privkey.pem"
sleep 1	# longer than settle: the daemon looks at the half-swapped lineage
t_check "half-swapped: the daemon looked and waits quietly" \
	grep -q 'debug: lineage d.example.test: not ready yet: privkey.pem: privkey.pem is version 2 but fullchain.pem is version 1' "$T/watch.log"
cmp -s <(q d.example.test) <(cat "$LE/archive/d.example.test/privkey1.pem"; echo; cat "$LE/archive/d.example.test/fullchain1.pem"; echo)
t_eq "half-swapped: the previous pair stays in the map" "$?" 0
ln -sfn ../../archive/d.example.test/fullchain2.pem "$LE/live/d.example.test/fullchain.pem"
{ cat "$w/d2.key"; echo; cat "$w/d2.crt" "$w/d2.chain"; echo; } >"$w/expect"
new_applied() { q d.example.test | cmp -s - "$w/expect"; }
t_check "swap completed: the new pair is applied" wait_for 5 new_applied
sleep 2.5
t_eq "the transient state was never reported" \
	"$(grep -c 'error: lineage d.example.test' "$T/watch.log")" 0
# The same mid-swap state met by a SIGHUP's full resync is not reported
# either (the full resync defers what a swap in progress explains).
certs_leaf "$T/ca" "$w/d3" ec256 d.example.test
cp "$w/d3.key" "$LE/archive/d.example.test/privkey3.pem"
cat "$w/d3.crt" "$w/d3.chain" >"$LE/archive/d.example.test/fullchain3.pem"
ln -sfn ../../archive/d.example.test/privkey3.pem "$LE/live/d.example.test/privkey.pem"
kill -HUP "$D"
sleep 1
t_check "SIGHUP mid-swap: configuration reloaded" wait_for 5 grep -q 'watch: configuration reloaded' "$T/watch.log"
t_eq "SIGHUP mid-swap: no error for the half-swapped lineage" \
	"$(grep -c 'error: lineage d.example.test' "$T/watch.log")" 0
ln -sfn ../../archive/d.example.test/fullchain3.pem "$LE/live/d.example.test/fullchain.pem"
{ cat "$w/d3.key"; echo; cat "$w/d3.crt" "$w/d3.chain"; echo; } >"$w/expect"
t_check "SIGHUP mid-swap: the completed swap is applied" wait_for 5 new_applied

# A new lineage met while its fullchain.pem holds the leaf but not yet
# its issuers waits quietly; it is applied whole once the write ends.
certs_leaf "$T/ca" "$w/g" ec256 g.example.test
mkdir -p "$LE/live/g.example.test" "$LE/archive/g.example.test"
for k in cert chain fullchain privkey; do
	ln -s "../../archive/g.example.test/${k}1.pem" "$LE/live/g.example.test/$k.pem"
done
cp "$w/g.crt" "$LE/archive/g.example.test/cert1.pem"
cp "$w/g.key" "$LE/archive/g.example.test/privkey1.pem"
cp "$w/g.chain" "$LE/archive/g.example.test/chain1.pem"
cp "$w/g.crt" "$LE/archive/g.example.test/fullchain1.pem"
t_check "leaf-only fullchain.pem: the daemon looked and waits quietly" \
	wait_for 5 grep -q 'debug: lineage g.example.test: not ready yet: fullchain.pem: holds only the leaf certificate' "$T/watch.log"
t_check "leaf-only fullchain.pem: not served without its chain" sh -c "! postmap -c '$T/pfc' -F -q g.example.test 'lmdb:$MAP' >/dev/null 2>&1"
reloads() { grep -c ': postfix: reloaded' "$T/watch.log"; }
r0=$(reloads)
cat "$w/g.chain" >>"$LE/archive/g.example.test/fullchain1.pem"
g_whole() { [ "$(q g.example.test | grep -c 'BEGIN CERTIFICATE')" = 2 ]; }
t_check "fullchain.pem completed: served with its issuer" wait_for 5 g_whole
# The map is written before the reload: let g's reload run before the
# next step makes reloads fail.
reloaded_g() { [ "$(reloads)" -gt "$r0" ]; }
t_check "fullchain.pem completed: Postfix reloaded" wait_for 5 reloaded_g
t_eq "the unfinished fullchain.pem was never reported" \
	"$(grep -c 'error: lineage g.example.test' "$T/watch.log")" 0

# A failing reload is retried with backoff until it works.
touch "$T/pf.fail"
n0=$(calls)
tree_leaf "$LE" "$T/ca" e.example.test ec256 e.example.test
t_check "failing reload reported" wait_for 5 grep -q 'postfix: reload failed' "$T/watch.log"
t_check "failing reload: retry scheduled with backoff" wait_for 5 grep -q 'watch: will try again in 5 s' "$T/watch.log"
rm "$T/pf.fail"
if wait_for 20 grep -q 'postfix: reloaded (was pending)' "$T/watch.log"; then
	t_ok "the reload is retried and succeeds"
else
	t_fail "the reload is retried and succeeds"
	# what the daemon did instead, for the record
	sed -n '/will try again/,$p' "$T/watch.log" | grep -v ': debug: lineage' |
		head -n 30 | sed 's/^/# /'
fi
t_eq "reload attempts: the failed one and its retry" "$(( $(calls) - n0 ))" 2
t_check "the daemon is still running" kill -0 "$D"

# Reload rate limit: with reload_min_interval_s 3, a change a second after
# a reload is written at once, its reload held until 3 s have passed.
kill -TERM "$D"
wait "$D"
sed 's/"report_after_s": 2}/"report_after_s": 2, "reload_min_interval_s": 3}/' "$T/conf.json" >"$T/rate.json"
"$SNISYNC" -c "$T/rate.json" watch >"$T/rate.log" 2>&1 &
D=$!
t_atexit "kill $D"
sleep 1
n0=$(calls)
tree_leaf "$LE" "$T/ca" r1.example.test ec256 r1.example.test
t_check "rate limit: the first change is reloaded at once" wait_for 3 sh -c "[ \$(wc -l <'$T/pf.calls') -gt $n0 ]"
t1=$(tail -1 "$T/pf.calls")
tree_leaf "$LE" "$T/ca" r2.example.test ec256 r2.example.test
t_check "rate limit: the second change is in the map at once" wait_for 2 in_map r2.example.test
t_eq "rate limit: its reload is held" "$(( $(calls) - n0 ))" 1
t_check "rate limit: held reload announced" wait_for 3 grep -q 'reload held back' "$T/rate.log"
t_check "rate limit: the held reload runs later" wait_for 5 sh -c "[ \$(wc -l <'$T/pf.calls') -gt $((n0 + 1)) ]"
t2=$(tail -1 "$T/pf.calls")
t_check "rate limit: the two reloads are at least 3 s apart ($t1 -> $t2)" \
	awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 2.95) }'

# Idle: one blocking wait, no wakeups.
sleep 0.5
cs() { awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ { s += $2 } END { print s }' "/proc/$D/status"; }
before=$(cs)
sleep 3
t_eq "idle for 3 s: no wakeups (context switches)" "$(( $(cs) - before ))" 0
kill -TERM "$D"
wait "$D"
t_eq "SIGTERM: exit 0" "$?" 0

# Expiry warning on the full sync (a quarter of each certificate's own
# lifetime left), and the systemd watchdog when asked for. Lifetimes as
# Let's Encrypt's profiles issue them: 160 hours (shortlived) and 45 days
# (tlsserver), notAfter a second short of the lifetime.
utc() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
now=$(date +%s)
# A 160-hour certificate issued 130 hours ago: 30 hours left, under 40.
CERT_START=$(utc $((now - 130 * 3600))) CERT_END=$(utc $((now + 30 * 3600 - 1))) \
	tree_leaf "$LE" "$T/ca" soon.example.test ec256 soon.example.test
# A fresh 160-hour certificate, and a 45-day one with 13 days left
# (certbot 4 renews it at 15): neither is due.
CERT_START=$(utc $((now - 3600))) CERT_END=$(utc $((now + 159 * 3600 - 1))) \
	tree_leaf "$LE" "$T/ca" fresh.example.test ec256 fresh.example.test
CERT_START=$(utc $((now - 32 * 86400))) CERT_END=$(utc $((now + 13 * 86400 - 1))) \
	tree_leaf "$LE" "$T/ca" tls45.example.test ec256 tls45.example.test
"$T_TOP/tests/lib/notify-listen" "$T/notify.sock" "$T/notify.log" &
t_atexit "kill $!"
wait_for 5 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 \
	"$SNISYNC" -c "$T/conf.json" watch >"$T/watch2.log" 2>&1 &
D=$!
t_atexit "kill $D"
wait_for 30 grep -q '^READY=1' "$T/notify.log"
n0=$(grep -c '^WATCHDOG=1' "$T/notify.log")
sleep 1.2
n=$(( $(grep -c '^WATCHDOG=1' "$T/notify.log") - n0 ))
kill -TERM "$D"
wait "$D"
t_check "a 160-hour certificate with 30 hours left is warned about, with its rule" \
	grep -Eq 'warning: lineage soon.example.test: certificate expires in (29|30) hours \(.*\): less than a quarter of its 160-hour lifetime is left; is certbot renewing it\?' "$T/watch2.log"
t_nomatch "a fresh 160-hour certificate, and a 45-day one with 13 days left, are not warned about" \
	"$(grep -E 'lineage (fresh|tls45)\.example\.test: certificate expires' "$T/watch2.log")" .
t_check "WATCHDOG_USEC=200000: watchdog pings every 100 ms ($n in 1.2 s)" test "$n" -ge 5
t_check "STOPPING=1 notified on SIGTERM" grep -q '^STOPPING=1' "$T/notify.log"
t_done
