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
. "$T_TOP/tests/lib/dovecot-grow.sh"
grow_setup || exit 1
cat >"$T/c.json" <<JSON
{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
 "postfix": {"map": "$T/pf/tls_sni", "reload": null},
 "dovecot": {"config": "$DC_CONFD/99-snisync.conf",
             "doveconf": ["doveconf", "-c", "$DC_CONF"],
             "check": ["doveconf", "-xn", "-c", "$DC_CONF"],
             "reload": ["doveadm", "-c", "$DC_CONF", "reload"]}}
JSON
old=bench-00042.example.test new=bench-00420.example.test

S resync >"$T/r1.log" 2>&1
t_eq "100 lineages fit under 64 MB: resync exits 0" "$?" 0
t_eq "Dovecot serves an old name its certificate" "$(served "$old")" "$old"

grow_more 500 100
cp "$DC_CONFD/99-snisync.conf" "$T/include.before"
S resync >"$T/r2.log" 2>&1
t_eq "600 lineages do not fit under 64 MB: resync exits 4" "$?" 4
line=$(grep 'dovecot: the new configuration needs' "$T/r2.log")
t_match "one line with the need, the limit, the counts and the remedy" "$line" \
	'^snisync: error: dovecot: the new configuration needs about [0-9]+ MB but service config is limited to 64 MB \(600 blocks, 1200 names\): kept the previous one \(100 blocks\); raise it with: service config \{ vsz_limit = [0-9]+[MG] \}$'
t_check "the previous include is kept byte for byte" cmp -s "$DC_CONFD/99-snisync.conf" "$T/include.before"
t_eq "Dovecot still serves the old name" "$(served "$old")" "$old"
t_eq "Postfix's map has the new name" \
	"$(in_map "$new")" "$new"
t_check "no temp file left beside the include" \
	sh -c "! ls '$DC_CONFD' | grep -q tmp"
out=$(S status 2>&1); rc=$?
t_eq "status exits 1 while Dovecot is held back" "$rc" 1
t_match "status: held back (does not fit), names lacking" "$out" \
	'dovecot: HELD BACK since [0-9-]+ [0-9:]+ UTC \(does not fit\): the config in service lacks 1000 of 1200 names \(100 blocks in service\); raise service config \{ vsz_limit = [0-9]+[MG] \}'
t_match "status: capacity of the new include, above 80 %, what to raise" "$out" \
	'dovecot: capacity: 600 blocks need about [0-9]+ MB of service config.s 64 MB \([0-9]+ %\); above 80 %: raise it with service config \{ vsz_limit = [0-9]+[MG] \}'
out=$(S setup --postfix-dir "$T/pfc" --dovecot-config "$DC_CONF" 2>&1)
t_match "setup: Dovecot held back, with what to raise" "$out" \
	'dovecot: HELD BACK since .* \(does not fit\): the config in service lacks 1000 of 1200 names'
t_match "setup: the capacity line, above 80 %" "$out" \
	'dovecot: capacity: 600 blocks need about [0-9]+ MB of service config.s 64 MB \([0-9]+ %\); above 80 %'
t_match "setup: 2.3's handshake guidance" "$out" \
	'dovecot: 2\.3 parses every block again at each reload: above about [0-9]+ blocks the first handshake after a reload takes more than a second'
t_eq "status --json: held_back reason and names lacking, memory limit" \
	"$(S status --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["services"]["dovecot"]; h=d["held_back"]; print(h["reason"], h["names_lacking"], d["memory_limit"], d["blocks"], d["memory_need"] > d["memory_limit"])')" \
	"does not fit 1000 67108864 600 True"

sed -i 's/vsz_limit = 64M/vsz_limit = 1G/' "$DC_CONF"
doveadm -c "$DC_CONF" reload
sleep 1
S resync >"$T/r3.log" 2>&1
t_eq "with vsz_limit = 1G the same tree applies: resync exits 0" "$?" 0
t_eq "Dovecot serves the new name" "$(served "$new")" "$new"
t_eq "and still the old one" "$(served "$old")" "$old"
out=$(S status 2>&1)
t_nomatch "status: no longer held back" "$out" 'HELD BACK'
t_match "status: capacity under 1 GB, no advice" "$out" \
	'dovecot: capacity: 600 blocks need about [0-9]+ MB of service config.s 1024 MB \([0-9]+ %\)$'
t_done
