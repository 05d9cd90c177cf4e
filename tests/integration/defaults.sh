# defaults.sh - default certificates read straight from live/ (the one a
# service serves without SNI): a real Postfix (main.cf and a master.cf -o
# override) and a real Dovecot (global ssl_cert on 2.3, ssl_server_cert_file
# on 2.4) point into lineages.
# When such a lineage renews, snisync reloads the service even though no
# SNI entry changed, and the services then serve the new certificate
# without SNI; with the queries turned off (the control) nothing is
# reloaded and Dovecot keeps the old one. While the lineage is
# half-swapped (privkey.pem new, fullchain.pem old) snisync warns and
# holds the reloads back (Dovecot keeps serving the whole pair it read;
# a reload now would make it read the mismatched pair and fail every
# handshake); once the swap completes the held reloads run.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
CR=$T_TOP/tests/lib/count-run
certs_ca "$CA" >/dev/null 2>&1
# mx: the default certificate. mx-new claims the same name with a later
# notBefore, so mx's renewals (backdated) never change an SNI entry.
CERT_START=$(_certs_date '-3 days') tree_leaf "$LE" "$CA" mx ec256 mx.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" mx-new ec256 mx.example.test >/dev/null 2>&1
CERT_START=$(_certs_date '-3 days') tree_leaf "$LE" "$CA" sub ec256 sub.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" other ec256 other.example.test >/dev/null 2>&1
fp_of() { certs_fp "$LE/live/$1/cert.pem"; }

SUB_PORT=$(t_free_port)
PF_MASTER_EXTRA="127.0.0.1:$SUB_PORT inet n - n - - smtpd
  -o smtpd_tls_chain_files=$LE/live/sub/privkey.pem,$LE/live/sub/fullchain.pem"
export PF_MASTER_EXTRA
mkdir -p "$T/pf"
pf_start "$T/postfix" "$LE/live/mx/privkey.pem" "$LE/live/mx/fullchain.pem" "$T/pf/tls_sni" ||
	{ t_fail "postfix starts"; exit 1; }
dc_start "$T/dovecot" "$LE/live/mx/privkey.pem" "$LE/live/mx/fullchain.pem" ||
	{ t_fail "dovecot starts"; exit 1; }
# The names of Dovecot's default certificate settings, as snisync says them.
DCERT=$(dc_setting cert) DKEY=$(dc_setting key)

# conf FILE QUERIES: QUERIES is "on" (postconf/doveconf with the private
# instances' configs) or "off" (null: not asked).
conf() {
	local pq='["postconf", "-c", "'"$PF_CONF"'"]' dq='["doveconf", "-c", "'"$DC_CONF"'"]'
	[ "$2" = on ] || pq=null dq=null
	cat >"$1" <<-EOF
	{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
	 "postfix": {"map": "$T/pf/tls_sni", "postconf": $pq,
	   "reload": ["$CR", "$T/pf.reloads", "postfix", "-c", "$PF_CONF", "reload"]},
	 "dovecot": {"config": "$DC_CONFD/99-snisync.conf", "version": "$DC_VER",
	   "doveconf": $dq,
	   "check": ["doveconf", "-xn", "-c", "$DC_CONF"],
	   "reload": ["$CR", "$T/dc.reloads", "doveadm", "-c", "$DC_CONF", "reload"]}}
	EOF
}
conf "$T/on.json" on
conf "$T/off.json" off
pfr() { stack_reloads "$T/pf.reloads"; }
dcr() { stack_reloads "$T/dc.reloads"; }
# wait_fp PORT MODE FP: the no-SNI certificate becomes FP within 10 s
# (a reloaded Postfix restarts its smtpd processes as they finish).
wait_fp() {
	probe_until "$1" "$2" "" "$3"
	probe_fp "$1" "$2" ""
}

