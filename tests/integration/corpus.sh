# corpus.sh - the hostile-input corpus. Every case starts from a lineage
# that was good and applied; then its next version is broken in one way.
# For each case: exactly one error line naming the lineage, the file and
# the reason; exit status 1; its last good pair is still what the map
# serves; every other name is still served. A few inputs are odd but
# acceptable (world-readable key, uppercase, 500 names, a duplicate name,
# and Let's Encrypt's 2026 kinds: no CN, a chain of three CA certificates,
# addresses alone in subjectAltName, a lineage named after an IPv6
# address): they are served, or serve no name without an error. Directory
# names and the config file get their own cases.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

t_tmpdir T
LE=$T/le
CA=$T/ca
MAP=$T/pf/tls_sni
PFC=$T/pfc
W=$T/w
mkdir -p "$T/pf" "$T/dc" "$W" && tree_pfc "$PFC"
certs_ca "$CA"
certs_ca "$T/ca2"			# an unrelated CA
tree_conf "$T/conf.json" "$LE" "$T/state" "$MAP" "$T/dc/sni.conf"
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP" 2>/dev/null; }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

declare -A WANT			# case -> regex of the error after "lineage X: "
declare -a CASES
add() { CASES+=("$1"); WANT[$1]=$2; }

# Every case lineage is good first.
for c in k01 k02 k03 k04 k05 k06 k07 k08 k09 k10 k11 c01 c02 c03 c04 c05 \
	c06 c07 c08 c09 c10 c11 c12 n01 n02 n03 n04 n05 n06 n07 n08 n09 n10 \
	n11 n12 n13 n14 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 a01 a02 \
	a03 a04 a05 a06 a07; do
	tree_leaf "$LE" "$CA" "$c.example.test" ec256 "$c.example.test" ||
		{ t_fail "fixture $c"; exit 1; }
done
for b in bystander1 bystander2; do
	tree_leaf "$LE" "$CA" "$b.example.test" rsa2048 "$b.example.test" "www.$b.example.test"
done
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>"$T/err0"
t_eq "all lineages good: exit 0" "$?" 0
declare -A LAST
for c in k01 k02 k03 k04 k05 k06 k07 k08 k09 k10 k11 c01 c02 c03 c04 c05 \
	c06 c07 c08 c09 c10 c11 c12 n01 n02 n03 n04 n05 n06 n07 n08 n09 n10 \
	n11 n12 n13 n14 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 bystander1 \
	www.bystander1 bystander2 www.bystander2; do
	LAST[$c]=$(q "$c.example.test" | sha256sum)
done

