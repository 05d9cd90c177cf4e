# sources.sh - certificates from other writers than certbot, served by a
# real Postfix and Dovecot: acme.sh's layout (<domain>/ and <domain>_ecc/,
# written in place; acme.sh is no Debian package, so its files are written
# here as its script writes them) and Kubernetes secret volumes (tls.crt,
# tls.key through ..data, written exactly as the kubelet's atomic writer
# does: a timestamped directory, ..data_tmp renamed over ..data, the old
# directory removed), beside a certbot tree, all at once. Checks: every
# name is served its own certificate; a volume update and an acme.sh
# renewal are picked up by resync and by watch; a half-written acme.sh
# renewal (new key, old chain) keeps the last good pair with one clear
# line; the configuration refuses what it cannot use.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/stack.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
certs_ca "$CA" >/dev/null 2>&1
tree_leaf "$LE" "$CA" certbot.example.test ec256 certbot.example.test >/dev/null 2>&1

# acme_sh HOME DOMAIN KEYTYPE: what `acme.sh --issue` leaves (ECDSA in
# DOMAIN_ecc/), files rewritten in place on a renewal; prints the leaf.
acme_sh() {
	local home=$1 dom=$2 type=$3 d
	d=$home/$dom
	case $type in ec*) d=${d}_ecc ;; esac
	mkdir -p "$d" && chmod 0700 "$d" || return 1
	certs_leaf "$CA" "$T/acme-$dom" "$type" "$dom" >/dev/null 2>&1 || return 1
	[ -f "$d/$dom.conf" ] || printf "Le_Domain='%s'\n" "$dom" >"$d/$dom.conf"
	cat "$T/acme-$dom.key" >"$d/$dom.key" && chmod 0600 "$d/$dom.key"
	cat "$T/acme-$dom.crt" >"$d/$dom.cer"
	cat "$T/acme-$dom.chain" >"$d/ca.cer"
	cat "$T/acme-$dom.crt" "$T/acme-$dom.chain" >"$d/fullchain.cer"
}
# kubelet VOLUME NAME...: a new certificate for NAMEs written into the
# secret volume as the kubelet's atomic writer does.
kubelet() {
	local v=$1 ts old
	shift
	certs_leaf "$CA" "$T/kube-leaf" ec256 "$@" >/dev/null 2>&1 || return 1
	mkdir -p "$v" || return 1
	old=$(readlink "$v/..data" 2>/dev/null)
	ts=$(mktemp -d "$v/..$(date -u +%Y_%m_%d_%H_%M_%S).XXXXXXXXX") || return 1
	chmod 0755 "$ts"
	cat "$T/kube-leaf.crt" "$T/kube-leaf.chain" >"$ts/tls.crt"
	cat "$T/kube-leaf.key" >"$ts/tls.key"
	cat "$T/kube-leaf.chain" >"$ts/ca.crt"
	chmod 0644 "$ts/tls.crt" "$ts/tls.key" "$ts/ca.crt"
	ln -s "$(basename "$ts")" "$v/..data_tmp" && mv -T "$v/..data_tmp" "$v/..data" || return 1
	for f in tls.crt tls.key ca.crt; do
		[ -L "$v/$f" ] || ln -s "..data/$f" "$v/$f"
	done
	[ -z "$old" ] || rm -rf "${v:?}/$old"
	cp "$T/kube-leaf.crt" "$T/kube-$(basename "$v").crt"
}

acme_sh "$T/acme" rsa.example.test rsa2048
acme_sh "$T/acme" ecc.example.test ec256
mkdir -p "$T/acme/ca/some.server" "$T/acme/deploy"	# acme.sh's own dirs
# An order in progress (or failed): acme.sh wrote the key and conf only.
mkdir -p "$T/acme/pending.example.test_ecc"
printf "Le_Domain='pending.example.test'\n" >"$T/acme/pending.example.test_ecc/pending.example.test.conf"
certs_leaf "$CA" "$T/pending" ec256 pending.example.test >/dev/null 2>&1
cat "$T/pending.key" >"$T/acme/pending.example.test_ecc/pending.example.test.key"
kubelet "$T/kube/mx-tls" kube.example.test
kubelet "$T/vol" vol.example.test

