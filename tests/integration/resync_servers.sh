# resync_servers.sh - real Postfix and Dovecot on 127.0.0.1 serve what
# snisync resync wrote: every name its own certificate on SMTP STARTTLS,
# IMAPS, IMAP STARTTLS, POP3S and POP3 STARTTLS; a renewal is served after
# resync; a broken renewal keeps the last good pair in service; a deleted
# lineage's names are dropped while everything else keeps working; a
# renewal with the same names replaces one served file and reloads with
# no new include to check; a Dovecot config that fails its check (a
# renewal that adds a name) is rolled back and not reloaded.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
mkdir -p "$T/pf"
tree_standard "$LE" "$T/ca" || { t_fail "fixture tree"; exit 1; }
stack_start "$T" "$MAP"
conf() {	# conf FILE CHECK-ARGV
	stack_conf "$1" "$LE" "$T/state" "$MAP"
	sed -i "s|\"check\": \\[[^]]*\\]|\"check\": $2|" "$1"
}
conf "$T/conf.json" "[\"doveconf\", \"-xn\", \"-c\", \"$DC_CONF\"]"
conf "$T/badcheck.json" '["/bin/false"]'
reloads() { stack_reloads "$@"; }

# probe_all NAME WANT-FP DESC: NAME's certificate on all five endpoints.
probe_all() {
	local name=$1 want=$2 desc=$3 ep port mode got bad=""
	for ep in "smtp:$PF_PORT:smtp" "imaps:$DC_IMAPS_PORT:tls" \
		"imap:$DC_IMAP_PORT:imap" "pop3s:$DC_POP3S_PORT:tls" \
		"pop3:$DC_POP3_PORT:pop3"; do
		IFS=: read -r ep port mode <<<"$ep"
		got=$(probe_fp "$port" "$mode" "$name")
		[ "$got" = "$want" ] || bad="$bad $ep=$got"
	done
	if [ -z "$bad" ]; then t_ok "$desc"; else t_fail "$desc:$bad"; fi
}
# A Postfix key ".example.test" is probed with a name under it.
probe_name() { case $1 in .*) echo "any$1" ;; *) echo "$1" ;; esac; }
fp_of() { certs_fp "$LE/live/$1/cert.pem"; }

"$SNISYNC" -c "$T/conf.json" resync 2>"$T/err1"
t_eq "first resync exits 1 (rejected lineages reported)" "$?" 1
t_eq "first resync reloaded postfix once" "$(reloads "$T/pf.reloads")" 1
t_eq "first resync reloaded dovecot once" "$(reloads "$T/dc.reloads")" 1

for name in "${!TREE_EXPECT[@]}"; do
	lin=${TREE_EXPECT[$name]}
	probe_all "$(probe_name "$name")" "$(fp_of "$lin")" \
		"$(probe_name "$name") is served $lin's certificate everywhere"
done
# Rejected lineages' names are not served their broken pair: they fall
# under the *.example.test wildcard; a name nothing covers gets the default.
for name in expired.example.test mismatch.example.test order.example.test; do
	probe_all "$name" "$(fp_of example.test)" \
		"$name (lineage rejected) gets the wildcard's certificate"
done
probe_all unknown.example.org "$DEFAULT_FP" "an unknown name gets the default certificate"

# --- a renewal is served after resync ------------------------------------
old_fp=$(fp_of mail.example.test)
tree_leaf "$LE" "$T/ca" mail.example.test rsa2048 mail.example.test \
	imap.example.test smtp.example.test
new_fp=$(fp_of mail.example.test)
t_check "renewal made a new certificate" test "$old_fp" != "$new_fp"
"$SNISYNC" -c "$T/conf.json" resync 2>>"$T/err2"
for name in mail.example.test imap.example.test smtp.example.test; do
	probe_all "$name" "$new_fp" "after renewal, $name serves the new leaf"
done
t_eq "renewal: one more reload of each service" \
	"$(reloads "$T/pf.reloads") $(reloads "$T/dc.reloads")" "2 2"

# --- a broken renewal keeps the last good pair in service -----------------
ec_fp=$(fp_of ec.example.test)
w=$T/broken && mkdir -p "$w"
certs_leaf "$T/ca" "$w/ec" ec256 ec.example.test pop.example.test &&
	certs_leaf "$T/ca" "$w/x" ec256 x.example.test &&
	lineage_add "$LE" ec.example.test "$w/x.key" "$w/ec.crt" "$w/ec.chain"
"$SNISYNC" -c "$T/conf.json" resync 2>"$T/err3"
t_eq "resync with a broken renewal exits 1" "$?" 1
t_check "the broken renewal is reported in one line" grep -q \
	'^snisync: error: lineage ec.example.test: fullchain.pem: private key does not match the certificate$' "$T/err3"
t_check "and it says the last good pair stays" grep -q \
	'^snisync: warning: lineage ec.example.test: still serving its last good certificate' "$T/err3"
probe_all ec.example.test "$ec_fp" "broken renewal: ec.example.test keeps its last good leaf"
probe_all pop.example.test "$ec_fp" "broken renewal: pop.example.test keeps its last good leaf"
probe_all mail.example.test "$new_fp" "broken renewal: other lineages unaffected"
t_eq "broken renewal changed nothing, reloaded nothing" \
	"$(reloads "$T/pf.reloads") $(reloads "$T/dc.reloads")" "2 2"