# next LINEAGE [TYPE] [NAMES...]: a renewal (valid), printing the archive dir
# and version; the case then breaks files of that version.
next() {
	local lin=$1.example.test type=${2:-ec256}
	shift 2 2>/dev/null || shift $#
	[ $# -gt 0 ] || set -- "$lin"
	tree_leaf "$LE" "$CA" "$lin" "$type" "$@" >/dev/null || return 1
	A=$LE/archive/$lin
	N=$(ls "$A" | sed -n 's/^privkey\([0-9]*\)\.pem$/\1/p' | sort -n | tail -1)
}
# renew_raw LINEAGE KEYFILE FULLCHAINFILE: next version from these files.
renew_raw() {
	next "$1" && cat "$2" >"$A/privkey$N.pem" && cat "$3" >"$A/fullchain$N.pem"
}
# raw_renew LINEAGE HEX...: next version with a certificate whose SAN
# dNSNames are these exact bytes (NUL, newline, UTF-8: no openssl config
# can say them).
raw_renew() {
	local lin=$1
	shift
	renew_raw "$lin" /dev/null /dev/null &&
		"$T_TOP/tests/lib/rawsan-cert" "$CA" "$W/$lin" "$@" &&
		cat "$W/$lin.key" >"$A/privkey$N.pem" &&
		cat "$W/$lin.crt" "$W/$lin.chain" >"$A/fullchain$N.pem"
}
leaf() {	# leaf OUT TYPE NAMES...: a leaf in $W
	local out=$1 type=$2
	shift 2
	certs_leaf "$CA" "$W/$out" "$type" "$@"
	cat "$W/$out.crt" "$W/$out.chain" >"$W/$out.full"
}

# --- the key file ---
next k01 && : >"$A/privkey$N.pem"
add k01 'privkey\.pem: empty file'
next k02 && head -c 100 "$A/privkey$N.pem" >"$W/k02" && cat "$W/k02" >"$A/privkey$N.pem"
add k02 'privkey\.pem: truncated PEM block "PRIVATE KEY"'
next k03 && head -c 241 /dev/zero >"$A/privkey$N.pem"
add k03 'privkey\.pem: not PEM \(NUL byte; DER or binary\?\)'
next k04 && openssl pkey -in "$A/privkey$N.pem" -outform DER -out "$W/k04" &&
	cat "$W/k04" >"$A/privkey$N.pem"
add k04 'privkey\.pem: not PEM \(NUL byte; DER or binary\?\)'
next k05 && openssl pkey -in "$A/privkey$N.pem" -aes256 -passout pass:x -out "$W/k05" &&
	cat "$W/k05" >"$A/privkey$N.pem"
add k05 'privkey\.pem: encrypted private key'
next k06 && openssl ec -in "$A/privkey$N.pem" -aes256 -passout pass:x -out "$W/k06" 2>/dev/null &&
	cat "$W/k06" >"$A/privkey$N.pem"
add k06 'privkey\.pem: encrypted private key'
leaf k07o ec256 other.example.test && next k07 && cat "$W/k07o.key" >"$A/privkey$N.pem"
add k07 'fullchain\.pem: private key does not match the certificate'
next k08 rsa1024 k08.example.test
add k08 'privkey\.pem: RSA key of 1024 bits \(need >= 2048\)'
# EC parameters after the key (a leading block, as dehydrated writes, is
# dropped from the served copy: acme_clients.sh).
next k09 && { cat "$A/privkey$N.pem"; openssl ecparam -name prime256v1; } >"$W/k09" &&
	cat "$W/k09" >"$A/privkey$N.pem"
add k09 'privkey\.pem: PEM block "EC PARAMETERS" not accepted here'
next k10 && cat "$A/privkey$N.pem" "$A/privkey$N.pem" >"$W/k10" && cat "$W/k10" >"$A/privkey$N.pem"
add k10 'privkey\.pem: 2 PEM blocks \(want one private key\)'
next k11 && { echo "Key for k11:"; cat "$A/privkey$N.pem"; } >"$W/k11" && cat "$W/k11" >"$A/privkey$N.pem"
add k11 'privkey\.pem: not PEM \(no -----BEGIN line\)'

# --- the chain file ---
next c01 && : >"$A/fullchain$N.pem"
add c01 'fullchain\.pem: empty file'
next c02 && head -c 1200 "$A/fullchain$N.pem" >"$W/c02" && cat "$W/c02" >"$A/fullchain$N.pem"
add c02 'fullchain\.pem: truncated PEM block "CERTIFICATE"'
next c03 && openssl x509 -in "$A/cert$N.pem" -outform DER -out "$A/fullchain$N.pem"
add c03 'fullchain\.pem: not PEM \((NUL byte; DER or binary\?|no -----BEGIN line)\)'
next c04 && cat "$A/chain$N.pem" "$A/cert$N.pem" >"$A/fullchain$N.pem"
add c04 'fullchain\.pem: certificate 1 is not issued by certificate 2 \(chain out of order or unrelated\)'
next c05 && cat "$A/cert$N.pem" "$A/chain$N.pem" "$T/ca2/int.pem" >"$A/fullchain$N.pem"
add c05 'fullchain\.pem: certificate 2 is not issued by certificate 3 \(chain out of order or unrelated\)'
CERT_START=$(date -u -d '-90 days' +%Y%m%d%H%M%SZ) CERT_END=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ) next c06
add c06 'fullchain\.pem: certificate expired [0-9-]+ [0-9:]+ UTC'
CERT_START=$(date -u -d '+1 day' +%Y%m%d%H%M%SZ) next c07
add c07 'fullchain\.pem: certificate not valid before [0-9-]+ [0-9:]+ UTC'
CERT_NO_SAN=1 next c08
add c08 'fullchain\.pem: no subjectAltName \(names come from SAN, not CN\)'
CERT_SAN=email:c09@example.test next c09
add c09 'fullchain\.pem: no DNS name in subjectAltName'
next c10 && sed 's/CERTIFICATE-----/TRUSTED CERTIFICATE-----/' "$A/fullchain$N.pem" >"$W/c10" &&
	cat "$W/c10" >"$A/fullchain$N.pem"
