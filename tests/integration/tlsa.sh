# tlsa.sh - `snisync tlsa`: the 3 1 1 record is the SHA-256 of the public
# key a real smtpd serves for the name (fetched with openssl s_client),
# the 2 1 1 record that of the issuing CA's key (computed by openssl);
# --port sets the owner name; wildcards are printed as comments; a name
# snisync does not serve and a damaged served file are clear errors.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
certs_ca "$CA" >/dev/null 2>&1
tree_leaf "$LE" "$CA" mail.example.test rsa2048 mail.example.test smtp.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" ec.example.test ec256 ec.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" example.test ec384 '*.example.test' >/dev/null 2>&1
mkdir -p "$T/pf" "$T/dc"
tree_conf "$T/c.json" "$LE" "$T/state" "$T/pf/tls_sni" "$T/dc/sni.conf"
"$SNISYNC" -c "$T/c.json" resync >/dev/null 2>&1
t_eq "resync: exit 0" "$?" 0

certs_leaf "$CA" "$T/default" ec256 default.example.test >/dev/null 2>&1
cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
pf_start "$T/postfix" "$T/default.key" "$T/default.full" "$T/pf/tls_sni" ||
	{ t_fail "start postfix"; exit 1; }

spki() { openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
served_spki() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PF_PORT" -starttls smtp \
		-servername "$1" </dev/null 2>/dev/null | spki
}
issuer_spki() {	# the second certificate of the lineage's fullchain
	awk '/BEGIN CERT/ { n++ } n == 2' "$LE/live/$1/fullchain.pem" | spki
}

