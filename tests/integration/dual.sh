# dual.sh - dual algorithm: an RSA lineage beside an ECDSA lineage for the
# same names (certbot --key-type rsa --cert-name example.test-rsa) is served
# together with it by a real Postfix (one SNI map value with both groups)
# and a real Dovecot (2.3 ssl_cert plus ssl_alt_cert, 2.4 their
# ssl_server_*_file forms): an RSA-only client
# (openssl s_client -sigalgs RSA-PSS+SHA256:RSA+SHA256) gets the RSA leaf,
# an ECDSA-only client (-sigalgs ECDSA+SHA256) the ECDSA leaf, for each
# name, a wildcard too. A name only one lineage names gets that one pair
# (and a client that cannot use it fails the handshake). postmap -F -q
# prints both groups; the map is byte for byte what postmap -F writes from
# snisync's source. status, --json, tlsa, metrics and verify show both
# pairs. A renewal of only the RSA lineage (synced in place in the LMDB
# map, as the deploy hook does) changes only what RSA clients get; after
# the RSA lineage is deleted the names are ECDSA-only again, with empty
# alt lines in Dovecot, and its served file is gone.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
PFC=$T/pfc
mkdir -p "$T/pf" "$T/prom"
tree_pfc "$PFC"
RSA='RSA-PSS+SHA256:RSA+SHA256'
EC='ECDSA+SHA256'
# Like Let's Encrypt, RSA leaves come from an RSA CA, ECDSA leaves from
# an ECDSA one.
certs_ca "$T/ca" >/dev/null 2>&1
CERTS_CA_KEYTYPE=rsa2048 certs_ca "$T/rca" >/dev/null 2>&1 ||
	{ t_fail "RSA CA"; exit 1; }
ec_lineage() {
	tree_leaf "$LE" "$T/ca" example.test ec256 mail.example.test \
		imap.example.test '*.example.test' eco.example.test
}
rsa_lineage() {
	tree_leaf "$LE" "$T/rca" example.test-rsa rsa2048 mail.example.test \
		imap.example.test '*.example.test' rsaonly.example.test
}
{ ec_lineage && rsa_lineage &&
	tree_leaf "$LE" "$T/ca" filler.example.test ec256 f1.example.test \
		f2.example.test f3.example.test f4.example.test f5.example.test \
		f6.example.test; } >/dev/null 2>&1 || { t_fail "fixture tree"; exit 1; }
stack_start "$T" "$MAP"
stack_conf "$T/base.json" "$LE" "$T/state" "$MAP"
sed "s|^{|{\"metrics_file\": \"$T/prom/snisync.prom\", \"verify\": {\"endpoints\": [\"smtp:$PF_PORT\", \"tls:$DC_IMAPS_PORT\", \"imap:$DC_IMAP_PORT\"], \"timeout_ms\": 5000},|" \
	"$T/base.json" >"$T/c.json"
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
fp_of() { certs_fp "$LE/live/$1/cert.pem"; }
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP" 2>/dev/null; }
dc_get() { dc_lookup "$DC_CONF" "$1" "$2" 2>&1; }
# alt_lines: the include's alt cert and key lines that name a file.
alt_lines() {
	grep -cE "^  ($(dc_setting alt_cert)|$(dc_setting alt_key)) = [^ ]" "$DC_CONFD/99-snisync.conf"
}