# --- deletion ----------------------------------------------------------------
lineage_delete "$LE" www.example.test-0001
lineage_delete "$LE" ed.example.test
"$SNISYNC" -c "$T/conf.json" resync 2>"$T/err4"
probe_all www.example.test "$(fp_of www.example.test)" \
	"after deleting the -0001 lineage, www.example.test falls back to its other lineage"
probe_all ed.example.test "$(fp_of example.test)" \
	"a deleted lineage's name is no longer served its certificate (wildcard now)"
probe_all example.test "$(fp_of example.test)" "after deletions the others are still served"
t_check "deleted lineage logged" grep -q 'lineage ed.example.test: gone from' "$T/err4"
t_check "postfix still running" postfix -c "$PF_CONF" status
t_check "dovecot still running" test -e "/proc/$(cat "$T/dovecot/run/master.pid")"

# --- a renewal with the same names needs no new include, so no check -------
before=$(cat "$DC_CONFD/99-snisync.conf")
tree_leaf "$LE" "$T/ca" example.test ec384 '*.example.test' example.test
dcr=$(reloads "$T/dc.reloads")
"$SNISYNC" -c "$T/badcheck.json" resync 2>"$T/err5"
t_eq "same-names renewal under a failing check: applied (exit 1: rejects remain)" "$?" 1
t_eq "same-names renewal: the include is byte-identical" \
	"$(cat "$DC_CONFD/99-snisync.conf")" "$before"
t_nomatch "same-names renewal: no config check ran" "$(cat "$T/err5")" 'rejected the new config'
t_eq "same-names renewal: dovecot reloaded once" "$(reloads "$T/dc.reloads")" $((dcr + 1))
probe_all any.example.test "$(fp_of example.test)" \
	"same-names renewal: served everywhere from the replaced file"

# --- one lineage renewed with --lineage: the renewal path -----------------
# It reads the lineage's record alone and renders nothing: the include and
# the map source stay as they are, both services reload, and the real
# servers serve the new leaf.
before=$(cat "$DC_CONFD/99-snisync.conf")
src_id=$(stat -c '%i %Y' "$MAP")
old_fp=$(fp_of example.test)
tree_leaf "$LE" "$T/ca" example.test ec384 '*.example.test' example.test
pfr=$(reloads "$T/pf.reloads")
dcr=$(reloads "$T/dc.reloads")
"$SNISYNC" -v -c "$T/conf.json" resync --lineage example.test 2>"$T/err7"
t_eq "--lineage renewal: exit 0 (only this lineage looked at)" "$?" 0
t_check "--lineage renewal: took the renewal path" grep -q \
	'debug: renewal path: 1 lineage renewing the names it serves alone' "$T/err7"
t_match "--lineage renewal: Dovecot check not run" "$(cat "$T/err7")" \
	'timing: .*(Dovecot check 0 ms)'
t_eq "--lineage renewal: the include is byte-identical" \
	"$(cat "$DC_CONFD/99-snisync.conf")" "$before"
t_eq "--lineage renewal: the map source not rewritten" "$(stat -c '%i %Y' "$MAP")" "$src_id"
t_eq "--lineage renewal: postfix reloaded once" "$(reloads "$T/pf.reloads")" $((pfr + 1))
t_eq "--lineage renewal: dovecot reloaded once" "$(reloads "$T/dc.reloads")" $((dcr + 1))
t_check "--lineage renewal: a new leaf" test "$old_fp" != "$(fp_of example.test)"
probe_all any.example.test "$(fp_of example.test)" \
	"--lineage renewal: served everywhere"
probe_all example.test "$(fp_of example.test)" \
	"--lineage renewal: its other name too"

# --- a Dovecot check failure rolls back and does not reload ----------------
before=$(cat "$DC_CONFD/99-snisync.conf")
wild_fp=$(fp_of example.test)
tree_leaf "$LE" "$T/ca" example.test ec384 '*.example.test' example.test new.example.test
dcr=$(reloads "$T/dc.reloads")
"$SNISYNC" -c "$T/badcheck.json" resync 2>"$T/err5"
t_eq "failed dovecot check: exit 4" "$?" 4
t_check "failed dovecot check is reported" grep -q \
	'dovecot: /bin/false rejected the new config (exit status 1); previous config restored' "$T/err5"
t_eq "failed dovecot check: previous dovecot file restored" \
	"$(cat "$DC_CONFD/99-snisync.conf")" "$before"
t_eq "failed dovecot check: dovecot not reloaded" "$(reloads "$T/dc.reloads")" "$dcr"
probe_all_pf() { t_eq "$3" "$(probe_fp "$PF_PORT" smtp "$1")" "$2"; }
probe_all_pf new.example.test "$(fp_of example.test)" \
	"failed dovecot check: postfix still got the renewal (and its new name)"
t_eq "failed dovecot check: dovecot serves the previous wildcard leaf" \
	"$(probe_fp "$DC_IMAPS_PORT" tls any.example.test)" "$wild_fp"
t_check "failed dovecot check: the config in service still parses" \
	sh -c "doveconf -xn -c '$DC_CONF' >/dev/null"
"$SNISYNC" -c "$T/conf.json" resync 2>"$T/err6"
t_eq "with a passing check the next resync applies it (exit 1: rejects remain)" "$?" 1
probe_all any.example.test "$(fp_of example.test)" "next resync serves the renewal everywhere"
t_done