add c10 'fullchain\.pem: PEM block "TRUSTED CERTIFICATE" not accepted here'
# A 160-hour certificate (shortlived) that expired an hour ago.
now=$(date +%s)
CERT_PROFILE=shortlived CERT_START=$(date -u -d "@$((now - 161 * 3600))" +%Y%m%d%H%M%SZ) \
	CERT_END=$(date -u -d "@$((now - 3600 - 1))" +%Y%m%d%H%M%SZ) next c11
add c11 'fullchain\.pem: certificate expired [0-9-]+ [0-9:]+ UTC'
# A chain of three CA certificates (intermediate, cross-signed roots) with
# the last two swapped.
certs_hierarchy "$T/geny"
G=$T/geny
CERT_ISSUER=$G/y1 CERT_CHAIN="$G/y1.pem $G/x2-by-x1.pem $G/y-by-x2.pem" next c12
add c12 'fullchain\.pem: certificate 2 is not issued by certificate 3 \(chain out of order or unrelated\)'

# --- names (all in the certificate; the lineage keeps its last good pair) ---
next n01 ec256 'n01}.example.test'
add n01 'fullchain\.pem: subjectAltName "n01\}\.example\.test": character not allowed in a host name'
next n02 ec256 'n02".example.test'
add n02 'fullchain\.pem: subjectAltName "n02\\x22\.example\.test": character not allowed in a host name'
next n03 ec256 'n03;x.example.test'
add n03 'fullchain\.pem: subjectAltName "n03;x\.example\.test": character not allowed in a host name'
next n04 ec256 'n04 x.example.test'
add n04 'fullchain\.pem: subjectAltName "n04 x\.example\.test": character not allowed in a host name'
raw_renew n05 "$(hex n05)0a$(hex x.example.test)"
add n05 'fullchain\.pem: subjectAltName "n05\\x0ax\.example\.test": character not allowed in a host name'
raw_renew n06 "$(hex n06)00$(hex .evil.example.test)"
add n06 'fullchain\.pem: subjectAltName "n06\\x00\.evil\.example\.test": NUL byte in name'
next n07 ec256 'n07..example.test'
add n07 'fullchain\.pem: subjectAltName "n07\.\.example\.test": empty label'
next n08 ec256 "$(printf 'a%.0s' $(seq 64)).example.test"
add n08 'fullchain\.pem: subjectAltName "a{64}\.example\.test": label longer than 63 bytes'
long=$(printf '%s.' $(printf 'b%.0s' $(seq 49)) $(printf 'c%.0s' $(seq 49)) $(printf 'd%.0s' $(seq 49)) $(printf 'e%.0s' $(seq 49)) $(printf 'f%.0s' $(seq 49)))test
next n09 ec256 "${long:0:254}"
add n09 'fullchain\.pem: subjectAltName "[b-f.]+[a-z]*": name longer than 253 bytes'
raw_renew n10 "$(hex 'bücher.example.test')"
add n10 'fullchain\.pem: subjectAltName "b\\xc3\\xbccher\.example\.test": non-ASCII name \(use the A-label form\)'
next n11 ec256 n11.example.test.
add n11 'fullchain\.pem: subjectAltName "n11\.example\.test\.": trailing dot'
next n12 ec256 '*.*.example.test'
add n12 'fullchain\.pem: subjectAltName "\*\.\*\.example\.test": wildcard must be the whole first label'
next n13 ec256 'n13.*.example.test'
add n13 'fullchain\.pem: subjectAltName "n13\.\*\.example\.test": wildcard must be the whole first label'
next n14 ec256 192.0.2.14
add n14 'fullchain\.pem: subjectAltName "192\.0\.2\.14": numeric top-level label \(an address, not a name\)'

# --- the files themselves ---
next f01 && leaf f01o ec256 f01.example.test &&
	ln -sfn "$W/f01o.key" "$LE/live/f01.example.test/privkey.pem"
add f01 "privkey\\.pem: link leads outside $LE \\(to $W/f01o\\.key\\)"
next f02 && ln -sfn fullchain.pem "$LE/live/f02.example.test/fullchain.pem"
add f02 'fullchain\.pem: symlink loop'
next f03 && rm "$A/privkey$N.pem"
add f03 'privkey\.pem: dangling symlink \(target missing\)'
next f04 && rm "$A/fullchain$N.pem" && mkfifo "$A/fullchain$N.pem"
add f04 'fullchain\.pem: .*/fullchain[0-9]+\.pem: not a regular file'
next f05 && rm "$A/fullchain$N.pem" && mknod "$A/fullchain$N.pem" c 1 5
add f05 'fullchain\.pem: .*/fullchain[0-9]+\.pem: not a regular file'
next f06 && head -c 50000000 /dev/zero | tr '\0' 'A' >>"$A/fullchain$N.pem"
add f06 'fullchain\.pem: .*/fullchain[0-9]+\.pem: file larger than 1048576 bytes'
next f07 && ln -sfn "../../archive/f07.example.test/fullchain$((N - 1)).pem" \
	"$LE/live/f07.example.test/fullchain.pem"
