# dane_hold.sh - dane.hold_key_change and `snisync release`, against a
# real smtpd: a renewal that brings a new key for a listed name keeps the
# previous certificate served (and says so once, in status, in the
# metrics) until `snisync release NAME`; a renewal that keeps its key, or
# one of a name not listed, is served at once; a previous certificate
# about to expire is not held.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
certs_ca "$CA" >/dev/null 2>&1
tree_leaf "$LE" "$CA" mail.example.test ec256 mail.example.test smtp.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" other.example.test ec256 other.example.test >/dev/null 2>&1
mkdir -p "$T/pf" "$T/dc"
cat >"$T/c.json" <<EOF2
{"letsencrypt_dir": "$LE", "state_dir": "$T/state", "metrics_file": "$T/m.prom",
 "dane": {"hold_key_change": ["SMTP.example.test"]},
 "postfix": {"map": "$T/pf/tls_sni", "reload": ["/bin/true"]},
 "dovecot": null}
EOF2
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
S resync >/dev/null 2>&1
t_eq "first resync: exit 0" "$?" 0

certs_leaf "$CA" "$T/default" ec256 default.example.test >/dev/null 2>&1
cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
pf_start "$T/postfix" "$T/default.key" "$T/default.full" "$T/pf/tls_sni" ||
	{ t_fail "start postfix"; exit 1; }