mkdir -p "$T/pf"
stack_start "$T" "$T/pf/tls_sni"
stack_conf "$T/conf.json" "$LE" "$T/state" "$T/pf/tls_sni"
sed -i "s|^{|{\"sources\": [{\"type\": \"acme.sh\", \"dir\": \"$T/acme\"}, \
{\"type\": \"kubernetes\", \"dir\": \"$T/kube\"}, \
{\"type\": \"kubernetes\", \"name\": \"vol\", \"dir\": \"$T/vol\"}], |" "$T/conf.json"

out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_eq "resync with four kinds of source: exit 0" "$?" 0
t_match "five lineages, one name each" "$out" 'synced: 5 lineages, 5 names, 0 rejected'
declare -A WANT=(
	[certbot.example.test]=$(certs_fp "$LE/live/certbot.example.test/cert.pem")
	[rsa.example.test]=$(certs_fp "$T/acme/rsa.example.test/rsa.example.test.cer")
	[ecc.example.test]=$(certs_fp "$T/acme/ecc.example.test_ecc/ecc.example.test.cer")
	[kube.example.test]=$(certs_fp "$T/kube-mx-tls.crt")
	[vol.example.test]=$(certs_fp "$T/kube-vol.crt")
)
for n in "${!WANT[@]}"; do
	t_eq "postfix serves $n its own certificate" "$(probe_fp "$PF_PORT" smtp "$n")" "${WANT[$n]}"
	t_eq "dovecot serves $n its own certificate" "$(probe_fp "$DC_IMAPS_PORT" tls "$n")" "${WANT[$n]}"
done
st=$("$SNISYNC" -c "$T/conf.json" status 2>&1)
for id in certbot.example.test acme.sh:rsa.example.test acme.sh:ecc.example.test_ecc \
	kubernetes:mx-tls vol:vol; do
	t_match "status names lineage $id" "$st" "(^|[[:space:]])$id([[:space:]]|$)"
done
t_nomatch "acme.sh's own directories are no lineages" "$st" 'acme.sh:(ca|deploy)'
t_nomatch "an acme.sh order not finished is no lineage (and no error)" "$st$out" 'pending\.example'


# --- a volume update (the kubelet's swap) and an acme.sh renewal: resync
kubelet "$T/kube/mx-tls" kube.example.test
acme_sh "$T/acme" rsa.example.test rsa2048
p0=$(stack_reloads "$T/pf.reloads")
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_eq "update + renewal: exit 0" "$?" 0
t_match "the volume's lineage renewed" "$out" '~ kube.example.test: lineage kubernetes:mx-tls renewed'
t_eq "postfix reloaded once" "$(stack_reloads "$T/pf.reloads")" "$((p0 + 1))"
t_eq "kube.example.test: the new secret is served" \
	"$(probe_fp "$DC_IMAPS_PORT" tls kube.example.test)" "$(certs_fp "$T/kube-mx-tls.crt")"
t_eq "rsa.example.test: the renewed certificate is served" \
	"$(probe_fp "$PF_PORT" smtp rsa.example.test)" \
	"$(certs_fp "$T/acme/rsa.example.test/rsa.example.test.cer")"
t_check "the replaced volume directory is gone (kubelet removes it)" \
	test "$(find "$T/kube/mx-tls" -maxdepth 1 -name '..20*' | wc -l)" = 1

# --- acme.sh half-written: new key, old chain. The last good pair stays.
old_ecc=$(certs_fp "$T/acme/ecc.example.test_ecc/ecc.example.test.cer")
certs_leaf "$CA" "$T/half" ec256 ecc.example.test >/dev/null 2>&1
cat "$T/half.key" >"$T/acme/ecc.example.test_ecc/ecc.example.test.key"
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_eq "half-written: exit 1 (one lineage rejected)" "$?" 1
t_match "half-written: one line naming the lineage and the file" "$out" \
	'error: lineage acme.sh:ecc.example.test_ecc: (ecc.example.test.key|fullchain.cer): .*(match|differ)'
