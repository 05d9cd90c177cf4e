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

t_done
