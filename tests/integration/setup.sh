# setup.sh - `snisync setup` against real Postfix and Dovecot
# configurations: what it prints for a bare host, --apply setting
# tls_server_sni_maps with postconf (only when unset, only once the map
# exists) after which a running private smtpd serves each name its own
# certificate, a value set by hand never replaced, other SNI maps whose
# entries shadow snisync's, the Dovecot include found through globbed
# !include lines, and hand-written local_name blocks that contradict.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
CR=$T_TOP/tests/lib/count-run
certs_ca "$CA" >/dev/null 2>&1
tree_leaf "$LE" "$CA" a.example.test ec256 a.example.test >/dev/null 2>&1
tree_leaf "$LE" "$CA" b.example.test rsa2048 b.example.test www.b.example.test >/dev/null 2>&1
fp() { openssl x509 -noout -fingerprint -sha256 -in "$LE/live/$1/cert.pem" | cut -d= -f2; }

# A private Postfix, started with its own default certificate; then its
# tls_server_sni_maps is removed, as on a host that never had one.
certs_leaf "$CA" "$T/default" ec256 default.example.test >/dev/null 2>&1
cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
dc_version >/dev/null || { t_fail "Dovecot 2.3 or 2.4 installed"; exit 1; }
pf_start "$T/pf" "$T/default.key" "$T/default.full" "$T/unused" || { t_fail "start postfix"; exit 1; }
postconf -c "$PF_CONF" -X tls_server_sni_maps
touch -d '-1 minute' "$PF_CONF/main.cf"
postfix -c "$PF_CONF" reload >/dev/null 2>&1

# Dovecot: a main file that includes conf.d/*.conf from its directory.
DC=$T/dc
mkdir -p "$DC/conf.d"
{
	dc_conf_version
	echo "base_dir = $DC/run"
	echo 'ssl = yes'
	dc_conf_ssl "$T/default.full" "$T/default.key"
	echo '!include_try conf.d/*.conf'
} >"$DC/dovecot.conf"
mkdir -p "$T/out"
cat >"$T/c.json" <<EOF
{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
 "postfix": {"map": "$T/out/tls_sni",
             "reload": ["$CR", "$T/pf.reloads", "postfix", "-c", "$PF_CONF", "reload"]},
 "dovecot": {"config": "$DC/conf.d/99-snisync.conf", "version": "$DC_VER",
             "check": ["doveconf", "-c", "$DC/dovecot.conf", "-n"], "reload": null}}
EOF
setup() { "$SNISYNC" -c "$T/c.json" setup --postfix-dir "$PF_CONF" --dovecot-config "$DC/dovecot.conf" "$@"; }
sni() { postconf -c "$PF_CONF" -h tls_server_sni_maps; }

# --- a bare host, before any sync -----------------------------------------
out=$(setup 2>&1)
t_eq "bare host: exit 1 (something to add)" "$?" 1
t_match "bare host: prints the main.cf line" "$out" \
	"^  tls_server_sni_maps = lmdb:$T/out/tls_sni\$"
t_match "bare host: the Dovecot include is found through conf.d/*.conf" "$out" \
	"^dovecot: $DC/dovecot.conf includes $DC/conf.d/99-snisync.conf: nothing to add"
t_match "bare host: says conflicts cannot be checked before a sync" "$out" 'no names applied yet'
t_eq "without --apply main.cf is not touched" "$(sni)" ""
out=$(setup --apply 2>&1)
t_eq "--apply before the map exists: exit 1" "$?" 1
t_match "--apply before the map exists: says to resync first" "$out" \
	"tls_sni\.lmdb does not exist yet: run \`snisync resync\` first"
t_eq "--apply before the map exists: main.cf not touched" "$(sni)" ""

# --- sync, then apply -----------------------------------------------------
"$SNISYNC" -c "$T/c.json" resync >/dev/null 2>&1
t_eq "resync: exit 0" "$?" 0
: >"$T/pf.reloads"
out=$(setup --apply 2>&1)
t_eq "--apply: exit 0 (everything in place)" "$?" 0
t_eq "--apply set tls_server_sni_maps" "$(sni)" "lmdb:$T/out/tls_sni"
t_eq "--apply reloaded Postfix once with the configured command" "$(wc -l <"$T/pf.reloads")" 1
sleep 0.5
t_eq "after --apply smtpd serves a.example.test its certificate" \
	"$(probe_fp "$PF_PORT" smtp a.example.test)" "$(fp a.example.test)"