reload() { postfix -c "$PF_CONF" reload >/dev/null 2>&1; sleep 0.5; }
fp() { openssl x509 -noout -fingerprint -sha256 -in "$LE/live/$1/cert.pem" | cut -d= -f2; }
served() { probe_fp "$PF_PORT" smtp "$1"; }
js() { S status --json 2>/dev/null | $PY -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
metric() { awk -v m="$1$2" '$1 == m { print $2 }' "$T/m.prom"; }

old=$(fp mail.example.test)
t_eq "before: smtpd serves mail's certificate" "$(served smtp.example.test)" "$old"

# --- a renewal with a new key: held ---------------------------------------
tree_leaf "$LE" "$CA" mail.example.test ec256 mail.example.test smtp.example.test >/dev/null 2>&1
new=$(fp mail.example.test)
err=$(S resync 2>&1 >/dev/null)
t_eq "held renewal: exit 0" "$?" 0
t_match "held renewal: one warning naming the name and what to do" \
	"$(printf '%s\n' "$err" | grep -c 'new key held back')/$err" \
	'^1/.*lineage mail\.example\.test: new key held back \(dane\.hold_key_change lists smtp\.example\.test\): still serving serial .*snisync release smtp\.example\.test'
t_nomatch "held renewal: no new-key warning (the key did not change)" "$err" 'served with a new key'
reload
t_eq "held renewal: smtpd still serves the previous certificate" "$(served smtp.example.test)" "$old"
t_eq "held renewal: for every name of the lineage" "$(served mail.example.test)" "$old"
t_eq "status --json: key_held with the new serial" \
	"$(js "[n['key_held']['serial'] for n in j['names'] if n['name'] == 'smtp.example.test'][0]")" \
	"$(openssl x509 -noout -serial -in "$LE/live/mail.example.test/cert.pem" | cut -d= -f2)"
t_match "status table: the held key and the command" "$(S status 2>/dev/null | grep '^smtp\.example\.test ')" \
	'new key held since .*: snisync release smtp\.example\.test$'
t_eq "metrics: snisync_key_change_held 1" "$(metric snisync_key_change_held '{lineage="mail.example.test"}')" 1
spki() { openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
out=$(S tlsa smtp.example.test 2>&1)
t_eq "tlsa while held: the served key's record" \
	"$(printf '%s\n' "$out" | sed -n 's/^_25\._tcp\.smtp\.example\.test\. IN TLSA 3 1 1 //p')" \
	"$(timeout 10 openssl s_client -connect "127.0.0.1:$PF_PORT" -starttls smtp -servername smtp.example.test </dev/null 2>/dev/null | spki)"
t_eq "tlsa while held: the held key's record to publish first, as a comment" \
	"$(printf '%s\n' "$out" | sed -n 's/^; _25\._tcp\.smtp\.example\.test\. IN TLSA 3 1 1 //p')" \
	"$(spki <"$LE/live/mail.example.test/cert.pem")"
err=$(S resync 2>&1 >/dev/null)
t_nomatch "next resync: held quietly (no repeated warning)" "$err" 'held back'
t_eq "next resync: still the previous certificate in the map" \
	"$(postmap -c "$PF_CONF" -F -q smtp.example.test "lmdb:$T/pf/tls_sni" |
		openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)" "$old"

# --- other lineages are not held ------------------------------------------
tree_leaf "$LE" "$CA" other.example.test ec256 other.example.test >/dev/null 2>&1
S resync --lineage other.example.test >/dev/null 2>&1
t_eq "a sync of another lineage only (the deploy hook, the daemon) keeps the hold" \
	"$(js "[n['key_held'] is not None for n in j['names'] if n['lineage'] == 'mail.example.test']")" \
	"[True, True]"
err=$(S resync 2>&1 >/dev/null)
t_nomatch "... and the next full sync does not announce it again" "$err" 'held back'
tree_leaf "$LE" "$CA" other.example.test ec256 other.example.test >/dev/null 2>&1
err=$(S resync 2>&1 >/dev/null)
reload
t_eq "a lineage not listed: its new key is served at once" \
	"$(served other.example.test)" "$(fp other.example.test)"
t_match "a lineage no dane key lists: the new-key notice is an info line, not a warning" "$err" \
	'^snisync: lineage other\.example\.test: served with a new key for other\.example\.test'
t_nomatch "a lineage no dane key lists: no warning" "$err" 'warning: .*other\.example\.test'
# dane.published: names that publish TLSA without holding a key change.
sed 's/"dane": {/"dane": {"published": ["Other.example.test"], /' "$T/c.json" >"$T/pub.json"
tree_leaf "$LE" "$CA" other.example.test ec256 other.example.test >/dev/null 2>&1
err=$("$SNISYNC" -c "$T/pub.json" resync 2>&1 >/dev/null)
t_match "dane.published lists it: the new-key notice is a warning naming that name" "$err" \
	'^snisync: warning: lineage other\.example\.test: served with a new key for other\.example\.test: DANE TLSA 3 1 1'
reload
t_eq "dane.published: the new key is served at once (nothing held)" \
	"$(served other.example.test)" "$(fp other.example.test)"

# --- release --------------------------------------------------------------
out=$(S release other.example.test 2>&1)
t_eq "release of a name with nothing held: exit 1" "$?" 1
t_match "release of a name with nothing held: says so" "$out" 'other\.example\.test: no key change is held back'
out=$(S release nope.example.test 2>&1)
t_eq "release of a name not served: exit 1" "$?" 1
out=$(S release SMTP.example.test. 2>&1)
t_eq "release: exit 0" "$?" 0
t_match "release: says the key change is released" "$out" 'lineage mail\.example\.test: key change released'
reload
t_eq "after release: smtpd serves the new certificate" "$(served smtp.example.test)" "$new"
t_eq "after release: nothing held" "$(js "[n['key_held'] for n in j['names'] if n['lineage'] == 'mail.example.test']")" "[None, None]"
t_eq "after release: no held metric" "$(grep -c '^snisync_key_change_held{' "$T/m.prom")" 0

# --- a renewal that keeps its key is not held -----------------------------
CERT_REUSE_KEY=$LE/live/mail.example.test/privkey.pem \
	tree_leaf "$LE" "$CA" mail.example.test ec256 mail.example.test smtp.example.test >/dev/null 2>&1
err=$(S resync 2>&1 >/dev/null)
reload
t_nomatch "same key: not held" "$err" 'held back'
t_eq "same key: the renewed certificate is served" "$(served smtp.example.test)" "$(fp mail.example.test)"

# --- a previous certificate about to expire is not held -------------------
CERT_START=$(date -u -d '-30 days' +%Y%m%d%H%M%SZ) CERT_END=$(date -u -d '+12 hours' +%Y%m%d%H%M%SZ) \
	tree_leaf "$LE" "$CA" mail.example.test ec256 mail.example.test smtp.example.test >/dev/null 2>&1
S resync >/dev/null 2>&1
S release smtp.example.test >/dev/null 2>&1
short=$(fp mail.example.test)
reload
t_eq "setup: a certificate that expires in 12 hours is served" "$(served smtp.example.test)" "$short"
tree_leaf "$LE" "$CA" mail.example.test ec256 mail.example.test smtp.example.test >/dev/null 2>&1
err=$(S resync 2>&1 >/dev/null)
reload
t_match "expiring previous certificate: applied without a release, with a warning" "$err" \
	'key change for smtp\.example\.test applied without a release: the previous certificate expires within a day'
t_eq "expiring previous certificate: the new one is served" "$(served smtp.example.test)" "$(fp mail.example.test)"

# --- configuration --------------------------------------------------------
printf '{"dane": {"hold_key_change": ["bad name"]}}' >"$T/bad.json"
out=$("$SNISYNC" -c "$T/bad.json" check 2>&1)
t_eq "a bad name in hold_key_change: exit 3" "$?" 3
t_match "a bad name in hold_key_change: where and why" "$out" 'bad\.json:1:31: "dane\.hold_key_change\[0\]": '

t_done