add f07 'privkey\.pem: privkey\.pem is version [0-9]+ but fullchain\.pem is version [0-9]+ \(renewal in progress\?\)'
next f08 && rm "$A/privkey$N.pem" && mkdir "$A/privkey$N.pem"
add f08 'privkey\.pem: .*/privkey[0-9]+\.pem: not a regular file'
next f09 && ln -sfn /dev/zero "$LE/live/f09.example.test/fullchain.pem"
add f09 'fullchain\.pem: link leads outside .* \(to /dev/zero\)'
next f10 && rm "$LE/live/f10.example.test/fullchain.pem"
add f10 'fullchain\.pem: missing'
# Unreadable: root reads anything, so this run drops the capabilities
# that let it (snisync needs none of them for its own files).
next f11 && chmod 000 "$A/privkey$N.pem"
add f11 'privkey\.pem: .*/privkey[0-9]+\.pem: Permission denied'

# --- odd but acceptable ---
next a01 && chmod 0644 "$A/privkey$N.pem"
next a02 ec256 A02.Example.TEST
names=(a03.example.test)
for i in $(seq 499); do names+=("n$i.a03.example.test"); done
next a03 ec256 "${names[@]}"
next a04 ec256 a04.example.test a04.example.test www.a04.example.test
# Let's Encrypt's 2026 kinds: a renewal with addresses alone (valid; its
# names leave the map), tlsserver (no CN, no Subject Key ID), and a chain
# of three CA certificates as Gen Y serves it.
CERT_PROFILE=shortlived CERT_SAN=IP:192.0.2.5,IP:2001:db8::5 next a05
CERT_PROFILE=tlsserver next a06
CERT_PROFILE=classic CERT_ISSUER=$G/y2 CERT_CHAIN="$G/y2.pem $G/y-by-x2.pem $G/x2-by-x1.pem" next a07
# A lineage named after an IPv6 address, certified for it alone.
CERT_PROFILE=shortlived CERT_SAN=IP:2001:db8::7 tree_leaf "$LE" "$CA" 2001:db8::7 ec256

# --- lineage directories that are never good ---
tree_leaf "$LE" "$CA" "dir space" ec256 dirspace.example.test
tree_leaf "$LE" "$CA" "dir"$'\n'"newline" ec256 dirnl.example.test

setpriv --bounding-set -dac_override,-dac_read_search \
	"$SNISYNC" -c "$T/conf.json" resync >"$T/out" 2>"$T/err"
t_eq "corpus resync (without CAP_DAC_OVERRIDE): exit status 1" "$?" 1
echo "# corpus: ${#CASES[@]} broken renewals + 2 bad directory names + 8 accepted oddities"
for c in "${CASES[@]}"; do
	n=$(grep -c "^snisync: error: lineage $c\.example\.test: " "$T/err")
	line=$(grep "^snisync: error: lineage $c\.example\.test: " "$T/err" | head -1)
	if [ "$n" = 1 ] && printf '%s\n' "$line" |
		grep -Eq "^snisync: error: lineage $c\.example\.test: ${WANT[$c]}\$"; then
		t_ok "$c: one exact error line"
	else
		t_fail "$c: one exact error line (got $n: '$line', want /${WANT[$c]}/)"
	fi
	t_eq "$c: its last good pair is still in the map" \
		"$(q "$c.example.test" | sha256sum)" "${LAST[$c]}"
done
t_check "dir with a space: one error line" grep -qx \
	'snisync: error: lineage dir space: directory name holds spaces, control or non-ASCII characters' "$T/err"
t_check "dir with a newline: one error line, escaped" grep -qx \
	'snisync: error: lineage dir\\x0anewline: directory name holds spaces, control or non-ASCII characters' "$T/err"