# probe3 NAME SIGALGS WANT DESC: the leaf served for NAME to a client with
# only SIGALGS, on Postfix (SMTP STARTTLS), Dovecot IMAPS and IMAP STARTTLS.
probe3() {
	local name=$1 sig=$2 want=$3 desc=$4 ep port mode got bad=""
	for ep in "smtp:$PF_PORT:smtp" "imaps:$DC_IMAPS_PORT:tls" \
		"imap:$DC_IMAP_PORT:imap"; do
		IFS=: read -r ep port mode <<<"$ep"
		got=$(probe_fp "$port" "$mode" "$name" "$sig")
		[ "$got" = "$want" ] || bad="$bad $ep=$got"
	done
	if [ -z "$bad" ]; then t_ok "$desc"; else t_fail "$desc:$bad"; fi
}
# both NAME: each client gets its own lineage's leaf, everywhere.
both() {
	probe3 "$1" "$RSA" "$(fp_of example.test-rsa)" \
		"$1: an RSA-only client gets the RSA lineage's leaf (Postfix, Dovecot)"
	probe3 "$1" "$EC" "$(fp_of example.test)" \
		"$1: an ECDSA-only client gets the ECDSA lineage's leaf (Postfix, Dovecot)"
}
# value LINEAGE...: what postmap -F -q prints: the lineages' groups.
value() {
	local l
	for l in "$@"; do
		cat "$LE/live/$l/privkey.pem"
		printf '\n'
		cat "$LE/live/$l/fullchain.pem"
		printf '\n'
	done
}
# Postfix joins a line's files with one "\n" and prints one more at the
# end: for two groups, key "\n" chain "\n" key2 "\n" chain2 "\n".
value_eq() {	# value_eq KEY DESC LINEAGE...
	local k=$1 d=$2
	shift 2
	if cmp -s <(q "$k") <(value "$@"); then t_ok "$d"; else t_fail "$d"; fi
}
# postmap_same [entries]: the map is what postmap -F makes of snisync's
# source: byte for byte, or (after an in-place update, whose pages lie
# elsewhere) entry for entry.
postmap_same() {
	rm -rf "$T/pm" && mkdir -p "$T/pm" && cp "$MAP" "$T/pm/tls_sni" &&
		postmap -c "$PFC" -F "lmdb:$T/pm/tls_sni" || return 1
	if [ "${1:-}" = entries ]; then
		cmp -s <(postmap -c "$PFC" -s "lmdb:$MAP" | sort) \
			<(postmap -c "$PFC" -s "lmdb:$T/pm/tls_sni" | sort)
	else
		cmp -s "$MAP.lmdb" "$T/pm/tls_sni.lmdb"
	fi
}

# --- first sync ---------------------------------------------------------
S resync 2>"$T/err1"
t_eq "resync: exit 0" "$?" 0
t_nomatch "no conflict logged: the RSA lineage does not lose to the ECDSA one" \
	"$(cat "$T/err1")" 'wins over'
value_eq mail.example.test "postmap -F -q mail.example.test: ECDSA group, then RSA group" \
	example.test example.test-rsa
value_eq .example.test "postmap -F -q .example.test (the wildcard): both groups" \
	example.test example.test-rsa
value_eq rsaonly.example.test "postmap -F -q rsaonly.example.test: the RSA group alone" \
	example.test-rsa
value_eq eco.example.test "postmap -F -q eco.example.test: the ECDSA group alone" \
	example.test
t_eq "the source line of a dual name names two served files" \
	"$(awk '$1 == "mail.example.test" { print NF }' "$MAP")" 3
t_check "the map is byte for byte what postmap -F writes from the source" postmap_same
# store LIVEFILE: the served file of its lineage as a block names it, as
# cert and as key ("<" + the file on 2.3).
store() { dc_ref "$T/state/served/$(basename "$(dirname "$1")").pem"; }
t_eq "Dovecot: mail.example.test ssl_cert is the ECDSA fullchain" \
	"$(dc_get mail.example.test cert)" "$(store "$LE/live/example.test/fullchain.pem")"
t_eq "Dovecot: mail.example.test ssl_alt_cert is the RSA fullchain" \
	"$(dc_get mail.example.test alt_cert)" "$(store "$LE/live/example.test-rsa/fullchain.pem")"
t_eq "Dovecot: mail.example.test ssl_alt_key is the RSA key" \
	"$(dc_get mail.example.test alt_key)" "$(store "$LE/live/example.test-rsa/privkey.pem")"
t_eq "Dovecot: *.example.test (any.example.test) ssl_alt_cert is the RSA fullchain" \
	"$(dc_get any.example.test alt_cert)" "$(store "$LE/live/example.test-rsa/fullchain.pem")"
