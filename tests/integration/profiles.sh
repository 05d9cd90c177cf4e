# profiles.sh - certificates as Let's Encrypt issues them in 2026, served
# by a real Postfix and Dovecot: the classic profile (CN, 90 days), tlsserver
# (no CN, no Subject Key ID, no keyEncipherment, 45 days) and shortlived
# (160 hours, DNS names and IP addresses), from a hierarchy shaped as Gen Y
# (three sibling intermediates under a root cross-signed twice), with
# chains of one, two and three CA certificates.
# IP addresses are never SNI names: an address beside DNS names is left
# out of the map and the include; a lineage of addresses alone (certbot
# names it after the address: live/192.0.2.11/, live/2001:db8::11/) is
# valid, serves no name, and is no error; a broken one is reported like
# any other. A default certificate that reads an address lineage gets its
# service reloaded when that lineage renews. Lineage names holding ':'
# work in --lineage, the deploy hook, status, the state and the metrics.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
G=$T/geny
CR=$T_TOP/tests/lib/count-run
M=$T/snisync.prom
certs_hierarchy "$G" >/dev/null 2>&1 || { t_fail "the Gen Y-shaped hierarchy"; exit 1; }
fp_of() { certs_fp "$LE/live/$1/cert.pem"; }
# leaf LINEAGE PROFILE ISSUER "CHAIN FILES" TYPE NAMES...: a lineage version.
leaf() {
	local lin=$1 prof=$2 iss=$3 chain=$4 type=$5
	shift 5
	CERT_PROFILE=$prof CERT_ISSUER=$G/$iss CERT_CHAIN=$chain \
		tree_leaf "$LE" "$CA" "$lin" "$type" "$@" >/dev/null 2>&1
}
# c3 yN: the chain Let's Encrypt serves with intermediate yN (three CAs).
c3() { echo "$G/$1.pem $G/y-by-x2.pem $G/x2-by-x1.pem"; }
C3=$(c3 y1)
leaf classic.example.test classic y1 "$C3" rsa2048 classic.example.test mail.classic.example.test ||
	{ t_fail "lineage classic"; exit 1; }
leaf tls.example.test tlsserver y2 "$G/y2.pem $G/y-by-x2.pem" ec256 tls.example.test www.tls.example.test ||
	{ t_fail "lineage tlsserver"; exit 1; }
CERT_SAN=DNS:short.example.test,IP:127.0.0.1,IP:::1 \
	leaf short.example.test shortlived y3 "$G/y3.pem" ec256 || { t_fail "lineage shortlived"; exit 1; }
CERT_SAN=IP:192.0.2.11 leaf 192.0.2.11 shortlived y1 "$(c3 y1)" ec256 || { t_fail "lineage 192.0.2.11"; exit 1; }
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y2 "$(c3 y2)" ec384 || { t_fail "lineage 2001:db8::11"; exit 1; }
t_eq "fixtures: tlsserver and shortlived have no CN and no Subject Key ID" \
	"$(for l in tls.example.test short.example.test; do
		openssl x509 -in "$LE/live/$l/cert.pem" -noout -subject -text 2>&1 |
			grep -Ec '^subject=.+|Subject Key Identifier|Key Encipherment'
	done | tr '\n' ' ')" "0 0 "
life() {
	local a b
	a=$(openssl x509 -in "$LE/live/$1/cert.pem" -noout -startdate | cut -d= -f2)
	b=$(openssl x509 -in "$LE/live/$1/cert.pem" -noout -enddate | cut -d= -f2)
	echo $(($(date -d "$b" +%s) - $(date -d "$a" +%s) + 1))
}
t_eq "fixtures: lifetimes of 90 days, 45 days and 160 hours" \
	"$(life classic.example.test) $(life tls.example.test) $(life short.example.test)" \
	"$((90 * 86400)) $((45 * 86400)) $((160 * 3600))"