t_eq "no other error lines" "$(grep -c '^snisync: error:' "$T/err")" "$(( ${#CASES[@]} + 2 ))"
for b in bystander1 www.bystander1 bystander2 www.bystander2; do
	t_eq "$b.example.test still served, unchanged" "$(q "$b.example.test" | sha256sum)" "${LAST[$b]}"
done
cmp -s <(q a01.example.test) <(tree_expected_value "$LE" a01.example.test)
t_eq "world-readable key: the new pair is served" "$?" 0
t_check "world-readable key: warned about" grep -q \
	'^snisync: warning: lineage a01.example.test: privkey.pem: .* is readable by everyone (mode 0644); serving it anyway' "$T/err"
cmp -s <(q a02.example.test) <(tree_expected_value "$LE" a02.example.test)
t_eq "uppercase name: served under its lowercase form" "$?" 0
t_eq "500 names: all served" "$(postmap -c "$PFC" -s "lmdb:$MAP" | grep -c 'a03\.example\.test')" 500
t_eq "a name twice in one certificate: one entry" \
	"$(postmap -c "$PFC" -s "lmdb:$MAP" | cut -f1 | grep -c '^a04\.example\.test$')" 1
t_eq "a renewal with addresses alone: no error or warning, its name leaves the map" \
	"$(grep -Ec '(error|warning): lineage a05\.example\.test' "$T/err")/$(q a05.example.test | wc -c)" "0/0"
t_check "a renewal with addresses alone: one info line, naming an address" grep -qx \
	'snisync: lineage a05.example.test: valid; only IP addresses in subjectAltName (192.0.2.5, ...), so it serves no SNI name' "$T/err"
t_nomatch "no address ever reaches the map" "$(postmap -c "$PFC" -s "lmdb:$MAP" | cut -f1)" '^(192\.0\.2|2001:db8)'
cmp -s <(q a06.example.test) <(tree_expected_value "$LE" a06.example.test)
t_eq "tlsserver profile (no CN, no Subject Key ID): the new pair is served" "$?" 0
cmp -s <(q a07.example.test) <(tree_expected_value "$LE" a07.example.test)
t_eq "a chain of three CA certificates: the new pair is served, whole" "$?" 0
t_check "an IPv6 lineage name with addresses alone: one info line, no error" grep -qx \
	'snisync: lineage 2001:db8::7: valid; only IP addresses in subjectAltName (2001:db8::7), so it serves no SNI name' "$T/err"
# No key material anywhere we print or write outside the store: not one
# base64 line of any private key in the tree.
find "$LE/archive" -name 'privkey*.pem' -type f -size -100k -exec \
	grep -h -v -e '-----' -e '^$' {} + 2>/dev/null | grep -a '^[A-Za-z0-9+/=]\{40,\}$' |
	sort -u >"$W/keylines"
t_check "key lines collected ($(wc -l <"$W/keylines"))" test -s "$W/keylines"
t_check "no key material in any output or log" sh -c "! cat '$T/out' '$T/err' \
	'$T/dc/sni.conf' '$MAP' '$T/state/state.lmdb' | grep -aqF -f '$W/keylines'"
t_nomatch "nothing hostile reached the Dovecot file" "$(cat "$T/dc/sni.conf" "$MAP")" '\}\.example|"\.example|;x\.example| x\.example|\.\.example|\*\.\*'

# --- the configuration file ---
conf_case() {	# conf_case DESC CONTENT REGEX
	printf '%s' "$2" >"$T/bad.json"
	"$SNISYNC" -c "$T/bad.json" resync >/dev/null 2>"$T/conf.err"
	local rc=$?
	t_eq "config $1: exit 3" "$rc" 3
	t_check "config $1: says where and why" grep -Eq "^snisync: error: $T/bad.json:$3" "$T/conf.err"
}
conf_case "wrong type" '{"state_dir": 5}' '1:2: "state_dir" must be a string, not an integer$'
conf_case "unknown key" '{"postfix": {"mapp": "/x"}}' '1:14: unknown key "postfix.mapp"$'
conf_case "invalid UTF-8" $'{"state_dir": "/\xff"}' '1:[0-9]+: .*'
conf_case "trailing garbage" '{"state_dir": "/x"} }' '1:[0-9]+: end of file expected'
conf_case "not an object" '["a"]' ' the configuration must be a JSON object$'
conf_case "null reload argv element" '{"dovecot": {"check": ["doveconf", null]}}' \
	'1:[0-9]+: "dovecot.check\[1\]" must be a non-empty string, not null$'
t_done
