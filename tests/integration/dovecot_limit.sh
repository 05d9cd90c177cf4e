# dovecot_limit.sh - a Dovecot include that passes `doveconf -xn` but
# needs more memory than Dovecot's config service may use is never put in
# service: a real Dovecot 2.3 with `service config { vsz_limit = 64M }`
# serves 100 two-name lineages; growing the tree to 600 lineages keeps
# the previous include (Dovecot still serves every old name), the map
# still gets every name (Postfix has no such limit), resync exits 4 with
# one line naming the numbers and the remedy; with the limit raised the
# same resync applies everything and Dovecot serves the new names.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
LE=$T/le
mkdir -p "$T/pf" "$T/pfc"
: >"$T/pfc/main.cf"
/usr/bin/python3 "$T_TOP/bench/gentree.py" "$LE" 100 --names 2 2>/dev/null ||
	{ t_fail "gentree 100 lineages"; exit 1; }
certs_ca "$T/ca" >/dev/null
certs_leaf "$T/ca" "$T/default" ec256 default.example.test
cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
DC_CONF_EXTRA='service config {
  vsz_limit = 64M
}' dc_start "$T/dc" "$T/default.key" "$T/default.full" || { t_fail "dovecot start"; exit 1; }
cat >"$T/c.json" <<JSON
{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
 "postfix": {"map": "$T/pf/tls_sni", "reload": null},
 "dovecot": {"config": "$DC_CONFD/99-snisync.conf",
             "doveconf": ["doveconf", "-c", "$DC_CONF"],
             "check": ["doveconf", "-xn", "-c", "$DC_CONF"],
             "reload": ["doveadm", "-c", "$DC_CONF", "reload"]}}
JSON
S() { "$SNISYNC" -c "$T/c.json" "$@"; }
# served NAME: CN of the leaf Dovecot's IMAPS serves for NAME
served() {
	timeout 10 openssl s_client -connect "127.0.0.1:$DC_IMAPS_PORT" \
		-servername "$1" </dev/null 2>/dev/null |
		openssl x509 -noout -subject -nameopt multiline 2>/dev/null |
		sed -n 's/^ *commonName *= *//p'
}
old=bench-00042.example.test new=bench-00420.example.test

S resync >"$T/r1.log" 2>&1
t_eq "100 lineages fit under 64 MB: resync exits 0" "$?" 0
t_eq "Dovecot serves an old name its certificate" "$(served "$old")" "$old"

/usr/bin/python3 "$T_TOP/bench/gentree.py" "$LE" 500 --names 2 --start 100 2>/dev/null
cp "$DC_CONFD/99-snisync.conf" "$T/include.before"
S resync >"$T/r2.log" 2>&1
t_eq "600 lineages do not fit under 64 MB: resync exits 4" "$?" 4
line=$(grep 'dovecot: the new configuration needs' "$T/r2.log")
t_match "one line with the need, the limit, the counts and the remedy" "$line" \
	'^snisync: error: dovecot: the new configuration needs about [0-9]+ MB but service config is limited to 64 MB \(600 blocks, 1200 names\): kept the previous one \(100 blocks\); raise it with: service config \{ vsz_limit = [0-9]+[MG] \}$'
t_check "the previous include is kept byte for byte" cmp -s "$DC_CONFD/99-snisync.conf" "$T/include.before"
t_eq "Dovecot still serves the old name" "$(served "$old")" "$old"
t_eq "Postfix's map has the new name" \
	"$(postmap -c "$T/pfc" -F -q "$new" "lmdb:$T/pf/tls_sni" | openssl x509 -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/^ *commonName *= *//p')" "$new"
t_check "no temp file left beside the include" \
	sh -c "! ls '$DC_CONFD' | grep -q tmp"

sed -i 's/vsz_limit = 64M/vsz_limit = 1G/' "$DC_CONF"
doveadm -c "$DC_CONF" reload
sleep 1
S resync >"$T/r3.log" 2>&1
t_eq "with vsz_limit = 1G the same tree applies: resync exits 0" "$?" 0
t_eq "Dovecot serves the new name" "$(served "$new")" "$new"
t_eq "and still the old one" "$(served "$old")" "$old"
t_done
