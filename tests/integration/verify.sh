# verify.sh - `snisync verify` against a real Postfix and Dovecot: every
# name is served as applied on SMTP STARTTLS, IMAP STARTTLS, IMAPS, POP3
# STARTTLS and POP3S; after a renewal written but not reloaded into
# Dovecot ("renewed on disk, old certificate still served") it reports
# each stale name on each Dovecot endpoint and exits 1, and is clean
# again after the reload; endpoints that do not listen are skipped.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
mkdir -p "$T/pf"
certs_ca "$T/ca" >/dev/null 2>&1
tree_leaf "$LE" "$T/ca" mail.example.test ec256 mail.example.test imap.example.test >/dev/null 2>&1
tree_leaf "$LE" "$T/ca" rsa.example.test rsa2048 rsa.example.test >/dev/null 2>&1
tree_leaf "$LE" "$T/ca" example.test ec256 '*.example.test' >/dev/null 2>&1
stack_start "$T" "$MAP"
stack_conf "$T/base.json" "$LE" "$T/state" "$MAP"
closed=$(t_free_port)
ENDPOINTS="\"smtp:$PF_PORT\", \"imap:$DC_IMAP_PORT\", \"tls:$DC_IMAPS_PORT\", \"pop3:$DC_POP3_PORT\", \"tls:$DC_POP3S_PORT\", \"tls:$closed\""
sed "s|^{|{\"verify\": {\"endpoints\": [$ENDPOINTS], \"timeout_ms\": 5000},|" "$T/base.json" >"$T/c.json"
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
S resync >/dev/null 2>&1
t_eq "resync: exit 0" "$?" 0
sleep 0.5

out=$(S verify 2>&1)
t_eq "verify after a resync: exit 0" "$?" 0
t_match "verify: 4 names on 5 listening endpoints (the closed one skipped), all as applied" \
	"$out" '^verify: 4 names on 5 endpoints listening on 127\.0\.0\.1: 20 served as applied, 0 mismatches, 0 errors$'

# Renewed and written, but Dovecot not reloaded: the old certificate is
# still what Dovecot presents.
sed 's|"reload": \["[^]]*doveadm[^]]*\]|"reload": null|' "$T/c.json" >"$T/noreload.json"
grep -q '"reload": null' "$T/noreload.json" || t_fail "config without the Dovecot reload"
tree_leaf "$LE" "$T/ca" mail.example.test ec256 mail.example.test imap.example.test >/dev/null 2>&1
"$SNISYNC" -c "$T/noreload.json" resync >/dev/null 2>&1
sleep 0.5
out=$(S verify 2>&1)
t_eq "renewed, Dovecot not reloaded: exit 1" "$?" 1
t_eq "each renewed name on each Dovecot endpoint is a mismatch" \
	"$(printf '%s\n' "$out" | grep -c '^MISMATCH ')" 8
t_match "a mismatch line names the endpoint, the fingerprints and the lineage" \
	"$(printf '%s\n' "$out" | grep '^MISMATCH imap\.example\.test on tls:' | head -1)" \
	"^MISMATCH imap\\.example\\.test on tls:[0-9]+: serves [0-9A-F:]{95}; snisync applied $(certs_fp "$LE/live/mail.example.test/cert.pem") \\(lineage mail\\.example\\.test, serial [0-9A-F]+\\)\$"
t_nomatch "Postfix picked the new map up by itself: no SMTP mismatch" "$out" "^MISMATCH .* on smtp:"
t_nomatch "the names not renewed are fine" "$out" '^MISMATCH (rsa|\*)'
out=$(S verify rsa.example.test 2>&1)
t_eq "verify of one unchanged name: exit 0" "$?" 0
t_match "verify of one name: 1 name" "$out" '^verify: 1 names on 5 endpoints'
doveadm -c "$DC_CONF" reload >/dev/null 2>&1
sleep 1
out=$(S verify 2>&1)
t_eq "after the reload: exit 0" "$?" 0
t_match "after the reload: no mismatch" "$out" ' 20 served as applied, 0 mismatches, 0 errors$'

out=$(S verify nope.example.test 2>&1)
t_eq "a name not served: exit 1" "$?" 1
t_match "a name not served: says so" "$out" 'error: nope\.example\.test: not a name snisync serves'
sed "s|^{|{\"verify\": {\"endpoints\": [\"tls:$closed\"]},|" "$T/base.json" >"$T/closed.json"
"$SNISYNC" -c "$T/closed.json" verify >/dev/null 2>&1
t_eq "nothing listening: exit 4" "$?" 4
printf '{"verify": {"endpoints": ["smtps:465"]}}' >"$T/bad.json"
out=$("$SNISYNC" -c "$T/bad.json" verify 2>&1)
t_eq "an unknown protocol: exit 3" "$?" 3
t_match "an unknown protocol: where and why" "$out" '"verify\.endpoints\[0\]": protocol must be tls, smtp, imap or pop3'