# half_swap PREFIX: certbot stopped between its link swaps: archive
# version N of mx written (a new leaf and key at PREFIX.*), only
# privkey.pem switched. finish_swap: the other three links.
half_swap() {
	certs_leaf "$CA" "$1" ec256 mx.example.test >/dev/null 2>&1 || return 1
	n=$(($(_lineage_maxver "$LE/archive/mx") + 1))
	install -m 0600 "$1.key" "$LE/archive/mx/privkey$n.pem" &&
	install -m 0644 "$1.crt" "$LE/archive/mx/cert$n.pem" &&
	install -m 0644 "$1.chain" "$LE/archive/mx/chain$n.pem" &&
	cat "$1.crt" "$1.chain" >"$LE/archive/mx/fullchain$n.pem" &&
	ln -sfn "../../archive/mx/privkey$n.pem" "$LE/live/mx/privkey.pem"
}
finish_swap() {
	local k
	for k in cert chain fullchain; do
		ln -sfn "../../archive/mx/$k$n.pem" "$LE/live/mx/$k.pem"
	done
}

out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_eq "first resync: exit 0" "$?" 0
t_eq "postfix without SNI serves lineage mx" "$(probe_fp "$PF_PORT" smtp "")" "$(fp_of mx)"
t_eq "dovecot without SNI serves lineage mx" "$(probe_fp "$DC_IMAPS_PORT" tls "")" "$(fp_of mx)"
t_eq "mx.example.test by SNI is lineage mx-new" \
	"$(probe_fp "$DC_IMAPS_PORT" tls mx.example.test)" "$(fp_of mx-new)"
src_before=$(sha256sum <"$T/pf/tls_sni")
dc_before=$(sha256sum <"$DC_CONFD/99-snisync.conf")
p0=$(pfr) d0=$(dcr)

# --- the control: queries off, mx renewed: nothing to reload
old_mx=$(fp_of mx)
CERT_START=$(_certs_date '-2 days') tree_leaf "$LE" "$CA" mx ec256 mx.example.test >/dev/null 2>&1
out=$("$SNISYNC" -c "$T/off.json" resync 2>&1)
t_eq "queries off, mx renewed: exit 0" "$?" 0
t_eq "queries off: postfix not reloaded" "$(pfr)" "$p0"
t_eq "queries off: dovecot not reloaded" "$(dcr)" "$d0"
t_eq "queries off: dovecot still serves the old default (what snisync fixes)" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$old_mx"

# --- mx renewed again, queries on: both reloaded, no SNI entry changed
CERT_START=$(_certs_date '-1 days') tree_leaf "$LE" "$CA" mx ec256 mx.example.test >/dev/null 2>&1
out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_eq "mx renewed: exit 0" "$?" 0
t_eq "the SNI map source did not change" "$(sha256sum <"$T/pf/tls_sni")" "$src_before"
t_eq "the Dovecot include did not change" "$(sha256sum <"$DC_CONFD/99-snisync.conf")" "$dc_before"
t_match "postfix: says why it reloads" "$out" \
	'postfix: smtpd_tls_chain_files \(and tlsproxy_tls_chain_files\) reads lineage mx, which changed: reload due'
t_match "dovecot: says why it reloads" "$out" \
	"dovecot: $DCERT \\(and $DKEY\\) reads lineage mx, which changed: reload due"
t_match "summary: reloaded for the default certificate" "$out" \
	'postfix: reloaded \(default certificate renewed\); dovecot: reloaded \(default certificate renewed\)'
t_eq "postfix reloaded once" "$(pfr)" "$((p0 + 1))"
t_eq "dovecot reloaded once" "$(dcr)" "$((d0 + 1))"
t_eq "postfix without SNI now serves the renewed mx" "$(wait_fp "$PF_PORT" smtp "$(fp_of mx)")" "$(fp_of mx)"
t_eq "dovecot without SNI now serves the renewed mx" "$(probe_fp "$DC_IMAPS_PORT" tls "")" "$(fp_of mx)"