t_eq "Dovecot: eco.example.test has an empty alt cert" "$(dc_get eco.example.test alt_cert)" ""
t_eq "Dovecot: rsaonly.example.test: the RSA pair as ssl_cert, empty alt" \
	"$(dc_get rsaonly.example.test cert)|$(dc_get rsaonly.example.test alt_cert)" \
	"$(store "$LE/live/example.test-rsa/fullchain.pem")|"
t_check "doveconf -xn opens every file of the include" \
	sh -c "doveconf -xn -c '$DC_CONF' >/dev/null 2>&1"
if [ "$DC_VER" = 2.3 ]; then
	t_eq "Dovecot's include: alt cert and key paths in the 2 dual blocks (mail and imap packed, wildcard)" \
		"$(alt_lines)" 4
else
	t_eq "Dovecot's include: alt cert and key paths in the 3 dual blocks (mail, imap, wildcard)" \
		"$(alt_lines)" 6
fi

sleep 0.5
for n in mail.example.test imap.example.test any.example.test; do both "$n"; done
probe3 rsaonly.example.test "$RSA" "$(fp_of example.test-rsa)" \
	"rsaonly.example.test (RSA lineage only): an RSA-only client gets the RSA leaf"
probe3 rsaonly.example.test "$EC" ERROR \
	"rsaonly.example.test (RSA lineage only): an ECDSA-only client fails the handshake (nothing to sign with)"
probe3 eco.example.test "$EC" "$(fp_of example.test)" \
	"eco.example.test (ECDSA lineage only): an ECDSA-only client gets the ECDSA leaf"
probe3 eco.example.test "$RSA" ERROR \
	"eco.example.test (ECDSA lineage only): an RSA-only client fails the handshake"
got=$(probe_fp "$PF_PORT" smtp mail.example.test)
echo "# a client with OpenSSL's default list gets from Postfix: $got" \
	"($( [ "$got" = "$(fp_of example.test)" ] && echo ECDSA || echo other))"

# --- what snisync reports --------------------------------------------------
out=$(S verify 2>&1)
t_eq "verify: exit 0" "$?" 0
t_match "verify: a dual name is probed by an RSA and an ECDSA client (8 probes x 3 endpoints + 6 fillers x 3)" \
	"$out" '^verify: 11 names on 3 endpoints listening on 127\.0\.0\.1: 42 served as applied, 0 mismatches, 0 errors$'
st=$(S status 2>&1)
t_eq "status: two rows for mail.example.test, one per lineage" \
	"$(printf '%s\n' "$st" | awk '$1 == "mail.example.test" { print $2, $3 }' | tr '\n' ' ')" \
	"example.test ECDSA example.test-rsa RSA "
S status --json >"$T/s.json" 2>&1
t_eq "status --json: alt of mail.example.test is the RSA lineage" \
	"$(python3 -c 'import json,sys; d={n["name"]: n for n in json.load(open(sys.argv[1]))["names"]}; m=d["mail.example.test"]; print(m["lineage"], m["key_type"], m["alt"]["lineage"], m["alt"]["key_type"], d["eco.example.test"]["alt"], sorted(m["alt"]) == sorted(k for k in m if k not in ("name", "alt")))' "$T/s.json")" \
	"example.test ECDSA P-256 example.test-rsa RSA 2048 None True"
spki() { openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
served_spki() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PF_PORT" -starttls smtp \
		-servername mail.example.test -sigalgs "$1" </dev/null 2>/dev/null | spki
}
out=$(S tlsa mail.example.test 2>&1)
t_eq "tlsa: 3 1 1 records for the ECDSA and the RSA key smtpd serves" \
	"$(printf '%s\n' "$out" | sed -n 's/^_25\._tcp\.mail\.example\.test\. IN TLSA 3 1 1 //p' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$(served_spki "$EC")" "$(served_spki "$RSA")" | sort | tr '\n' ' ')"
t_eq "tlsa: 2 1 1 records for both issuing CAs" \
	"$(printf '%s\n' "$out" | grep -c ' IN TLSA 2 1 1 ')" 2
M=$T/prom/snisync.prom
t_eq "metrics: expiry of both certificates of mail.example.test" \
	"$(grep -c '^snisync_certificate_expiry_timestamp_seconds{name="mail\.example\.test",' "$M")" 2
