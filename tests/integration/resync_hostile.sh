# resync_hostile.sh - bad and hostile lineages: each gets exactly one error
# line naming the lineage, the file and the reason; the good lineage is
# still served; nothing bad reaches the map. Also: the lock, a reload that
# hangs, and --lineage.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

t_tmpdir T
LE=$T/le
CA=$T/ca
MAP=$T/pf/tls_sni
PFC=$T/pfc
mkdir -p "$T/pf" "$T/dc" "$T/w" && tree_pfc "$PFC"
W=$T/w
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP"; }
declare -A WANT

tree_leaf "$LE" "$CA" good.example.test ec256 good.example.test
tree_leaf "$LE" "$CA" upper.example.test ec256 MiXeD.Example.TEST

certs_leaf "$CA" "$W/o" ec256 outside.example.test
tree_leaf "$LE" "$CA" outside.example.test ec256 outside.example.test
ln -sfn "$W/o.key" "$LE/live/outside.example.test/privkey.pem"
WANT[outside.example.test]="privkey.pem: link leads outside $LE \\(to $W/o.key\\)"

tree_leaf "$LE" "$CA" loop.example.test ec256 loop.example.test
ln -sfn fullchain.pem "$LE/live/loop.example.test/fullchain.pem"
WANT[loop.example.test]='fullchain.pem: symlink loop'

tree_leaf "$LE" "$CA" fifo.example.test ec256 fifo.example.test
rm "$LE/archive/fifo.example.test/fullchain1.pem"
mkfifo "$LE/archive/fifo.example.test/fullchain1.pem"
WANT[fifo.example.test]='fullchain.pem: .*/fullchain1.pem: not a regular file'

tree_leaf "$LE" "$CA" big.example.test ec256 big.example.test
head -c 2000000 /dev/zero | tr '\0' 'A' >>"$LE/archive/big.example.test/fullchain1.pem"
WANT[big.example.test]='fullchain.pem: .*: file larger than 1048576 bytes'

tree_leaf "$LE" "$CA" dangling.example.test ec256 dangling.example.test
rm "$LE/archive/dangling.example.test/privkey1.pem"
WANT[dangling.example.test]='privkey.pem: dangling symlink \(target missing\)'

tree_leaf "$LE" "$CA" midswap.example.test ec256 midswap.example.test
tree_leaf "$LE" "$CA" midswap.example.test ec256 midswap.example.test
ln -sfn ../../archive/midswap.example.test/fullchain1.pem \
	"$LE/live/midswap.example.test/fullchain.pem"
WANT[midswap.example.test]='privkey.pem: privkey.pem is version 2 but fullchain.pem is version 1'

# A new lineage caught while its fullchain.pem is written (the leaf is
# there, its issuers not yet): not served without its chain.
tree_leaf "$LE" "$CA" leafonly.example.test ec256 leafonly.example.test
cp "$LE/archive/leafonly.example.test/cert1.pem" "$LE/archive/leafonly.example.test/fullchain1.pem"
WANT[leafonly.example.test]='fullchain.pem: holds only the leaf certificate but chain.pem holds its issuers \(still being written\?\)'

tree_leaf "$LE" "$CA" encrypted.example.test ec256 encrypted.example.test
openssl pkey -in "$LE/archive/encrypted.example.test/privkey1.pem" \
	-aes256 -passout pass:secret -out "$W/enc.key" &&
	cat "$W/enc.key" >"$LE/archive/encrypted.example.test/privkey1.pem"
WANT[encrypted.example.test]='privkey.pem: encrypted private key'

tree_leaf "$LE" "$CA" weak.example.test rsa1024 weak.example.test
WANT[weak.example.test]='privkey.pem: RSA key of 1024 bits \(need >= 2048\)'

CERT_NO_SAN=1 tree_leaf "$LE" "$CA" cnonly.example.test ec256 cnonly.example.test
WANT[cnonly.example.test]='fullchain.pem: no subjectAltName \(names come from SAN, not CN\)'

# An address lineage (valid ones serve no name) is still validated.
CERT_SAN=IP:192.0.2.66 tree_leaf "$LE" "$CA" 192.0.2.66 ec256 &&
	openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/ip.key" &&
	cat "$W/ip.key" >"$LE/archive/192.0.2.66/privkey1.pem"
WANT[192.0.2.66]='fullchain.pem: private key does not match the certificate'

tree_leaf "$LE" "$CA" der.example.test ec256 der.example.test
openssl x509 -in "$LE/archive/der.example.test/cert1.pem" -outform DER \
	-out "$LE/archive/der.example.test/fullchain1.pem"
WANT[der.example.test]='fullchain.pem: not PEM \((NUL byte; DER or binary\?|no -----BEGIN line)\)'