# --- servers that misbehave: bounded, one error line each -----------------
junk=$(t_free_port)
python3 - "$junk" 2>/dev/null <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
def serve(c, i):
    try:
        if i % 3 == 0:
            while True: c.sendall(b"220-endless\r\n")     # a reply that never ends
        elif i % 3 == 1:
            while True: c.sendall(b"x" * 4096)             # no line at all
        else:
            c.recv(1)                                       # silence
    except OSError:
        pass
i = 0
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c, i), daemon=True).start(); i += 1
PY
jpid=$!
t_atexit "kill $jpid"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$junk) 2>/dev/null && break; sleep 0.1; done
sed "s|^{|{\"verify\": {\"endpoints\": [\"smtp:$junk\"], \"timeout_ms\": 1000},|" "$T/base.json" >"$T/junk.json"
t0=$(date +%s)
out=$("$SNISYNC" -c "$T/junk.json" verify mail.example.test rsa.example.test '*.example.test' 2>&1)
rc=$?
t1=$(date +%s)
t_eq "a server that floods or stays silent: exit 1" "$rc" 1
t_eq "... one error line per probe" "$(printf '%s\n' "$out" | grep -c "^error .* on smtp:$junk: smtp: no STARTTLS$")" 3
t_check "... within the time allowed ($((t1 - t0)) s for three probes of 1 s)" test $((t1 - t0)) -le 6
kill "$jpid" 2>/dev/null; wait "$jpid" 2>/dev/null

# --- the daemon verifies after each reload (verify.after_reload) ---------
# A Dovecot "reload" that does nothing: the daemon must notice that the
# renewed names are still served the old certificate.
sed -e 's|"verify": {|"verify": {"after_reload": true, |' \
	-e 's|^{|{"watch": {"settle_ms": 200, "settle_max_ms": 2000}, |' "$T/noreload.json" |
	sed "s|\"dovecot\": {\\(.*\\)\"reload\": null|\"dovecot\": {\\1\"reload\": [\"/bin/true\"]|" >"$T/watch-fake.json"
grep -q '"after_reload": true' "$T/watch-fake.json" || t_fail "daemon config with after_reload"
"$SNISYNC" -c "$T/watch-fake.json" watch 2>"$T/watch1.log" &
wpid=$!
t_atexit "kill $wpid"
for _ in $(seq 100); do grep -q 'watch: watching' "$T/watch1.log" && break; sleep 0.1; done
sleep 0.5
tree_leaf "$LE" "$T/ca" rsa.example.test rsa2048 rsa.example.test >/dev/null 2>&1
for _ in $(seq 150); do grep -q 'verify: rsa\.example\.test' "$T/watch1.log" && break; sleep 0.1; done
kill "$wpid"; wait "$wpid" 2>/dev/null
t_match "after a reload that did not take: the daemon logs each stale name and port" \
	"$(grep 'error: verify: ' "$T/watch1.log" | head -1)" \
	'error: verify: rsa\.example\.test on (tls|imap|pop3):[0-9]+ still presents [0-9A-F:]{95}, not the certificate applied \(lineage rsa\.example\.test, serial [0-9A-F]+\)$'
t_eq "... on each of the four Dovecot endpoints, after one retry" \
	"$(grep -c 'error: verify: rsa\.example\.test on ' "$T/watch1.log")" 4
t_nomatch "... and not for Postfix, which serves the new map" "$(cat "$T/watch1.log")" 'verify: rsa\.example\.test on smtp:'
doveadm -c "$DC_CONF" reload >/dev/null 2>&1
sleep 1
# Real reloads: the daemon says all is well.
sed -e 's|"verify": {|"verify": {"after_reload": true, |' \
	-e 's|^{|{"watch": {"settle_ms": 200, "settle_max_ms": 2000}, |' "$T/c.json" >"$T/watch-real.json"
"$SNISYNC" -c "$T/watch-real.json" watch 2>"$T/watch2.log" &
wpid=$!
t_atexit "kill $wpid"
for _ in $(seq 100); do grep -q 'watch: watching' "$T/watch2.log" && break; sleep 0.1; done
sleep 0.5
tree_leaf "$LE" "$T/ca" rsa.example.test rsa2048 rsa.example.test >/dev/null 2>&1
for _ in $(seq 150); do grep -q 'verify: 1 names' "$T/watch2.log" && break; sleep 0.1; done
kill "$wpid"; wait "$wpid" 2>/dev/null
t_match "after a real reload: the renewed lineage's names verified" "$(cat "$T/watch2.log")" \
	'^snisync: verify: 1 names on 5 endpoints: served as applied$'
t_nomatch "after a real reload: no verify error" "$(cat "$T/watch2.log")" 'error: verify'

t_done
