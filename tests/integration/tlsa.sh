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
	"$(printf '%s\n' "$out" | grep -c ' 3 1 1 ')" = 4 -a \
	"$(printf '%s\n' "$out" | grep ' 3 1 1 ' | awk '{print $NF}' | sort -u | wc -l)" = 3
t_match "a wildcard is printed as a comment" "$(printf '%s\n' "$out" | grep -F '*.example.test')" \
	'^; '
t_nomatch "no uncommented wildcard owner" "$out" '^_25\._tcp\.\*'

out=$("$SNISYNC" -c "$T/c.json" tlsa --port 465 EC.Example.Test. 2>&1)
t_eq "one name, any case, trailing dot: exit 0" "$?" 0
t_eq "--port 465: only that name, in the owner name" \
	"$(printf '%s\n' "$out" | awk '{print $1, $4, $5, $6}' | sort | tr '\n' ' ')" \
	"_465._tcp.ec.example.test. 2 1 1 _465._tcp.ec.example.test. 3 1 1 "
out=$("$SNISYNC" -c "$T/c.json" tlsa nope.example.test 2>&1)
t_eq "a name not served: exit 1" "$?" 1
t_match "a name not served: says so" "$out" 'error: nope\.example\.test: not a name snisync serves'
"$SNISYNC" -c "$T/c.json" tlsa --port 0 >/dev/null 2>&1
t_eq "--port 0: usage error" "$?" 2
served=$(sed -n 's/^mail\.example\.test //p' "$T/pf/tls_sni")
printf 'junk' >>"$served"
out=$("$SNISYNC" -c "$T/c.json" tlsa mail.example.test 2>&1)
t_eq "a damaged served file: exit 1" "$?" 1
t_match "a damaged served file: named, nothing printed for it" "$out" \
	'error: mail\.example\.test: .*/served/mail\.example\.test\.pem: does not hold the pair the state records'
t_nomatch "a damaged served file: no record printed" "$out" 'IN TLSA'

t_done