t_check "metrics: the RSA certificate's sample" grep -q \
	'^snisync_certificate_expiry_timestamp_seconds{name="mail\.example\.test",lineage="example\.test-rsa"} [0-9]' "$M"
t_check "metrics: info with the key type" grep -q \
	'^snisync_certificate_info{name="mail\.example\.test",lineage="example\.test-rsa",key_type="RSA 2048"} 1$' "$M"
if command -v promtool >/dev/null; then
	t_check "promtool check metrics" sh -c "promtool check metrics <'$M' >/dev/null 2>&1"
fi

# --- renew only the RSA lineage (the deploy hook: --lineage, in place) -----
ec_fp=$(fp_of example.test)
old_rsa=$(fp_of example.test-rsa)
ino=$(stat -c %i "$MAP.lmdb")
rsa_lineage >/dev/null 2>&1
t_check "the RSA renewal made a new leaf" test "$(fp_of example.test-rsa)" != "$old_rsa"
out=$(S resync --dry-run 2>&1)
t_match "dry run: the RSA pair of mail.example.test renewed" "$out" \
	'^~ mail\.example\.test: lineage example\.test-rsa renewed \(serial [0-9A-F]+ -> [0-9A-F]+\)$'
t_nomatch "dry run: nothing about the ECDSA lineage" "$out" 'lineage example\.test( |$)'
"$SNISYNC" -v -c "$T/c.json" resync --lineage example.test-rsa 2>"$T/err2"
t_eq "resync --lineage example.test-rsa: exit 0" "$?" 0
t_check "the map was updated in place (4 entries)" grep -q \
	"postfix: 4 entries of $MAP.lmdb changed in place" "$T/err2"
t_eq "... same map file" "$(stat -c %i "$MAP.lmdb")" "$ino"
value_eq mail.example.test "after the RSA renewal: postmap -F -q has the new RSA group" \
	example.test example.test-rsa
t_check "after the RSA renewal: entry for entry what postmap -F writes from the source" \
	postmap_same entries
sleep 0.5
for n in mail.example.test any.example.test; do both "$n"; done
probe3 imap.example.test "$EC" "$ec_fp" "after the RSA renewal: the ECDSA leaf is unchanged"
t_check "old RSA leaf no longer served" test "$(probe_fp "$PF_PORT" smtp mail.example.test "$RSA")" != "$old_rsa"
out=$(S verify 2>&1)
t_eq "verify after the RSA renewal: exit 0 ($(printf '%s' "$out" | tail -1))" "$?" 0

# --- delete the RSA lineage --------------------------------------------------
rsa_key_store=$T/state/served/example.test-rsa.pem
t_check "the RSA lineage has its served file" test -f "$rsa_key_store"
lineage_delete "$LE" example.test-rsa
S resync 2>"$T/err3"
t_eq "resync after deleting the RSA lineage: exit 0" "$?" 0
t_match "the RSA pair's removal is logged" "$(cat "$T/err3")" \
	'- mail\.example\.test: lineage example\.test-rsa deleted'
value_eq mail.example.test "after the deletion: postmap -F -q mail.example.test: the ECDSA group alone" \
	example.test
t_check "after the deletion: still what postmap -F writes from the source" postmap_same
t_eq "after the deletion: Dovecot's alt cert of mail.example.test is empty" \
	"$(dc_get mail.example.test alt_cert)" ""
t_eq "after the deletion: no alt paths left in Dovecot's include" \
	"$(alt_lines)" 0
t_check "after the deletion: the RSA lineage's served file is removed" test ! -e "$rsa_key_store"
sleep 0.5
probe3 mail.example.test "$EC" "$ec_fp" "after the deletion: an ECDSA-only client gets the ECDSA leaf"
probe3 mail.example.test "$RSA" ERROR \
	"after the deletion: an RSA-only client gets no certificate for mail.example.test"
probe3 rsaonly.example.test "$EC" "$ec_fp" \
	"after the deletion: rsaonly.example.test falls under the ECDSA wildcard"
t_done