tree_leaf "$LE" "$CA" empty.example.test ec256 empty.example.test
: >"$LE/archive/empty.example.test/privkey1.pem"
WANT[empty.example.test]='privkey.pem: empty file'

tree_leaf "$LE" "$CA" params.example.test ec256 params.example.test
{ cat "$LE/archive/params.example.test/privkey1.pem"; openssl ecparam -name prime256v1; } \
	>"$W/p.key" && cat "$W/p.key" >"$LE/archive/params.example.test/privkey1.pem"
WANT[params.example.test]='privkey.pem: PEM block "EC PARAMETERS" not accepted here'

tree_leaf "$LE" "$CA" dot.example.test ec256 dot.example.test. dot2.example.test
WANT[dot.example.test]='fullchain.pem: subjectAltName "dot.example.test.": trailing dot'

tree_leaf "$LE" "$CA" wild2.example.test ec256 '*.*.example.test'
WANT[wild2.example.test]='fullchain.pem: subjectAltName "\*\.\*\.example\.test": wildcard must be the whole first label'

tree_leaf "$LE" "$CA" inject.example.test ec256 'a.example.test { ssl_key = </etc/shadow }'
WANT[inject.example.test]='fullchain.pem: subjectAltName ".*": character not allowed in a host name'

tree_leaf "$LE" "$CA" "space name" ec256 space.example.test
WANT["space name"]='directory name holds spaces, control or non-ASCII characters'

CERT_START=$(date -u -d '+2 days' +%Y%m%d%H%M%SZ) \
	tree_leaf "$LE" "$CA" future.example.test ec256 future.example.test
WANT[future.example.test]='fullchain.pem: certificate not valid before '

tree_conf "$T/conf.json" "$LE" "$T/state" "$MAP" "$T/dc/sni.conf"
"$SNISYNC" -c "$T/conf.json" resync >"$T/out" 2>"$T/err"
t_eq "resync exits 1" "$?" 1
for lin in "${!WANT[@]}"; do
	n=$(grep -cF "lineage $lin: " "$T/err")
	t_eq "exactly one error line for '$lin'" "$n" 1
	pat="^snisync: error: lineage $lin: ${WANT[$lin]}"
	t_check "'$lin' error names file and reason" grep -Eq "$pat" "$T/err"
done
t_eq "no other error lines" "$(grep -c '^snisync: error:' "$T/err")" "${#WANT[@]}"
t_eq "good lineage served" "$(q good.example.test | grep -c 'BEGIN CERTIFICATE')" 2
t_eq "uppercase SAN served under the lowercase name" \
	"$(q mixed.example.test | grep -c 'BEGIN CERTIFICATE')" 2
t_eq "map holds only the two good names" "$(postmap -c "$PFC" -s "lmdb:$MAP" | cut -f1 | sort | tr '\n' ' ')" \
	"good.example.test mixed.example.test "
t_nomatch "no key material in the logs" "$(cat "$T/out" "$T/err")" 'PRIVATE KEY|MII'
t_nomatch "the injection attempt reached no output" "$(cat "$T/dc/sni.conf" "$MAP")" 'shadow'

# --- an applied lineage's link moved out of the tree ------------------------
# A resync of an applied lineage stats its links instead of resolving them
# while they reach the files it was validated from; a link moved to a copy
# outside the tree (same bytes, another file) is resolved and refused.
cp "$LE/archive/good.example.test/privkey1.pem" "$W/g.key"
ln -sfn "$W/g.key" "$LE/live/good.example.test/privkey.pem"
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>"$T/moved"
t_check "applied lineage, link moved outside: refused" \
	grep -Eq "^snisync: error: lineage good.example.test: privkey.pem: link leads outside $LE \\(to $W/g.key\\)" "$T/moved"
t_eq "applied lineage, link moved outside: still served as applied" \
	"$(q good.example.test | grep -c 'BEGIN CERTIFICATE')" 2
ln -sfn ../../archive/good.example.test/privkey1.pem "$LE/live/good.example.test/privkey.pem"
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>"$T/back"
t_eq "link moved back: no error for the lineage" \
	"$(grep -c 'lineage good.example.test' "$T/back")" 0

# --- the lock serialises writers -------------------------------------------
tree_conf "$T/lock.json" "$LE" "$T/state" "$MAP" "$T/dc/sni.conf"
sed -i 's/^{/{"lock_timeout": 1, /' "$T/lock.json"
flock "$T/state/lock" sleep 5 &
holder=$!
t_atexit "kill $holder"
sleep 0.3
"$SNISYNC" -c "$T/lock.json" resync >/dev/null 2>"$T/lockerr"
t_eq "a second writer waits, then gives up with exit 5" "$?" 5
t_check "lock timeout says why" grep -q 'another snisync run held the lock for 1 s' "$T/lockerr"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# --- a reload that hangs is killed after the timeout ------------------------
tree_conf "$T/hang.json" "$LE" "$T/state3" "$T/pf/hang" "$T/dc/hang.conf" \
	postfix_reload='["sleep", "61.25"]'	# an argument no other process has