out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_match "nothing changed: nothing reloaded" "$out" 'nothing changed'
t_eq "nothing changed: no postfix reload" "$(pfr)" "$((p0 + 1))"
t_eq "nothing changed: no dovecot reload" "$(dcr)" "$((d0 + 1))"

# --- a master.cf override (-o smtpd_tls_chain_files) is a default too
p1=$(pfr)
CERT_START=$(_certs_date '-1 days') tree_leaf "$LE" "$CA" sub ec256 sub.example.test >/dev/null 2>&1
out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_match "master.cf override: names the service and the lineage" "$out" \
	"postfix: 127\\.0\\.0\\.1:$SUB_PORT/inet/smtpd_tls_chain_files reads lineage sub, which changed"
t_eq "master.cf override: postfix reloaded once" "$(pfr)" "$((p1 + 1))"
t_eq "master.cf override: that smtpd serves the renewed sub without SNI" \
	"$(wait_fp "$SUB_PORT" smtp "$(fp_of sub)")" "$(fp_of sub)"

# --- mx half-swapped (certbot between its link swaps) while another
# lineage renews: warned, reloads held; Dovecot keeps a whole pair.
p2=$(pfr) d2=$(dcr)
served_mx=$(fp_of mx)
# Dovecot 2.3 reads ssl_cert's file at the first connection after a
# reload, not at the reload: connect once so it holds the whole pair.
t_eq "before the swap: dovecot without SNI serves mx" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$served_mx"
CERT_START=$(_certs_date '-20 hours') half_swap "$T/next"
tree_leaf "$LE" "$CA" other ec256 other.example.test >/dev/null 2>&1
out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_match "half-swapped: postfix warning names the setting and the lineage" "$out" \
	'postfix: smtpd_tls_chain_files \(and tlsproxy_tls_chain_files\) reads lineage mx from live/, which is mid-renewal or half-swapped: .*reload held back until it is whole'
t_match "half-swapped: dovecot warning names both settings" "$out" \
	"dovecot: $DCERT \\(and $DKEY\\) reads lineage mx from live/, which is mid-renewal or half-swapped"
t_eq "half-swapped: one warning per service for the lineage" \
	"$(printf '%s\n' "$out" | grep -c 'reads lineage mx from live/')" 2
t_match "half-swapped: the summary says the reloads wait" "$out" \
	'postfix: updated, reload held back: its default certificate is mid-renewal; dovecot: updated, reload held back'
t_eq "half-swapped: postfix not reloaded" "$(pfr)" "$p2"
t_eq "half-swapped: dovecot not reloaded" "$(dcr)" "$d2"
t_eq "half-swapped: dovecot still serves the last whole mx pair" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$served_mx"
t_eq "half-swapped: the reloads are recorded as pending" \
	"$("$SNISYNC" -c "$T/on.json" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"]
print(s["postfix"]["reload_pending"], s["dovecot"]["reload_pending"])')" "True True"

# certbot finishes the swap: the held reloads run, everything is new.
finish_swap
out=$("$SNISYNC" -c "$T/on.json" resync 2>&1)
t_eq "swap completed: exit 0" "$?" 0
t_eq "swap completed: postfix reloaded once" "$(pfr)" "$((p2 + 1))"
t_eq "swap completed: dovecot reloaded once" "$(dcr)" "$((d2 + 1))"
t_eq "swap completed: dovecot without SNI serves the new mx" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$(certs_fp "$T/next.crt")"
t_eq "swap completed: postfix without SNI serves the new mx" \
	"$(wait_fp "$PF_PORT" smtp "$(certs_fp "$T/next.crt")")" "$(certs_fp "$T/next.crt")"
t_eq "swap completed: dovecot serves the renewed other by SNI" \
	"$(probe_fp "$DC_IMAPS_PORT" tls other.example.test)" "$(fp_of other)"
t_nomatch "no key material in any output" "$out" 'PRIVATE KEY'

