# status_metrics.sh - `snisync status` (table and --json) and the
# Prometheus textfile: every figure is checked against the tree it was
# made from (openssl's notAfter, the lineage that wins a name, the reload
# commands actually run), through renewals, failures, recoveries and a
# running daemon; the file must pass `promtool check metrics`. Also the
# log format: plain lines on a terminal or pipe, syslog priority prefixes
# when standard error is the journal (JOURNAL_STREAM), debug only with -v.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
CR=$T_TOP/tests/lib/count-run
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
declare -A TREE_EXPECT TREE_REJECT
tree_standard "$LE" "$CA" >/dev/null 2>&1 || { t_fail "make the tree"; exit 1; }
mkdir -p "$T/pf" "$T/dc" "$T/metrics"
M=$T/metrics/snisync.prom

# conf FILE [EXTRA JSON MEMBERS]: outputs in $T, reloads counted.
conf() {
	cat >"$1" <<-EOF
	# test configuration
	{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
	 "metrics_file": "$M",
	 "postfix": {"map": "$T/pf/sni", "reload": ["$CR", "$T/pf.reloads", "${PF_RELOAD:-/bin/true}"]},
	 "dovecot": {"config": "$T/dc/sni.conf", "version": "2.3", "check": null,
	             "reload": ["$CR", "$T/dc.reloads", "/bin/true"]}${2:+, $2}}
	EOF
}
conf "$T/c.json"
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
# js EXPR: evaluates a Python expression over the status JSON (as j).
js() { S status --json 2>/dev/null | $PY -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
# metric NAME LABELS: the sample value ("" when absent).
metric() { awk -v m="$1$2" '$1 == m { print $2 }' "$M"; }
notafter() { date -u -d "$(openssl x509 -noout -enddate -in "$LE/live/$1/cert.pem" | cut -d= -f2)" +%s; }
count() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

# --- before any sync ------------------------------------------------------
out=$(S status 2>&1)
t_eq "status before any sync: exit 0" "$?" 0
t_match "status before any sync says so" "$out" "no state yet.*snisync resync"
t_eq "status --json before any sync: no names, last_sync null" \
	"$(js '(len(j["names"]), j["last_sync"], j["schema"])')" "(0, None, 1)"

# --- first sync -----------------------------------------------------------
t0=$(date +%s)
S resync >/dev/null 2>&1
t_eq "resync of the standard tree: exit 1 (rejected lineages)" "$?" 1
t1=$(date +%s)
S status >"$T/status.txt" 2>&1
t_eq "status with failing lineages: exit 1" "$?" 1
t_match "status table has its header" "$(head -3 "$T/status.txt")" \
	'NAME +LINEAGE +KEY +EXPIRES +SERVED SINCE +KEY SINCE +LAST ERROR'
bad=0
for name in "${!TREE_EXPECT[@]}"; do
	lin=${TREE_EXPECT[$name]}
	shown=$name
	[ "${name#.}" != "$name" ] && shown="*$name"
	grep -Eq "^$(printf '%s' "$shown" | sed 's/[.*]/\\&/g') +$lin +" "$T/status.txt" || {
		bad=$((bad + 1)); echo "# table: no row $shown -> $lin" >&2; }
	want=$(notafter "$lin")
	got=$(js "[n['not_after'] for n in j['names'] if n['name'] == '$shown']")
	wantiso=$(date -u -d "@$want" +%Y-%m-%dT%H:%M:%SZ)
	[ "$got" = "['$wantiso']" ] || { bad=$((bad + 1)); echo "# json: $shown not_after $got, want $wantiso" >&2; }
	[ "$(metric snisync_certificate_expiry_timestamp_seconds "{name=\"$shown\",lineage=\"$lin\"}")" = "$want" ] ||
		{ bad=$((bad + 1)); echo "# metrics: $shown expiry wrong" >&2; }
done
t_eq "every served name: table row, JSON notAfter and metric match the lineage's certificate (${#TREE_EXPECT[@]} names)" "$bad" 0
t_eq "status --json lists exactly the served names" \
	"$(js 'len(j["names"])')" "${#TREE_EXPECT[@]}"
t_eq "key types as served" \
	"$(js "sorted(set((n['lineage'], n['key_type']) for n in j['names'] if n['lineage'] in ('mail.example.test', 'ed.example.test', 'example.test')))")" \
	"[('ed.example.test', 'Ed25519'), ('example.test', 'ECDSA P-384'), ('mail.example.test', 'RSA 2048')]"
days=$(js "[n['expires_in_days'] for n in j['names'] if n['name'] == 'ec.example.test'][0]")
want=$(( ($(notafter ec.example.test) - $(date +%s)) / 86400 ))
t_eq "expires_in_days is whole days to notAfter" "$days" "$want"
since=$(js "[n['served_since'] for n in j['names'] if n['name'] == 'ec.example.test'][0]")
s=$(date -u -d "$since" +%s)
t_check "served_since is the time of the sync ($since)" test "$s" -ge "$t0" -a "$s" -le "$t1"
t_eq "errors: exactly the rejected lineages" \
	"$(js "sorted(e['lineage'] for e in j['errors'])")" \
	"$($PY -c "print(sorted('''${!TREE_REJECT[*]}'''.split()))")"
t_eq "error of the mismatched lineage with its file" \
	"$(js "[(e['file'], e['error']) for e in j['errors'] if e['lineage'] == 'mismatch.example.test']")" \
	"[('fullchain.pem', 'private key does not match the certificate')]"
t_match "a failing lineage that serves nothing is listed under the table" \
	"$(cat "$T/status.txt")" '^lineage mismatch\.example\.test: serves nothing: fullchain\.pem: private key does not match'
t_eq "last_sync set, last_success null (a lineage was rejected)" \
	"$(js '(j["last_sync"] is not None, j["last_success"])')" "(True, None)"
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
t_eq "last_applied: every valid lineage was applied at the last sync (the stamp time)" \
	"$(js 'j["last_applied"]')" "$(iso "$(stat -c %Y "$T/state/last-applied")")"
t_eq "rejected_since: the oldest error's since" \
	"$(js 'j["rejected_since"] == min(e["since"] for e in j["errors"])')" "True"
t_match "table: when every valid lineage was last applied, not 'never'" \
	"$(head -n 1 "$T/status.txt")" '^last sync: .*; every valid lineage applied: [0-9]{4}-'
t_match "table: since when lineages are rejected, and that no sync was clean" \
	"$(sed -n 2p "$T/status.txt")" "^rejected: ${#TREE_REJECT[@]} lineages, since [0-9]{4}-.*; last sync with nothing rejected: never\$"
t_eq "services: one reload each, none failed, none pending" \
	"$(js "[(k, v['reloads'], v['reload_failures'], v['reload_pending'], v['enabled']) for k, v in sorted(j['services'].items())]")" \
	"[('dovecot', 1, 0, False, True), ('postfix', 1, 0, False, True)]"
t_eq "JSON keys are the documented schema" \
	"$(js "(sorted(j), sorted(j['names'][0]), sorted(j['errors'][0]), sorted(j['services']['postfix']))")" \
	"(['errors', 'generated_at', 'last_applied', 'last_success', 'last_sync', 'names', 'rejected_since', 'schema', 'services'], ['alt', 'expires_in_days', 'expiry_warning', 'key_held', 'key_since', 'key_type', 'last_error', 'lineage', 'name', 'not_after', 'not_before', 'served_since'], ['error', 'file', 'lineage', 'since'], ['enabled', 'last_reload', 'reload_failures', 'reload_pending', 'reloads'])"

# --- the metrics file -----------------------------------------------------
if command -v promtool >/dev/null; then
	pt=$(promtool check metrics <"$M" 2>&1)
	t_eq "promtool check metrics: no complaint" "$?:$pt" "0:"
else
	t_fail "promtool is not installed (packaging/deps.sh test installs prometheus)"
fi
t_eq "metrics file is 0644" "$(stat -c %a "$M")" 644
t_eq "metrics: each rejected lineage has snisync_lineage_error 1" \
	"$(grep -c '^snisync_lineage_error{' "$M")/$(metric snisync_lineage_error '{lineage="order.example.test"}')" \
	"${#TREE_REJECT[@]}/1"
t_eq "metrics: errors_total 1 for a lineage that started failing" \
	"$(metric snisync_lineage_errors_total '{lineage="mismatch.example.test"}')" 1
t_eq "metrics: reloads_total per service" \
	"$(metric snisync_reloads_total '{service="postfix"}') $(metric snisync_reloads_total '{service="dovecot"}')" "1 1"
t_eq "metrics: last sync is the stamp time, last success 0" \
	"$(metric snisync_last_sync_timestamp_seconds '') $(metric snisync_last_success_timestamp_seconds '')" \
	"$(stat -c %Y "$T/state/last-sync") 0"

# --- nothing changed ------------------------------------------------------
st_m=$(stat -c %Y.%i "$T/state/state.lmdb")
sleep 1.1
S resync >/dev/null 2>&1
t_eq "second resync leaves the state database alone (same mtime and inode)" \
	"$(stat -c %Y.%i "$T/state/state.lmdb")" "$st_m"
t_eq "served_since unchanged when nothing changed" \
	"$(js "[n['served_since'] for n in j['names'] if n['name'] == 'ec.example.test'][0]")" "$since"
t_eq "errors_total unchanged while a lineage fails the same way" \
	"$(metric snisync_lineage_errors_total '{lineage="mismatch.example.test"}')" 1
t_check "last sync advanced" test "$(metric snisync_last_sync_timestamp_seconds '')" -gt "$s"
t_eq "no reload when nothing changed" "$(count "$T/pf.reloads")" 1

# --- renewals: a kept key, then a new key ----------------------------------
t_eq "first issuance: key_since is served_since" \
	"$(js "[n['key_since'] for n in j['names'] if n['name'] == 'pop.example.test'][0]")" "$since"
sleep 1.1
CERT_REUSE_KEY=$LE/live/ec.example.test/privkey.pem \
	tree_leaf "$LE" "$CA" ec.example.test ec256 ec.example.test pop.example.test
err=$(S resync 2>&1 >/dev/null)
t_nomatch "renewal keeping its key: no new-key warning" "$err" 'served with a new key'
t_eq "renewal keeping its key: key_since kept" \
	"$(js "[n['key_since'] for n in j['names'] if n['name'] == 'pop.example.test'][0]")" "$since"
t_check "renewal keeping its key: served_since moved" test \
	"$(js "[n['served_since'] for n in j['names'] if n['name'] == 'pop.example.test'][0]")" != "$since"
sleep 1.1
tree_leaf "$LE" "$CA" ec.example.test ec256 ec.example.test pop.example.test
err=$(S resync 2>&1 >/dev/null)
# No dane.hold_key_change here: a notice, not a warning (a new key at
# each renewal is certbot's default).
t_match "renewal with a new key: one DANE notice for the lineage, naming its names" \
	"$(printf '%s\n' "$err" | grep -c 'served with a new key')/$(printf '%s\n' "$err" | grep 'served with a new key')" \
	'^1/snisync: lineage ec\.example\.test: served with a new key for ec\.example\.test and 1 more: DANE TLSA 3 1 1 records that pin the old key no longer match'
since2=$(js "[n['served_since'] for n in j['names'] if n['name'] == 'pop.example.test'][0]")
t_eq "renewal with a new key: key_since moves with it" \
	"$(js "[n['key_since'] for n in j['names'] if n['name'] == 'pop.example.test'][0]")" "$since2"
t_eq "metrics: key served since = key_since" \
	"$(metric snisync_key_served_since_timestamp_seconds '{name="pop.example.test",lineage="ec.example.test"}')" \
	"$(date -u -d "$since2" +%s)"
t_match "status table: KEY SINCE column" "$(S status 2>/dev/null | grep '^pop\.example\.test ')" \
	"ECDSA P-256 .* $(printf '%.10s' "$since2") +-\$"
t_check "renewed lineage: served_since moves ($since -> $since2)" test "$since2" != "$since"
t_eq "other lineages keep their served_since" \
	"$(js "[n['served_since'] for n in j['names'] if n['name'] == 'ed.example.test'][0]")" "$since"
t_eq "renewed lineage: new notAfter in the metrics" \
	"$(metric snisync_certificate_expiry_timestamp_seconds '{name="pop.example.test",lineage="ec.example.test"}')" \
	"$(notafter ec.example.test)"
t_eq "reload counts follow the reloads run" \
	"$(js "j['services']['postfix']['reloads']"):$(metric snisync_reloads_total '{service="postfix"}')" \
	"$(count "$T/pf.reloads"):$(count "$T/pf.reloads")"

# --- a lineage breaks, keeps its last good pair, recovers -----------------
W=$T/w
mkdir -p "$W"
certs_leaf "$CA" "$W/x" ec256 ed.example.test >/dev/null 2>&1
cp "$LE/live/ed.example.test/privkey.pem" "$W/ed.key"
certs_leaf "$CA" "$W/y" ec256 other.example.test >/dev/null 2>&1
lineage_add "$LE" ed.example.test "$W/y.key" "$W/x.crt" "$W/x.chain"
S resync >/dev/null 2>&1
t_eq "broken renewal: last good pair still served, with the error" \
	"$(js "[(n['lineage'], n['last_error']) for n in j['names'] if n['name'] == 'ed.example.test']")" \
	"[('ed.example.test', 'private key does not match the certificate')]"
S status >"$T/status2.txt" 2>&1
t_match "table shows the error on the name's row" "$(grep '^ed\.example\.test ' "$T/status2.txt")" \
	'Ed25519 .*private key does not match the certificate$'
t_eq "metrics: lineage_error 1 and errors_total 1" \
	"$(metric snisync_lineage_error '{lineage="ed.example.test"}') $(metric snisync_lineage_errors_total '{lineage="ed.example.test"}')" "1 1"
lineage_add "$LE" ed.example.test "$W/x.key" "$W/x.crt" "$W/x.chain"
S resync >/dev/null 2>&1
t_eq "recovered: no error on its name" \
	"$(js "[(n['key_type'], n['last_error']) for n in j['names'] if n['name'] == 'ed.example.test']")" \
	"[('ECDSA P-256', None)]"
t_eq "recovered: lineage_error gone, errors_total kept (a counter)" \
	"$(metric snisync_lineage_error '{lineage="ed.example.test"}')/$(metric snisync_lineage_errors_total '{lineage="ed.example.test"}')" "/1"

# --- a clean tree: success, and the expiry warning ------------------------
for l in "${!TREE_REJECT[@]}"; do lineage_delete "$LE" "$l" >/dev/null 2>&1; done
S resync >/dev/null 2>&1
t_eq "clean tree: resync exit 0" "$?" 0
S status >/dev/null 2>&1
t_eq "clean tree: status exit 0" "$?" 0
t_eq "last_success set; no errors left" \
	"$(js '(j["last_success"] is not None, j["errors"])')" "(True, [])"
t_eq "clean tree: rejected_since null, last_applied is last_success" \
	"$(js '(j["rejected_since"], j["last_applied"] == j["last_success"])')" "(None, True)"
t_match "clean tree: the table says nothing is rejected" \
	"$(S status 2>/dev/null | sed -n 2p)" '^nothing rejected; last success: [0-9]{4}-'
t_eq "metrics: last success is the stamp time" \
	"$(metric snisync_last_success_timestamp_seconds '')" "$(stat -c %Y "$T/state/last-success")"
t_eq "metrics: counters of deleted lineages dropped" \
	"$(grep -c 'lineage="mismatch.example.test"' "$M")" 0
conf "$T/warn.json" '"watch": {"expiry_warn_days": 90}'
"$SNISYNC" -c "$T/warn.json" status >/dev/null 2>&1
t_eq "a name expiring within expiry_warn_days: status exit 1" "$?" 1

# --- the expiry rule: a quarter of each certificate's own lifetime --------
# Lifetimes as Let's Encrypt's shortlived profile issues them (160 hours,
# notAfter a second short). A fresh one is healthy; one with 30 hours left
# (under 40, a quarter) means certbot stopped renewing it.
utc() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
now=$(date +%s)
CERT_START=$(utc $((now - 3600))) CERT_END=$(utc $((now + 159 * 3600 - 1))) \
	tree_leaf "$LE" "$CA" short.example.test ec256 short.example.test
S resync >/dev/null 2>&1
t_eq "a fresh 160-hour certificate: resync exit 0" "$?" 0
S status >/dev/null 2>&1
t_eq "a fresh 160-hour certificate: status exit 0 (no warning at 6 days left)" "$?" 0
t_eq "status --json: a fresh 160-hour certificate has expiry_warning false, and its notBefore" \
	"$(js "[(n['expiry_warning'], n['not_before']) for n in j['names'] if n['name'] == 'short.example.test']")" \
	"[(False, '$(date -u -d "@$((now - 3600))" +%Y-%m-%dT%H:%M:%SZ)')]"
t_eq "metrics: notBefore of the certificate served for the name" \
	"$(metric snisync_certificate_not_before_timestamp_seconds '{name="short.example.test",lineage="short.example.test"}')" \
	"$((now - 3600))"
CERT_START=$(utc $((now - 130 * 3600))) CERT_END=$(utc $((now + 30 * 3600 - 1))) \
	tree_leaf "$LE" "$CA" late.example.test ec256 late.example.test
S resync >/dev/null 2>&1
t_eq "a 160-hour certificate with 30 hours left: resync exit 0 (it is valid)" "$?" 0
S status >"$T/status.txt" 2>&1
t_eq "a 160-hour certificate with 30 hours left: status exit 1" "$?" 1
t_match "status table: its expiry in hours, marked, and why" \
	"$(grep '^late.example.test ' "$T/status.txt")" \
	' (29|30)h! .*renewal overdue: less than a quarter of its 160-hour lifetime is left'
t_eq "status --json: expiry_warning true for it only" \
	"$(js "sorted(n['name'] for n in j['names'] if n['expiry_warning'])")" "['late.example.test']"
out=$(S check 2>/dev/null)
t_match "check: the lineage marked and the rule named" "$out" \
	'! late.example.test: renewal overdue: expires in (29|30) hours; less than a quarter of its 160-hour lifetime is left'
t_eq "check --json: expiry_warning per lineage" \
	"$(S check --json 2>/dev/null | $PY -c 'import json,sys; print(sorted(l["lineage"] for l in json.load(sys.stdin)["lineages"] if l["certificate"] and l["certificate"]["expiry_warning"]))')" \
	"['late.example.test']"
conf "$T/warn0.json" '"watch": {"expiry_warn_days": 0}'
"$SNISYNC" -c "$T/warn0.json" status >/dev/null 2>&1
t_eq "expiry_warn_days 0 overrides the quarter: status exit 0" "$?" 0
lineage_delete "$LE" late.example.test >/dev/null 2>&1
lineage_delete "$LE" short.example.test >/dev/null 2>&1
S resync >/dev/null 2>&1
S status >/dev/null 2>&1
t_eq "the late lineage deleted: status exit 0 again" "$?" 0

# --- a failing reload -----------------------------------------------------
PF_RELOAD=/bin/false conf "$T/fail.json"
tree_leaf "$LE" "$CA" mail.example.test rsa2048 mail.example.test imap.example.test
"$SNISYNC" -c "$T/fail.json" resync >/dev/null 2>&1
t_eq "failed reload: resync exit 4" "$?" 4
t_eq "failed reload: counted and pending in status" \
	"$("$SNISYNC" -c "$T/fail.json" status --json | $PY -c 'import json,sys; p=json.load(sys.stdin)["services"]["postfix"]; print(p["reload_failures"], p["reload_pending"])')" "1 True"
t_eq "failed reload: snisync_reload_failures_total 1" \
	"$(metric snisync_reload_failures_total '{service="postfix"}')" 1
S resync >/dev/null 2>&1
t_eq "the retried reload clears pending" "$(js "j['services']['postfix']['reload_pending']")" False

# --- metrics in a directory that does not exist ---------------------------
cat >"$T/nodir.json" <<-EOF
{"letsencrypt_dir": "$LE", "state_dir": "$T/state2", "metrics_file": "$T/nowhere/x.prom",
 "postfix": {"map": "$T/pf/sni2", "reload": null}, "dovecot": null}
EOF
err=$("$SNISYNC" -c "$T/nodir.json" resync 2>&1 >/dev/null)
t_eq "unwritable metrics file: the sync still succeeds" "$?" 0
t_match "unwritable metrics file: one warning naming it" "$(printf '%s\n' "$err" | grep metrics)" \
	"warning: metrics: $T/nowhere/x.prom not updated"

# --- the daemon keeps status current --------------------------------------
conf "$T/watch.json" '"watch": {"settle_ms": 100, "settle_max_ms": 1000}'
"$SNISYNC" -c "$T/watch.json" watch 2>"$T/watch.log" &
wpid=$!
t_atexit "kill $wpid"
for _ in $(seq 50); do grep -q 'synced\|nothing changed' "$T/watch.log" && break; sleep 0.1; done
tree_leaf "$LE" "$CA" new.example.test ec256 new.example.test
ok=0
for _ in $(seq 100); do
	[ "$(js "[n['lineage'] for n in j['names'] if n['name'] == 'new.example.test']")" = "['new.example.test']" ] &&
		{ ok=1; break; }
	sleep 0.1
done
t_eq "a lineage issued while watch runs shows in status within 10 s" "$ok" 1
# the metrics file is written at the end of the run, after the state
for _ in $(seq 50); do
	[ -n "$(metric snisync_certificate_expiry_timestamp_seconds '{name="new.example.test",lineage="new.example.test"}')" ] && break
	sleep 0.1
done
t_eq "... and in the metrics (by the end of that run)" \
	"$(metric snisync_certificate_expiry_timestamp_seconds '{name="new.example.test",lineage="new.example.test"}')" \
	"$(notafter new.example.test)"
kill "$wpid"; wait "$wpid" 2>/dev/null

# --- log format -----------------------------------------------------------
lineage_add "$LE" broken.example.test "$W/y.key" "$W/x.crt" "$W/x.chain"
plain=$(S resync 2>&1 >/dev/null)
t_match "on a pipe: plain 'snisync: error:' lines" "$plain" \
	'^snisync: error: lineage broken\.example\.test: fullchain\.pem: private key does not match'
t_nomatch "on a pipe: no debug lines without -v" "$plain" 'debug:'
"$SNISYNC" -v -c "$T/c.json" resync 2>"$T/j.log" >/dev/null
t_match "-v adds debug lines" "$(cat "$T/j.log")" '^snisync: debug: '
# Standard error is the journal when JOURNAL_STREAM names its device:inode.
"$SNISYNC" -c "$T/c.json" resync 2>"$T/j2.log" >/dev/null
exec 3>"$T/j3.log"
js_id=$(stat -c %d:%i "$T/j3.log")
JOURNAL_STREAM=$js_id "$SNISYNC" -v -c "$T/c.json" resync 2>&3 >/dev/null
exec 3>&-
t_match "under journald: errors carry priority <3>" "$(cat "$T/j3.log")" \
	'^<3>error: lineage broken\.example\.test: fullchain\.pem: private key'
t_match "under journald: info <6>, debug <7>" "$(grep -c '^<6>' "$T/j3.log")/$(grep -c '^<7>' "$T/j3.log")" '^[1-9][0-9]*/[1-9]'
t_nomatch "under journald: no plain prefixes" "$(cat "$T/j3.log")" '^snisync: '
JOURNAL_STREAM=1:1 "$SNISYNC" -c "$T/c.json" resync 2>"$T/j4.log" >/dev/null
t_match "a JOURNAL_STREAM that is not our stderr: plain lines" "$(head -1 "$T/j4.log")" '^snisync: '
t_nomatch "no key material in any log" "$(cat "$T"/*.log)" 'PRIVATE KEY|^[A-Za-z0-9+/]{64}$'

t_done
