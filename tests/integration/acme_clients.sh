# acme_clients.sh - the real dehydrated and lego (Debian's packages) issue
# and renew against a real pebble on loopback; snisync, with both as
# sources and no certbot tree, serves what they wrote through a real
# Postfix and Dovecot: each name its own certificate (an RSA one from
# dehydrated, a wildcard from lego), and after each client's forced
# renewal under `snisync watch`, the renewed certificate, with no error
# logged while the clients wrote (dehydrated swaps links one by one, lego
# rewrites its files in place).
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/stack.sh"
. "$T_TOP/tests/lib/acme.sh"
t_require_root
for c in dehydrated lego pebble; do
	command -v "$c" >/dev/null || { t_fail "$c is installed (packaging/deps.sh test)"; exit 1; }
done

t_tmpdir T
acme_start "$T/pebble" || { t_fail "pebble starts"; exit 1; }
dh_issue "$T/dh" dh.example.test www.dh.example.test >"$T/dh.log" 2>&1
t_eq "dehydrated issues (ECDSA) against pebble" "$?" 0
DH_ALGO=rsa dh_issue "$T/dh" rsa.dh.example.test >>"$T/dh.log" 2>&1
t_eq "dehydrated issues (RSA) against pebble" "$?" 0
lg_issue "$T/lego" lego.example.test '*.lego.example.test' >"$T/lego.log" 2>&1
t_eq "lego issues (a wildcard) against pebble" "$?" 0
[ "$T_FAILS" = 0 ] || { sed 's/^/# /' "$T/dh.log" "$T/lego.log" | tail -30; exit 1; }

mkdir -p "$T/pf"
stack_start "$T" "$T/pf/tls_sni"
stack_conf "$T/conf.json" "$T/no-certbot" "$T/state" "$T/pf/tls_sni"
sed -i -e "s|\"letsencrypt_dir\": \"[^\"]*\"|\"letsencrypt_dir\": null|" \
	-e "s|^{|{\"sources\": [{\"type\": \"dehydrated\", \"dir\": \"$T/dh/certs\"}, \
{\"type\": \"lego\", \"dir\": \"$T/lego\"}], |" "$T/conf.json"

# dehydrated 0.7.0 (Debian 12) writes an EC PARAMETERS block before the
# key, 0.7.1 (Debian 13) the key alone: snisync must take either.
first=$(head -n 1 "$T/dh/certs/dh.example.test/privkey.pem")
echo "# dehydrated's ECDSA key file opens with: $first"
t_match "dehydrated's ECDSA key file is PEM (EC PARAMETERS, then the key, or the key)" \
	"$first" 'BEGIN (EC PARAMETERS|EC PRIVATE KEY|PRIVATE KEY)-----'
dh_fp() { certs_fp "$T/dh/certs/$1/cert.pem"; }
lg_fp() { certs_fp "$T/lego/certificates/lego.example.test.crt"; }
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_eq "resync from dehydrated and lego: exit 0" "$?" 0
t_match "three lineages, five names" "$out" 'synced: 3 lineages, 5 names, 0 rejected'
t_match "the RSA certificate is one" "$out" '\+ rsa\.dh\.example\.test: lineage dehydrated:rsa\.dh\.example\.test .*RSA'
# check NAME FP WHAT: Postfix and Dovecot both serve FP for NAME.
check() {
	t_eq "postfix: $1 -> $3" "$(probe_fp "$PF_PORT" smtp "$1")" "$2"
	t_eq "dovecot: $1 -> $3" "$(probe_fp "$DC_IMAPS_PORT" tls "$1")" "$2"
}
check dh.example.test "$(dh_fp dh.example.test)" "dehydrated's certificate"
check www.dh.example.test "$(dh_fp dh.example.test)" "dehydrated's certificate (second name)"
check rsa.dh.example.test "$(dh_fp rsa.dh.example.test)" "dehydrated's RSA certificate"
check lego.example.test "$(lg_fp)" "lego's certificate"
check any.lego.example.test "$(lg_fp)" "lego's wildcard certificate"

sed 's/^{/{"watch": {"settle_ms": 300}, /' "$T/conf.json" >"$T/watch.json"
"$SNISYNC" -c "$T/watch.json" watch >"$T/watch.log" 2>&1 &
DAEMON=$!
t_atexit "kill $DAEMON"
for ((i = 0; i < 100; i++)); do
	grep -q 'watch: watching' "$T/watch.log" && break
	sleep 0.1
done
# served NAME FP: both servers serve FP for NAME within 20 s.
served() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(probe_fp "$PF_PORT" smtp "$1")" = "$2" ] &&
			[ "$(probe_fp "$DC_IMAPS_PORT" tls "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
old=$(dh_fp dh.example.test)
dh_renew "$T/dh" dh.example.test www.dh.example.test >>"$T/dh.log" 2>&1
t_eq "dehydrated renews (--force)" "$?" 0
t_check "dehydrated's renewal is a new certificate" test "$(dh_fp dh.example.test)" != "$old"
t_check "watch: dehydrated's renewal is served" served www.dh.example.test "$(dh_fp dh.example.test)"
old=$(lg_fp)
lg_renew "$T/lego" lego.example.test '*.lego.example.test' >>"$T/lego.log" 2>&1
t_eq "lego renews" "$?" 0
t_check "lego's renewal is a new certificate" test "$(lg_fp)" != "$old"
t_check "watch: lego's renewal is served" served any.lego.example.test "$(lg_fp)"
t_eq "watch: the RSA certificate stays" "$(probe_fp "$PF_PORT" smtp rsa.dh.example.test)" \
	"$(dh_fp rsa.dh.example.test)"
t_nomatch "watch: no error while the clients wrote" "$(cat "$T/watch.log")" 'error:'
kill -TERM "$DAEMON"
wait "$DAEMON"
t_eq "watch: exits 0 on SIGTERM" "$?" 0
t_done