# The default certificates of both services read the IPv4 address lineage.
mkdir -p "$T/pf"
pf_start "$T/postfix" "$LE/live/192.0.2.11/privkey.pem" "$LE/live/192.0.2.11/fullchain.pem" "$T/pf/tls_sni" ||
	{ t_fail "postfix starts"; exit 1; }
dc_start "$T/dovecot" "$LE/live/192.0.2.11/privkey.pem" "$LE/live/192.0.2.11/fullchain.pem" ||
	{ t_fail "dovecot starts"; exit 1; }
cat >"$T/c.json" <<-JSON
{"letsencrypt_dir": "$LE", "state_dir": "$T/state", "metrics_file": "$M",
 "postfix": {"map": "$T/pf/tls_sni", "postconf": ["postconf", "-c", "$PF_CONF"],
   "reload": ["$CR", "$T/pf.reloads", "postfix", "-c", "$PF_CONF", "reload"]},
 "dovecot": {"config": "$DC_CONFD/99-snisync.conf", "version": "$(dc_version)",
   "doveconf": ["doveconf", "-c", "$DC_CONF"],
   "check": ["doveconf", "-xn", "-c", "$DC_CONF"],
   "reload": ["$CR", "$T/dc.reloads", "doveadm", "-c", "$DC_CONF", "reload"]}}