t_match "half-written: its last good pair is kept" "$out" \
	'lineage acme.sh:ecc.example.test_ecc: still serving its last good certificate'
t_eq "half-written: ecc.example.test still served its last good certificate" \
	"$(probe_fp "$PF_PORT" smtp ecc.example.test)" "$old_ecc"
t_eq "half-written: the other names are untouched" \
	"$(probe_fp "$PF_PORT" smtp vol.example.test)" "${WANT[vol.example.test]}"
cat "$T/half.crt" "$T/half.chain" >"$T/acme/ecc.example.test_ecc/fullchain.cer"
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_eq "write completed: exit 0" "$?" 0
t_eq "write completed: the new ecc certificate is served" \
	"$(probe_fp "$PF_PORT" smtp ecc.example.test)" "$(certs_fp "$T/half.crt")"
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_match "nothing changed: nothing written" "$out" 'nothing changed'

# --- a volume deleted: its names go
rm -rf "${T:?}/kube/mx-tls"
out=$("$SNISYNC" -c "$T/conf.json" resync 2>&1)
t_match "volume removed: its names are removed" "$out" \
	'lineage kubernetes:mx-tls: gone from its source'
t_eq "volume removed: kube.example.test gets the default certificate" \
	"$(probe_fp "$DC_IMAPS_PORT" tls kube.example.test)" "$DEFAULT_FP"

# --- watch: the kubelet's swap and an acme.sh renewal are served
sed 's/^{/{"watch": {"settle_ms": 200}, /' "$T/conf.json" >"$T/watch.json"
"$SNISYNC" -c "$T/watch.json" watch >"$T/watch.log" 2>&1 &
DAEMON=$!
t_atexit "kill $DAEMON"
for ((i = 0; i < 100; i++)); do
	grep -q 'watch: watching' "$T/watch.log" && break
	sleep 0.1
done
# served NAME FP: Dovecot serves FP for NAME within 10 s.
served() { probe_until "$DC_IMAPS_PORT" tls "$1" "$2"; }
kubelet "$T/vol" vol.example.test
t_check "watch: a swapped single volume is served" served vol.example.test \
	"$(certs_fp "$T/kube-vol.crt")"
kubelet "$T/kube/new-tls" new.example.test
t_check "watch: a new volume in the directory is served" served new.example.test \
	"$(certs_fp "$T/kube-new-tls.crt")"
acme_sh "$T/acme" ecc.example.test ec256
t_check "watch: an acme.sh renewal written in place is served" served ecc.example.test \
	"$(certs_fp "$T/acme/ecc.example.test_ecc/ecc.example.test.cer")"
t_nomatch "watch: no error while files were written" "$(cat "$T/watch.log")" 'error:'
kill -TERM "$DAEMON"
wait "$DAEMON"
t_eq "watch: exits 0 on SIGTERM" "$?" 0

# --- configuration errors, one line each
bad() {
	printf '%s\n' "$2" >"$T/bad.json"
	out=$("$SNISYNC" -c "$T/bad.json" check 2>&1)
	t_eq "$1: exit 3" "$?" 3
	t_match "$1: says why" "$out" "$3"
}
bad "unknown type" '{"sources": [{"type": "certbot-ng", "dir": "/srv"}]}' \
	'sources\[0\]\.type.* must be "dehydrated", "lego", "acme.sh" or "kubernetes"'
bad "no dir" '{"sources": [{"type": "lego"}]}' 'needs "type" and "dir"'
bad "same name twice" \
	'{"sources": [{"type": "lego", "dir": "/a"}, {"type": "lego", "dir": "/b"}]}' \
	'another source is named "lego"'
bad "bad name" '{"sources": [{"type": "lego", "dir": "/a", "name": "A:B"}]}' \
	'must be 1 to 64 of a-z 0-9'
bad "nothing to sync" '{"letsencrypt_dir": null}' 'nothing to sync'
t_done