# --- the daemon: other renewed and mx half-swapped in one burst; the
# reloads wait (no failure, no retry backoff) until certbot finishes.
# Its doveconf queries are counted (count-run): Dovecot is asked once,
# at the start, and again only after a change of its configuration
# files or SIGHUP.
sed -e 's/^{/{"watch": {"settle_ms": 200}, /' \
	-e "s|\"doveconf\": \\[\"doveconf\"|\"doveconf\": [\"$CR\", \"$T/dq.calls\", \"doveconf\"|" \
	"$T/on.json" >"$T/watch.json"
dq() { stack_reloads "$T/dq.calls"; }
"$SNISYNC" -c "$T/watch.json" watch >"$T/watch.log" 2>&1 &
DAEMON=$!
t_atexit "kill $DAEMON"
for ((i = 0; i < 100; i++)); do
	grep -q 'watching' "$T/watch.log" 2>/dev/null && break
	sleep 0.1
done
p3=$(pfr) d3=$(dcr)
served_mx=$(probe_fp "$DC_IMAPS_PORT" tls "")
CERT_START=$(_certs_date '-10 hours') half_swap "$T/next2"
tree_leaf "$LE" "$CA" other ec256 other.example.test >/dev/null 2>&1
for ((i = 0; i < 300; i++)); do	# slow under valgrind
	grep -q 'reload held back: its default' "$T/watch.log" && break
	sleep 0.1
done
t_match "watch: the run during the swap holds the reloads" "$(cat "$T/watch.log")" \
	'reload held back: its default certificate is mid-renewal'
t_eq "watch, mid-swap: postfix not reloaded" "$(pfr)" "$p3"
t_eq "watch, mid-swap: dovecot not reloaded" "$(dcr)" "$d3"
t_eq "watch, mid-swap: dovecot still serves the whole mx pair it read" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$served_mx"
finish_swap
for ((i = 0; i < 100; i++)); do
	[ "$(dcr)" -gt "$d3" ] && [ "$(pfr)" -gt "$p3" ] && break
	sleep 0.1
done
sleep 0.5
t_eq "watch, swap done: postfix reloaded once" "$(pfr)" "$((p3 + 1))"
t_eq "watch, swap done: dovecot reloaded once" "$(dcr)" "$((d3 + 1))"
t_eq "watch, swap done: dovecot without SNI serves the new mx" \
	"$(probe_fp "$DC_IMAPS_PORT" tls "")" "$(certs_fp "$T/next2.crt")"
t_eq "watch, swap done: dovecot serves the renewed other by SNI" \
	"$(probe_fp "$DC_IMAPS_PORT" tls other.example.test)" "$(fp_of other)"
t_nomatch "watch: the wait is no failure (no retry backoff, no error)" \
	"$(cat "$T/watch.log")" 'will try again|error:'
t_eq "watch: Dovecot asked once, at the start; the renewals reuse its answers" \
	"$(dq)" 1
# Dovecot's configuration changes: the next renewal asks again (once).
printf '# edited\n' >>"$DC_CONF"
q0=$(dcr)
tree_leaf "$LE" "$CA" other ec256 other.example.test >/dev/null 2>&1
for ((i = 0; i < 100; i++)); do [ "$(dcr)" -gt "$q0" ] && break; sleep 0.1; done
t_eq "watch: after dovecot.conf changed, the next renewal asks Dovecot again" "$(dq)" 2
q0=$(dcr)
tree_leaf "$LE" "$CA" other ec256 other.example.test >/dev/null 2>&1
for ((i = 0; i < 100; i++)); do [ "$(dcr)" -gt "$q0" ] && break; sleep 0.1; done
t_eq "watch: the renewal after that does not" "$(dq)" 2
kill -HUP "$DAEMON"
for ((i = 0; i < 100; i++)); do [ "$(dq)" -gt 2 ] && break; sleep 0.1; done
t_eq "watch: SIGHUP asks Dovecot again" "$(dq)" 3
kill -TERM "$DAEMON"
wait "$DAEMON"
t_eq "watch: stops on SIGTERM with status 0" "$?" 0
t_done