sed -i 's/^{/{"command_timeout": 1, /' "$T/hang.json"
start=$(date +%s)
"$SNISYNC" -c "$T/hang.json" resync >/dev/null 2>"$T/hangerr"
t_eq "hanging reload: exit 4" "$?" 4
t_check "hanging reload: reported as timed out" grep -q 'sleep 61.25: timed out after 1 s (command_timeout), killed' "$T/hangerr"
t_check "hanging reload: bounded in time" test $(( $(date +%s) - start )) -lt 10
t_eq "hanging reload: no sleep process left" "$(pgrep -fc '^sleep 61\.25$' || true)" 0
t_check "hanging reload: the map was still written" test -f "$T/pf/hang.lmdb"
tree_conf "$T/hang2.json" "$LE" "$T/state3" "$T/pf/hang" "$T/dc/hang.conf" \
	postfix_reload="[\"$T_TOP/tests/lib/count-run\", \"$T/hang.reloads\", \"/bin/true\"]"
"$SNISYNC" -c "$T/hang2.json" resync >/dev/null 2>"$T/hangerr2"
t_eq "the failed reload is retried by the next run, though nothing changed" \
	"$(cat "$T/hang.reloads" 2>/dev/null | wc -l)" 1
t_check "the retry is reported" grep -q 'postfix: reloaded (was pending)' "$T/hangerr2"
"$SNISYNC" -c "$T/hang2.json" resync >/dev/null 2>&1
t_eq "once done, the retry is not repeated" "$(cat "$T/hang.reloads" | wc -l)" 1

# --- --lineage looks at one lineage only -----------------------------------
rm "$LE/archive/good.example.test/fullchain1.pem"	# broken, but not asked
tree_leaf "$LE" "$CA" upper.example.test ec256 MiXeD.Example.TEST
"$SNISYNC" -c "$T/conf.json" resync --lineage "$LE/live/upper.example.test/" 2>"$T/one"
rc=$?; cat "$T/one" >&2
t_eq "--lineage: exit 0 (only that lineage looked at)" "$rc" 0
t_eq "--lineage: no error about other lineages" "$(grep -c error "$T/one")" 0
cmp -s <(q mixed.example.test) <(tree_expected_value "$LE" upper.example.test)
t_eq "--lineage: the renewed lineage is applied" "$?" 0
t_eq "--lineage: other lineages stay as applied" \
	"$(q good.example.test | grep -c 'BEGIN CERTIFICATE')" 2
mkdir -p "$T/other/live/upper.example.test"
"$SNISYNC" -c "$T/conf.json" resync --lineage "$T/other/live/upper.example.test" 2>"$T/other.err"
t_eq "--lineage of another certbot tree: exit 2" "$?" 2
t_check "--lineage of another certbot tree: says why" \
	grep -q "error: --lineage $T/other/live/upper.example.test: not a lineage under $LE/live" "$T/other.err"

# --- the leaf-only fullchain.pem, finished and by design --------------------
# Its issuers appended (the write completed): served with them.
cat "$LE/archive/leafonly.example.test/chain1.pem" >>"$LE/archive/leafonly.example.test/fullchain1.pem"
"$SNISYNC" -c "$T/conf.json" resync --lineage leafonly.example.test 2>"$T/leaf.err"
t_eq "fullchain.pem completed: exit 0" "$?" 0
t_eq "fullchain.pem completed: served with its issuer" \
	"$(q leafonly.example.test | grep -c 'BEGIN CERTIFICATE')" 2
# A leaf with no issuers at all (chain.pem empty): nothing is missing.
tree_leaf "$LE" "$CA" nochain.example.test ec256 nochain.example.test
cp "$LE/archive/nochain.example.test/cert1.pem" "$LE/archive/nochain.example.test/fullchain1.pem"
: >"$LE/archive/nochain.example.test/chain1.pem"
"$SNISYNC" -c "$T/conf.json" resync --lineage nochain.example.test 2>"$T/nochain.err"
t_eq "leaf-only fullchain.pem with an empty chain.pem: exit 0" "$?" 0
t_eq "leaf-only fullchain.pem with an empty chain.pem: served" \
	"$(q nochain.example.test | grep -c 'BEGIN CERTIFICATE')" 1
t_done
