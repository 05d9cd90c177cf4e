# dovecot_limit.sh - a Dovecot include that passes `doveconf -xn` but
# needs more memory than Dovecot's config service may use is never put in
# service: a real Dovecot with a small `service config { vsz_limit }`
# (64M for 2.3, 80M for 2.4: tests/lib/dovecot-grow.sh) serves 100
# two-name lineages; growing the tree past it (600 lineages for 2.3,
# 1,000 for 2.4) keeps
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
t_eq "100 lineages fit under $GROW_LIMIT MB: resync exits 0" "$?" 0
t_eq "Dovecot serves an old name its certificate" "$(served "$old")" "$old"

grow_more $((GROW_TO - 100)) 100
cp "$DC_CONFD/99-snisync.conf" "$T/include.before"
S resync >"$T/r2.log" 2>&1
t_eq "$GROW_TO lineages do not fit under $GROW_LIMIT MB: resync exits 4" "$?" 4
line=$(grep 'dovecot: the new configuration needs' "$T/r2.log")
t_match "one line with the need, the limit, the counts and the remedy" "$line" \
	"^snisync: error: dovecot: the new configuration needs about [0-9]+ MB but service config is limited to $GROW_LIMIT MB \\($NEWB blocks, $NEWN names\\): kept the previous one \\($OLDB blocks\\); raise it with: service config \\{ vsz_limit = [0-9]+[MG] \\}\$"
t_check "the previous include is kept byte for byte" cmp -s "$DC_CONFD/99-snisync.conf" "$T/include.before"
t_eq "Dovecot still serves the old name" "$(served "$old")" "$old"
t_eq "Postfix's map has the new name" \
	"$(in_map "$new")" "$new"
t_check "no temp file left beside the include" \
	sh -c "! ls '$DC_CONFD' | grep -q tmp"
out=$(S status 2>&1); rc=$?
t_eq "status exits 1 while Dovecot is held back" "$rc" 1
t_match "status: held back (does not fit), names lacking" "$out" \
	"dovecot: HELD BACK since [0-9-]+ [0-9:]+ UTC \\(does not fit\\): the config in service lacks $LACK of $NEWN names \\($OLDB blocks in service\\); raise service config \\{ vsz_limit = [0-9]+[MG] \\}"
t_match "status: capacity of the new include, above 80 %, what to raise" "$out" \
	"dovecot: capacity: $NEWB blocks need about [0-9]+ MB of service config.s $GROW_LIMIT MB \\([0-9]+ %\\); above 80 %: raise it with service config \\{ vsz_limit = [0-9]+[MG] \\}"
out=$(S setup --postfix-dir "$T/pfc" --dovecot-config "$DC_CONF" 2>&1)
t_match "setup: Dovecot held back, with what to raise" "$out" \
	"dovecot: HELD BACK since .* \\(does not fit\\): the config in service lacks $LACK of $NEWN names"
t_match "setup: the capacity line, above 80 %" "$out" \
	"dovecot: capacity: $NEWB blocks need about [0-9]+ MB of service config.s $GROW_LIMIT MB \\([0-9]+ %\\); above 80 %"
if [ "$DC_VER" = 2.3 ]; then
	t_match "setup: 2.3's handshake guidance" "$out" \
		'dovecot: 2\.3 parses every block again at each reload: above about [0-9]+ blocks the first handshake after a reload takes more than a second'
else
	t_nomatch "setup: no 2.3 handshake guidance for 2.4" "$out" 'dovecot: 2\.3 parses every block'
fi
t_eq "status --json: held_back reason and names lacking, memory limit" \
	"$(S status --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["services"]["dovecot"]; h=d["held_back"]; print(h["reason"], h["names_lacking"], d["memory_limit"], d["blocks"], d["memory_need"] > d["memory_limit"])')" \
	"does not fit $LACK $((GROW_LIMIT << 20)) $NEWB True"

sed -i "s/vsz_limit = ${GROW_LIMIT}M/vsz_limit = 1G/" "$DC_CONF"
doveadm -c "$DC_CONF" reload
sleep 1
S resync >"$T/r3.log" 2>&1
t_eq "with vsz_limit = 1G the same tree applies: resync exits 0" "$?" 0
t_eq "Dovecot serves the new name" "$(served "$new")" "$new"
t_eq "and still the old one" "$(served "$old")" "$old"
out=$(S status 2>&1)
t_nomatch "status: no longer held back" "$out" 'HELD BACK'
t_match "status: capacity under 1 GB, no advice" "$out" \
	"dovecot: capacity: $NEWB blocks need about [0-9]+ MB of service config.s 1024 MB \\([0-9]+ %\\)\$"
t_done