out=$("$SNISYNC" -c "$T/c.json" tlsa 2>&1)
t_eq "tlsa: exit 0" "$?" 0
for pair in mail.example.test:mail.example.test smtp.example.test:mail.example.test \
	ec.example.test:ec.example.test; do
	name=${pair%%:*} lin=${pair#*:}
	t_eq "$name: 3 1 1 is the key smtpd serves for it" \
		"$(printf '%s\n' "$out" | sed -n "s/^_25\._tcp\.$name\. IN TLSA 3 1 1 //p")" \
		"$(served_spki "$name")"
	t_eq "$name: 2 1 1 is its issuing CA's key" \
		"$(printf '%s\n' "$out" | sed -n "s/^_25\._tcp\.$name\. IN TLSA 2 1 1 //p")" \
		"$(issuer_spki "$lin")"
done
t_check "the keys differ between lineages (no constant output)" test \
	"$(printf '%s\n' "$out" | grep -c '^[;_ ]*_25.* 3 1 1 ')" = 4 -a \
	"$(printf '%s\n' "$out" | grep '^[;_ ]*_25.* 3 1 1 ' | awk '{print $NF}' | sort -u | wc -l)" = 3
t_match "the output says what each record covers and when it breaks" "$out" \
	'; 3 1 1 \(DANE-EE\) pins the served key: it breaks when a renewal makes a new key'
t_eq "an issuer snisync does not know: one warning naming it, for all its names" \
	"$(printf '%s\n' "$out" | grep -c 'warning: tlsa: [^ ]*: its issuer snisync test intermediate CA is not an intermediate snisync knows')" 1
t_eq "no root's key is ever printed" \
	"$(printf '%s\n' "$out" | grep -c "$(spki <"$CA/root.pem")")" 0
t_match "a wildcard is printed as a comment" "$(printf '%s\n' "$out" | grep -F '*.example.test')" \
	'^; '
t_nomatch "no uncommented wildcard owner" "$out" '^_25\._tcp\.\*'

out=$("$SNISYNC" -c "$T/c.json" tlsa --port 465 EC.Example.Test. 2>&1)
t_eq "one name, any case, trailing dot: exit 0" "$?" 0
t_eq "--port 465: only that name, in the owner name" \
	"$(printf '%s\n' "$out" | grep '^_' | awk '{print $1, $4, $5, $6}' | sort | tr '\n' ' ')" \
	"_465._tcp.ec.example.test. 2 1 1 _465._tcp.ec.example.test. 3 1 1 "
out=$("$SNISYNC" -c "$T/c.json" tlsa nope.example.test 2>&1)
t_eq "a name not served: exit 1" "$?" 1
t_match "a name not served: says so" "$out" 'error: nope\.example\.test: not a name snisync serves'
"$SNISYNC" -c "$T/c.json" tlsa --port 0 >/dev/null 2>&1
t_eq "--port 0: usage error" "$?" 2

# --- DANE across an issuer's rotation ---------------------------------------
# A hierarchy shaped as Let's Encrypt's Gen Y: three sibling intermediates
# under a root cross-signed twice, listed as one family in
# dane.issuers_file, as a new generation would be before snisync knows it.
certs_hierarchy "$T/geny" >/dev/null 2>&1 || t_fail "the Gen Y-shaped hierarchy"
G=$T/geny
c3() { echo "$G/$1.pem $G/y-by-x2.pem $G/x2-by-x1.pem"; }
{
	echo "# the test hierarchy's intermediates"
	echo "snisync-test-y Y1 active $(spki <"$G/y1.pem")"
	echo "snisync-test-y Y2 active $(spki <"$G/y2.pem")"
	echo "snisync-test-y Y3 backup $(spki <"$G/y3.pem")"
} >"$T/issuers"
sed 's|^{|{"dane": {"issuers_file": "'"$T"'/issuers"}, |' "$T/c.json" >"$T/gy.json"
G1() { "$SNISYNC" -c "$T/gy.json" "$@"; }
serve_wait() { probe_until "$PF_PORT" smtp "$1" "$2"; }
# dane_ok NAME RECORD...: openssl verifies Postfix's chain for NAME by
# DANE with these records ("U S M HEX"), failing the handshake otherwise.
dane_ok() {
	local n=$1 r
	local -a a=(-connect "127.0.0.1:$PF_PORT" -starttls smtp -servername "$n"
		-dane_tlsa_domain "$n" -verify_return_error)
	shift
	for r; do a+=(-dane_tlsa_rrdata "$r"); done
	timeout 10 openssl s_client "${a[@]}" </dev/null 2>&1 | grep -q '^Verification: OK'
}
CERT_ISSUER=$G/y1 CERT_CHAIN=$(c3 y1) tree_leaf "$LE" "$CA" gy.example.test ec256 gy.example.test >/dev/null 2>&1
G1 resync >/dev/null 2>&1
pf_reload
t_check "a lineage under intermediate Y1 is served" serve_wait gy.example.test "$(certs_fp "$LE/live/gy.example.test/cert.pem")"
out=$(G1 tlsa gy.example.test 2>"$T/tlsa.err")
t_eq "tlsa: exit 0" "$?" 0
t_eq "tlsa: no warning for a known intermediate" "$(cat "$T/tlsa.err")" ""
mapfile -t before < <(printf '%s\n' "$out" | sed -n 's/^_25\._tcp\.gy\.example\.test\. IN TLSA //p')
t_eq "the 2 1 1 records are the whole family, backup included, and nothing else" \
	"$(printf '%s\n' "${before[@]}" | sed -n 's/^2 1 1 //p' | sort | tr '\n' ' ')" \
	"$(for n in y1 y2 y3; do spki <"$G/$n.pem"; done | sort | tr '\n' ' ')"
t_eq "one 3 1 1 record: the served key" \
	"$(printf '%s\n' "${before[@]}" | sed -n 's/^3 1 1 //p')" "$(served_spki gy.example.test)"
t_match "the output names the family and its members" "$out" \
	'; gy\.example\.test: issued by Y1, one of snisync-test-y: Y1 Y2 Y3 \(backup\)'
roots=0
for n in x1 x2 y; do
	printf '%s\n' "$out" | grep -q "$(spki <"$G/$n.pem")" && roots=$((roots + 1))
done
t_eq "no root or cross-signed root is pinned" "$roots" 0
t_nomatch "never a 2 0 x record" "$out" 'TLSA 2 0 '
t_check "before the renewal: the records verify with openssl (DANE)" dane_ok gy.example.test "${before[@]}"
old311=$(printf '%s\n' "${before[@]}" | grep '^3 1 1 ')
only_y1="2 1 1 $(spki <"$G/y1.pem")"

# certbot renews; Let's Encrypt draws a sibling intermediate; a new key.
CERT_ISSUER=$G/y2 CERT_CHAIN=$(c3 y2) tree_leaf "$LE" "$CA" gy.example.test ec256 gy.example.test >/dev/null 2>&1
G1 resync >/dev/null 2>&1
pf_reload
t_check "renewed onto sibling Y2 with a new key: served" serve_wait gy.example.test "$(certs_fp "$LE/live/gy.example.test/cert.pem")"
t_check "after the renewal: the records printed before still verify (DANE)" dane_ok gy.example.test "${before[@]}"
dane_ok gy.example.test "$old311"
t_eq "control: the old 3 1 1 record alone no longer verifies (new key)" "$?" 1
dane_ok gy.example.test "$only_y1"
t_eq "control: a 2 1 1 record for the old intermediate alone no longer verifies" "$?" 1
t_eq "the records printed now are the same 2 1 1 set" \
	"$(G1 tlsa gy.example.test 2>/dev/null | sed -n 's/^_25\._tcp\.gy\.example\.test\. IN TLSA 2 1 1 //p' | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "${before[@]}" | sed -n 's/^2 1 1 //p' | sort | tr '\n' ' ')"

# Without the family (the built-in set alone): the issuer is unknown.
out=$("$SNISYNC" -c "$T/c.json" tlsa gy.example.test 2>&1)
t_match "an intermediate of no known family: warned about, by name" "$out" \
	'warning: tlsa: gy\.example\.test: its issuer snisync test Y2 is not an intermediate snisync knows'
t_eq "... and its own 2 1 1 record alone is printed" \
	"$(printf '%s\n' "$out" | grep -c '^_25.* 2 1 1 ')" 1
# A chain whose issuer is a root: no 2 1 1 record.
CERT_ISSUER=$G/x1 CERT_CHAIN=$G/x1.pem tree_leaf "$LE" "$CA" byroot.example.test ec256 byroot.example.test >/dev/null 2>&1
G1 resync >/dev/null 2>&1
out=$(G1 tlsa byroot.example.test 2>&1)
t_eq "issued by a root: a 3 1 1 record, no 2 1 1" \
	"$(printf '%s\n' "$out" | grep '^_25' | awk '{print $4, $5, $6}' | tr '\n' ' ')" "3 1 1 "
t_match "issued by a root: says why" "$out" 'issued by snisync test Root X1, a root: no 2 1 1 record'
printf 'snisync-test-y Y1 current 00\n' >"$T/bad-issuers"
sed 's|^{|{"dane": {"issuers_file": "'"$T"'/bad-issuers"}, |' "$T/c.json" >"$T/bad.json"
out=$("$SNISYNC" -c "$T/bad.json" tlsa 2>&1)
t_eq "a bad dane.issuers_file: exit 3" "$?" 3
t_match "a bad dane.issuers_file: file, line and reason" "$out" \
	"error: dane\.issuers_file: $T/bad-issuers:1: "

# Last: a served file damaged behind snisync's back.
served=$(sed -n 's/^mail\.example\.test //p' "$T/pf/tls_sni")
printf 'junk' >>"$served"
out=$("$SNISYNC" -c "$T/c.json" tlsa mail.example.test 2>&1)
t_eq "a damaged served file: exit 1" "$?" 1
t_match "a damaged served file: named, nothing printed for it" "$out" \
	'error: mail\.example\.test: .*/served/mail\.example\.test\.pem: does not hold the pair the state records'
t_nomatch "a damaged served file: no record printed" "$out" 'IN TLSA'

t_done