JSON
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
js() { S status --json 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
q() { postmap -c "$PF_CONF" -F -q "$1" "lmdb:$T/pf/tls_sni" 2>/dev/null; }
reloads() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# chain_len PORT MODE NAME: certificates the server sends.
chain_len() {
	local -a a=(-connect "127.0.0.1:$1" -showcerts -servername "$3")
	[ "$2" = tls ] || a+=(-starttls "$2")
	timeout 10 openssl s_client "${a[@]}" </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE'
}

out=$(S -v resync 2>&1)
t_eq "resync of every profile and two address lineages: exit 0" "$?" 0
t_match "summary: 5 lineages, 0 rejected" "$out" 'synced: 5 lineages, [0-9]+ names, 0 rejected'
t_nomatch "no error or warning" "$out" '(error|warning):'
for l in 192.0.2.11 2001:db8::11; do
	t_eq "lineage $l: one info line, it serves no SNI name" \
		"$(printf '%s\n' "$out" | grep -c "^snisync: lineage $l: valid; only IP addresses in subjectAltName ($l), so it serves no SNI name\$")" 1
done
t_match "an address beside DNS names: a debug line, left out" "$out" \
	'debug: lineage short\.example\.test: IP address 127\.0\.0\.1 in subjectAltName left out: SNI never carries an address'
t_match "IPv6 beside DNS names: a debug line" "$out" \
	'debug: lineage short\.example\.test: IP address ::1 in subjectAltName left out'
S status >"$T/status.txt" 2>&1
t_eq "status: exit 0 (nothing rejected, nothing near its end)" "$?" 0
t_match "status: nothing rejected, last success set" "$(cat "$T/status.txt")" 'nothing rejected; last success: [0-9]{4}-'
t_eq "status --json: the served names, no address" \
	"$(js "sorted(n['name'] for n in j['names'])")" \
	"['classic.example.test', 'mail.classic.example.test', 'short.example.test', 'tls.example.test', 'www.tls.example.test']"
t_eq "status --json: no errors, no expiry warning" \
	"$(js "(j['errors'], [n['name'] for n in j['names'] if n['expiry_warning']])")" "([], [])"
t_eq "the map holds no address" \
	"$(postmap -c "$PF_CONF" -s "lmdb:$T/pf/tls_sni" | cut -f1 | grep -Ec '^(127\.|192\.0\.2|2001:|::)')" 0
t_eq "the Dovecot include names no address" \
	"$(grep -Ec '(127\.0\.0\.1|192\.0\.2\.11|2001:db8|::1)' "$DC_CONFD/99-snisync.conf")" 0

for n in classic.example.test mail.classic.example.test tls.example.test www.tls.example.test short.example.test; do
	lin=${n#mail.}; lin=${lin#www.}
	cmp -s <(q "$n") <(tree_expected_value "$LE" "$lin")
	t_eq "postmap -q $n: $lin's key and full chain" "$?" 0
	t_eq "Postfix serves $n its certificate" "$(probe_fp "$PF_PORT" smtp "$n")" "$(fp_of "$lin")"
	t_eq "Dovecot serves $n its certificate" "$(probe_fp "$DC_IMAPS_PORT" tls "$n")" "$(fp_of "$lin")"
done
t_eq "chains of 3, 2 and 1 CA certificates are served whole (Postfix)" \
	"$(chain_len "$PF_PORT" smtp classic.example.test) $(chain_len "$PF_PORT" smtp tls.example.test) $(chain_len "$PF_PORT" smtp short.example.test)" "4 3 2"
t_eq "chains of 3, 2 and 1 CA certificates are served whole (Dovecot)" \
	"$(chain_len "$DC_IMAPS_PORT" tls classic.example.test) $(chain_len "$DC_IMAPS_PORT" tls tls.example.test) $(chain_len "$DC_IMAPS_PORT" tls short.example.test)" "4 3 2"
t_eq "without SNI both serve the address lineage (their default certificate)" \
	"$(probe_fp "$PF_PORT" smtp "") $(probe_fp "$DC_IMAPS_PORT" tls "")" "$(fp_of 192.0.2.11) $(fp_of 192.0.2.11)"

# --- the address lineage that the default certificates read renews ------
p0=$(reloads "$T/pf.reloads") d0=$(reloads "$T/dc.reloads")
src=$(sha256sum <"$T/pf/tls_sni")
CERT_SAN=IP:192.0.2.11 leaf 192.0.2.11 shortlived y2 "$(c3 y2)" ec256
out=$(S resync 2>&1)
t_eq "192.0.2.11 renewed: exit 0" "$?" 0
t_eq "the SNI map did not change" "$(sha256sum <"$T/pf/tls_sni")" "$src"
t_match "postfix: reloaded for its default certificate" "$out" \
	'postfix: smtpd_tls_chain_files \(and tlsproxy_tls_chain_files\) reads lineage 192\.0\.2\.11, which changed: reload due'
t_match "dovecot: reloaded for its default certificate" "$out" \
	'dovecot: .* reads lineage 192\.0\.2\.11, which changed: reload due'
t_eq "each service reloaded once" "$(($(reloads "$T/pf.reloads") - p0)) $(($(reloads "$T/dc.reloads") - d0))" "1 1"
new=$(fp_of 192.0.2.11)
probe_until "$PF_PORT" smtp "" "$new"
t_eq "Postfix without SNI serves the renewed address certificate" "$(probe_fp "$PF_PORT" smtp "")" "$new"
t_eq "Dovecot without SNI serves the renewed address certificate" "$(probe_fp "$DC_IMAPS_PORT" tls "")" "$new"

# Inside a certbot run (the deploy hook, --defer-reload): nothing asked,
# the reloads left pending; the post hook's resync reloads once each.
p0=$(reloads "$T/pf.reloads") d0=$(reloads "$T/dc.reloads")
CERT_SAN=IP:192.0.2.11 leaf 192.0.2.11 shortlived y3 "$(c3 y3)" ec256
out=$(S -v resync --defer-reload --lineage 192.0.2.11 2>&1)
t_eq "deferred: resync --defer-reload --lineage 192.0.2.11 exits 0" "$?" 0
t_match "deferred: the default certificates are not asked" "$out" \
	'postfix: default certificates not asked \(--defer-reload\): a reload is left pending'
t_eq "deferred: nothing reloaded yet, both reloads pending" \
	"$(($(reloads "$T/pf.reloads") - p0)) $(($(reloads "$T/dc.reloads") - d0)) $(js "(j['services']['postfix']['reload_pending'], j['services']['dovecot']['reload_pending'])")" \
	"0 0 (True, True)"
S resync >/dev/null 2>&1
t_eq "the next resync (the post hook) reloads each service once" \
	"$(($(reloads "$T/pf.reloads") - p0)) $(($(reloads "$T/dc.reloads") - d0))" "1 1"
new=$(fp_of 192.0.2.11)
probe_until "$PF_PORT" smtp "" "$new"
t_eq "after the post hook both serve the renewed address certificate without SNI" \
	"$(probe_fp "$PF_PORT" smtp "") $(probe_fp "$DC_IMAPS_PORT" tls "")" "$new $new"

# --- a lineage name holding ':' everywhere ---------------------------------
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y3 "$(c3 y3)" ec384
out=$(S resync --lineage 2001:db8::11 2>&1)
t_eq "resync --lineage 2001:db8::11: exit 0" "$?" 0
t_match "resync --lineage 2001:db8::11: it was read and valid" "$out" ': 1 lineages, 5 names, 0 rejected'
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y1 "$(c3 y1)" ec384
out=$(S resync --lineage "$LE/live/2001:db8::11/" 2>&1)
t_eq "resync --lineage LE/live/2001:db8::11/ (certbot's RENEWED_LINEAGE): exit 0" "$?" 0
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y2 "$(c3 y2)" ec384
RENEWED_LINEAGE=$LE/live/2001:db8::11 RENEWED_DOMAINS="2001:db8::11" \
	SNISYNC=$SNISYNC SNISYNC_CONFIG=$T/c.json sh "$T_TOP/hooks/snisync-deploy" 2>"$T/hook.log"
t_eq "the deploy hook with RENEWED_DOMAINS holding an address: exit 0" "$?" 0
t_check "the deploy hook synced the IPv6 lineage" grep -q "snisync hook: $LE/live/2001:db8::11 synced" "$T/hook.log"
t_nomatch "the deploy hook: no error" "$(cat "$T/hook.log")" 'error|exit status'

# Broken: a renewal whose key does not match. Reported like any other.
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y3 "$(c3 y3)" ec384
n=$(_lineage_maxver "$LE/archive/2001:db8::11")
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/other.key"
cat "$T/other.key" >"$LE/archive/2001:db8::11/privkey$n.pem"
out=$(S resync 2>&1)
t_eq "a broken IPv6 lineage: resync exit 1" "$?" 1
t_eq "a broken IPv6 lineage: one error line naming it, the file and the reason" \
	"$(printf '%s\n' "$out" | grep -c '^snisync: error: lineage 2001:db8::11: fullchain\.pem: private key does not match the certificate$')" 1
S status >/dev/null 2>&1
t_eq "a broken IPv6 lineage: status exit 1" "$?" 1
t_eq "status --json: the error under its name" \
	"$(js "[e['lineage'] for e in j['errors']]")" "['2001:db8::11']"
t_eq "metrics: snisync_lineage_error with the ':' in its label" \
	"$(awk '$1 == "snisync_lineage_error{lineage=\"2001:db8::11\"}" { print $2 }' "$M")" 1
t_check "promtool accepts the metrics" sh -c "! command -v promtool >/dev/null || promtool check metrics <'$M' >/dev/null 2>&1"
# Fixed: back to health.
CERT_SAN=IP:2001:db8::11 leaf 2001:db8::11 shortlived y1 "$(c3 y1)" ec384
S resync >/dev/null 2>&1
t_eq "the IPv6 lineage fixed: resync exit 0" "$?" 0
S status >/dev/null 2>&1
t_eq "the IPv6 lineage fixed: status exit 0" "$?" 0

# Deleted (certbot delete): gone from the state, nothing else moves.
lineage_delete "$LE" 2001:db8::11
out=$(S resync 2>&1)
t_eq "the IPv6 lineage deleted: exit 0" "$?" 0
t_eq "every DNS name still served after the deletion" \
	"$(for n in classic.example.test tls.example.test short.example.test; do q "$n" | wc -c | tr -d ' '; done | grep -c '^0$')" 0
t_done