t_eq "after --apply smtpd serves www.b.example.test its certificate" \
	"$(probe_fp "$PF_PORT" smtp www.b.example.test)" "$(fp b.example.test)"
t_eq "a name not in the map gets the default certificate" \
	"$(probe_fp "$PF_PORT" smtp other.example.test)" \
	"$(openssl x509 -noout -fingerprint -sha256 -in "$T/default.crt" | cut -d= -f2)"
out=$(setup 2>&1)
t_eq "second run: exit 0" "$?" 0
t_match "second run: Postfix has nothing to add" "$out" 'tls_server_sni_maps uses lmdb:.*nothing to add'

# --- a value set by hand, other maps shadowing ----------------------------
printf 'a.example.test %s\nnot-ours.example.test x\n' "$T/default.key" >"$T/hand"
postmap -c "$PF_CONF" -F "lmdb:$T/hand" 2>/dev/null
cp "$PF_CONF/main.cf" "$T/main.cf.before"
postconf -c "$PF_CONF" -e "tls_server_sni_maps = lmdb:$T/hand"
before=$(sha256sum <"$PF_CONF/main.cf")
out=$(setup --apply 2>&1)
t_eq "a different value set by hand: exit 1" "$?" 1
t_eq "a different value set by hand is never replaced" "$(sha256sum <"$PF_CONF/main.cf")" "$before"
t_match "a different value: says how to add ours first" "$out" \
	"tls_server_sni_maps = lmdb:$T/out/tls_sni, lmdb:$T/hand"
t_match "an entry for one of our names in that map is reported as shadowing" "$out" \
	"warning: postfix: lmdb:$T/hand, searched before snisync's map, has an entry for a\.example\.test"
t_nomatch "an entry for a name snisync does not serve is not reported" "$out" 'not-ours'
postconf -c "$PF_CONF" -e "tls_server_sni_maps = lmdb:$T/out/tls_sni, lmdb:$T/hand"
out=$(setup 2>&1)
t_eq "ours first, a duplicate after: exit 1 (warning)" "$?" 1
t_match "an entry after ours is reported as never used" "$out" \
	"warning: postfix: lmdb:$T/hand has an entry for a\.example\.test that is never used"
postconf -c "$PF_CONF" -e "tls_server_sni_maps = lmdb:$T/out/tls_sni, pcre:$T/x.pcre"
out=$(setup 2>&1)
t_match "a map type without a source file: said, not guessed" "$out" "pcre:$T/x\.pcre: entries not checked"
postconf -c "$PF_CONF" -e "tls_server_sni_maps = lmdb:$T/out/tls_sni"

# --- Dovecot: include missing, hand-written blocks ------------------------
sed -i 's|^!include_try conf.d/\*.conf$|!include_try other.d/*.conf|' "$DC/dovecot.conf"
out=$(setup 2>&1)
t_eq "Dovecot include missing: exit 1" "$?" 1
t_match "Dovecot include missing: prints the !include line" "$out" \
	"^  !include $DC/conf.d/99-snisync.conf\$"
mkdir -p "$DC/other.d"
printf '!include %s\n' "$DC/conf.d/99-snisync.conf" >"$DC/other.d/10-sni.conf"
out=$(setup 2>&1)
t_eq "an include nested one level down is found: exit 0" "$?" 0
for n in b.example.test hand.example.test; do
	echo "local_name $n {"
	dc_conf_ssl "$T/default.full" "$T/default.key" | sed 's/^/  /'
	echo "}"
done >>"$DC/dovecot.conf"
out=$(setup 2>&1)
t_eq "a hand-written block for one of our names: exit 1" "$?" 1
t_match "... reported as contradicting snisync's block" "$out" \
	'warning: dovecot: a hand-written local_name b\.example\.test block contradicts'
t_match "a hand-written block for another name is left alone" "$out" \
	'hand-written local_name hand\.example\.test \(not a name snisync serves\): left alone'
t_nomatch "snisync's own blocks are not reported" "$out" 'local_name a\.example\.test'

# --- tools that cannot run ------------------------------------------------
out=$("$SNISYNC" -c "$T/c.json" setup --postfix-dir "$T/nonexistent" --dovecot-config "$DC/dovecot.conf" 2>&1)
t_eq "postconf failing: exit 4" "$?" 4
t_match "postconf failing: one error naming it" "$out" 'error: postfix: cannot read tls_server_sni_maps with postconf'
out=$("$SNISYNC" -c "$T/c.json" setup --bogus 2>&1)
t_eq "unknown option: exit 2" "$?" 2

t_done
