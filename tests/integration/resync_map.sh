# resync_map.sh - snisync resync on the standard tree, checked with real
# postmap and doveconf (no servers): every name maps to the right pair,
# broken lineages are reported and absent, the map is what postmap -F
# writes, a second run writes nothing, --dry-run writes nothing, check
# reports, exit statuses are as documented.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
DCF=$T/dc/99-snisync.conf
PFC=$T/pfc			# postmap needs a main.cf
mkdir -p "$T/pf" "$T/dc" && tree_pfc "$PFC"
tree_standard "$LE" "$T/ca" || { t_fail "fixture tree"; exit 1; }
dc_version >/dev/null || { t_fail "Dovecot 2.3 or 2.4 installed"; exit 1; }
tree_conf "$T/conf.json" "$LE" "$T/state" "$MAP" "$DCF" \
	postfix_reload="[\"$T_TOP/tests/lib/count-run\", \"$T/pf.reloads\", \"/bin/true\"]" \
	dovecot_reload="[\"$T_TOP/tests/lib/count-run\", \"$T/dc.reloads\", \"/bin/true\"]"

q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP"; }
reloads() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
ident() { stat -c '%i %Y %s' "$@" 2>/dev/null | tr '\n' ' '; }

# --- dry run first: prints the plan, writes nothing ----------------------
out=$("$SNISYNC" -c "$T/conf.json" resync --dry-run 2>/dev/null)
rc=$?
t_eq "dry run on a new tree: exit 1 (rejected lineages)" "$rc" 1
t_match "dry run lists an added name with its lineage" "$out" \
	'^\+ imap\.example\.test: lineage mail\.example\.test '
t_match "dry run says the map would be written" "$out" '^postfix: would rewrite'
t_check "dry run wrote no map" test ! -e "$MAP.lmdb"
t_check "dry run wrote no dovecot file" test ! -e "$DCF"
t_check "dry run wrote no state" test ! -e "$T/state"

# --- first resync ----------------------------------------------------------
"$SNISYNC" -c "$T/conf.json" resync >"$T/out1" 2>"$T/err1"
rc=$?
t_eq "resync with rejected lineages exits 1" "$rc" 1
for lin in "${!TREE_REJECT[@]}"; do
	n=$(grep -c "^snisync: error: lineage $lin: " "$T/err1")
	t_eq "one error line for $lin" "$n" 1
	t_check "error for $lin names the file and reason" \
		grep -Eq "^snisync: error: lineage $lin: ${TREE_REJECT[$lin]}" "$T/err1"
done
t_check "the -0001 conflict is logged with the loser" \
	grep -q 'name www.example.test: lineage www.example.test-0001 .* wins over lineage www.example.test ' "$T/err1"

for name in "${!TREE_EXPECT[@]}"; do
	lin=${TREE_EXPECT[$name]}
	if cmp -s <(q "$name") <(tree_expected_value "$LE" "$lin"); then
		t_ok "postmap -F -q $name prints $lin's key and chain"
	else
		t_fail "postmap -F -q $name prints $lin's key and chain"
	fi
done
for name in "${TREE_ABSENT[@]}" '*.example.test' nothere.example.test; do
	q "$name" >/dev/null 2>&1
	t_eq "$name is not in the map" "$?" 1
done
t_eq "map is 0600" "$(stat -c %a "$MAP.lmdb")" 600
t_eq "map source is 0600" "$(stat -c %a "$MAP")" 600
t_eq "map has no -lock file" "$(ls "$T/pf" | grep -c lock)" 0
t_eq "served files are 0600" "$(find "$T/state/served" -type f ! -perm 0600 | wc -l)" 0
t_check "served files exist" test -f "$T/state/served/mail.example.test.pem"
t_check "no legacy store on a new host" test ! -e "$T/state/store"
t_eq "map has one entry per expected name" \
	"$(postmap -c "$PFC" -s "lmdb:$MAP" | wc -l)" "${#TREE_EXPECT[@]}"

# The map is byte for byte what postmap -F writes from the same source.
mkdir "$T/pm" && cp "$MAP" "$T/pm/tls_sni" &&
	postmap -c "$PFC" -F "lmdb:$T/pm/tls_sni"
t_check "map is byte-identical to postmap -F output" cmp "$MAP.lmdb" "$T/pm/tls_sni.lmdb"

# Dovecot: the file parses and names resolve to the right served files.
{
	dc_conf_version
	echo 'ssl = yes'
	dc_conf_ssl "$LE/live/ec.example.test/fullchain.pem" "$LE/live/ec.example.test/privkey.pem"
	echo "!include $DCF"
} >"$T/dc/dovecot.conf"
t_check "doveconf -xn accepts the generated $DC_VER config" \
	sh -c "doveconf -xn -c '$T/dc/dovecot.conf' >/dev/null 2>'$T/doveconf.err'"
for name in mail.example.test imap.example.test www.example.test \
	web.example.test example.test; do
	lin=${TREE_EXPECT[$name]}
	got=$(dc_lookup "$T/dc/dovecot.conf" "$name" cert)
	t_eq "dovecot block for $name serves $lin's file" "$got" "$(dc_ref "$T/state/served/$lin.pem")"
	t_eq "dovecot block for $name: the same file as key" \
		"$(dc_lookup "$T/dc/dovecot.conf" "$name" key)" "$(dc_ref "$T/state/served/$lin.pem")"
	t_check "served file of $lin: its key, a newline, its full chain" \
		cmp "$T/state/served/$lin.pem" <(cat "$LE/live/$lin/privkey.pem"; echo; cat "$LE/live/$lin/fullchain.pem")
done
got=$(dc_lookup "$T/dc/dovecot.conf" other.example.test cert)
t_eq "dovecot: a name only the wildcard covers gets the wildcard's file" "$got" \
	"$(dc_ref "$T/state/served/example.test.pem")"
t_check "dovecot blocks set empty alt cert lines" grep -q "^  $(dc_setting alt_cert) =\$" "$DCF"
if [ "$DC_VER" = 2.3 ]; then
	# 2.3 packs a lineage's exact names in one block, its wildcard in
	# another: mail (3 names), ec (2), example.test (wildcard + exact: 2
	# blocks), www (web; www itself goes to www-0001), www-0001, ed.
	nblocks=7
	t_check "dovecot 2.3: the three names of mail.example.test in one quoted block" \
		grep -qx 'local_name "imap.example.test mail.example.test smtp.example.test" {' "$DCF"
else
	# 2.4 takes one name per block.
	nblocks=${#TREE_EXPECT[@]}
	t_check "dovecot 2.4: mail.example.test has a block of its own" \
		grep -qx 'local_name mail.example.test {' "$DCF"
fi
t_eq "dovecot $DC_VER: $nblocks blocks" "$(grep -c '^local_name ' "$DCF")" "$nblocks"
t_eq "doveconf -n shows the same blocks" \
	"$(doveconf -n -c "$T/dc/dovecot.conf" 2>/dev/null | grep -c '^local_name ')" "$nblocks"
t_nomatch "dovecot config never points into live/" "$(cat "$DCF")" "$LE"
t_eq "postfix reloaded once" "$(reloads "$T/pf.reloads")" 1
t_eq "dovecot reloaded once" "$(reloads "$T/dc.reloads")" 1

# --- second resync: nothing changes ---------------------------------------
before=$(ident "$MAP.lmdb" "$MAP" "$DCF" "$T/state/state.lmdb" "$T/state/served"/*)
sleep 1.1	# a rewrite would show in the mtimes
"$SNISYNC" -c "$T/conf.json" resync >"$T/out2" 2>"$T/err2"
t_eq "second resync still exits 1 (same rejections)" "$?" 1
t_check "second resync says nothing changed" \
	grep -q 'nothing changed: .* nothing written, nothing reloaded' "$T/err2"
t_eq "second resync: inodes and mtimes unchanged" \
	"$(ident "$MAP.lmdb" "$MAP" "$DCF" "$T/state/state.lmdb" "$T/state/served"/*)" "$before"
t_eq "second resync: no postfix reload" "$(reloads "$T/pf.reloads")" 1
t_eq "second resync: no dovecot reload" "$(reloads "$T/dc.reloads")" 1

# --- check -----------------------------------------------------------------
out=$("$SNISYNC" -c "$T/conf.json" check 2>/dev/null)
t_eq "check exits 1 with rejected lineages" "$?" 1
t_match "check table: a good lineage and its names" "$out" \
	'^mail\.example\.test +ok .*imap\.example\.test mail\.example\.test smtp\.example\.test'
t_match "check table: a rejected lineage and why" "$out" \
	'^mismatch\.example\.test +rejected .*fullchain\.pem: private key does not match'
json=$("$SNISYNC" -c "$T/conf.json" check --json 2>/dev/null)
verdicts=$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%s" % (l["lineage"], l["verdict"]) for l in d["lineages"]))')
t_match "check --json: verdicts" "$verdicts" \
	'ec\.example\.test=ok .*expired\.example\.test=rejected .*www\.example\.test-0001=ok'
t_nomatch "check --json holds no key material" "$json" 'PRIVATE KEY'
t_eq "check wrote nothing" \
	"$(ident "$MAP.lmdb" "$MAP" "$DCF" "$T/state/state.lmdb")" \
	"$(echo "$before" | cut -d' ' -f1-12) "

# --- a renewal seen by --dry-run, then applied -----------------------------
tree_leaf "$LE" "$T/ca" ec.example.test ec256 ec.example.test pop.example.test
out=$("$SNISYNC" -c "$T/conf.json" resync --dry-run 2>/dev/null)
t_match "dry run shows the renewal with old and new serial" "$out" \
	'^~ pop\.example\.test: lineage ec\.example\.test renewed \(serial [0-9A-F]+ -> [0-9A-F]+\)'
t_eq "dry run after renewal wrote nothing" \
	"$(ident "$MAP.lmdb" "$MAP" "$DCF")" "$(echo "$before" | cut -d' ' -f1-9) "
inc_before=$(cat "$DCF")
src_before=$(cat "$MAP")
others_before=$(ident $(ls "$T"/state/served/*.pem | grep -v '/ec\.example\.test\.pem$'))
ec_before=$(ident "$T/state/served/ec.example.test.pem")
"$SNISYNC" -c "$T/conf.json" resync 2>/dev/null
cmp -s <(q pop.example.test) <(tree_expected_value "$LE" ec.example.test)
t_eq "after renewal the map holds the new pair" "$?" 0
t_eq "after renewal: one more reload each" \
	"$(reloads "$T/pf.reloads") $(reloads "$T/dc.reloads")" "2 2"
t_eq "same-names renewal: the Dovecot include is byte-identical" "$(cat "$DCF")" "$inc_before"
t_eq "same-names renewal: the map source is byte-identical" "$(cat "$MAP")" "$src_before"
t_nomatch "same-names renewal: its served file was replaced" \
	"$(ident "$T/state/served/ec.example.test.pem")" "^$ec_before\$"
t_check "same-names renewal: the served file holds the new key and chain" \
	cmp "$T/state/served/ec.example.test.pem" \
	<(cat "$LE/live/ec.example.test/privkey.pem"; echo; cat "$LE/live/ec.example.test/fullchain.pem")
t_eq "same-names renewal: no other served file touched" \
	"$(ident $(ls "$T"/state/served/*.pem | grep -v '/ec\.example\.test\.pem$'))" "$others_before"
t_eq "one served file per applied lineage" "$(ls "$T/state/served" | wc -l)" \
	"$("$SNISYNC" -c "$T/conf.json" check --json 2>/dev/null | python3 -c '
import json, sys
print(len([l for l in json.load(sys.stdin)["lineages"] if l["certificate"]]))')"

# --- one lineage (deploy hook, daemon): the map is changed in place -------
dumpmap() { postmap -c "$PFC" -s "lmdb:$MAP" | sort; }
expect_dump() {	# what postmap -F builds from snisync's own source file
	cp "$MAP" "$T/expect_src" && postmap -c "$PFC" -F "lmdb:$T/expect_src" &&
		postmap -c "$PFC" -s "lmdb:$T/expect_src" | sort
}
ino=$(stat -c %i "$MAP.lmdb")
before=$(dumpmap)
tree_leaf "$LE" "$T/ca" ed.example.test ed25519 ed.example.test ed2.example.test
"$SNISYNC" -v -c "$T/conf.json" resync --lineage ed.example.test >/dev/null 2>"$T/err-inplace"
t_eq "--lineage renewal: exit 0" "$?" 0
t_match "--lineage renewal: the map was changed in place" "$(cat "$T/err-inplace")" \
	'debug: postfix: 2 entries of .*tls_sni\.lmdb changed in place'
t_eq "... the same map file (inode kept)" "$(stat -c %i "$MAP.lmdb")" "$ino"
cmp -s <(q ed2.example.test) <(tree_expected_value "$LE" ed.example.test)
t_eq "... the added name is served the new pair" "$?" 0
cmp -s <(q ed.example.test) <(tree_expected_value "$LE" ed.example.test)
t_eq "... the renewed name is served the new pair" "$?" 0
t_eq "... every entry is what postmap -F builds from the new source" \
	"$(dumpmap | sha256sum)" "$(expect_dump | sha256sum)"
t_eq "... and only the lineage's entries changed" \
	"$(diff <(printf '%s\n' "$before") <(dumpmap) | grep -c '^[<>]')" 3
# The same lineage renewed again with the same names: the renewal path
# reads its record alone, changes its two entries in place and leaves
# the source as it is.
before=$(dumpmap)
src=$(ident "$MAP")
tree_leaf "$LE" "$T/ca" ed.example.test ed25519 ed.example.test ed2.example.test
# Temp files a run killed while writing served files left: in staging/
# (where served files are written), the next run of any kind removes
# them, a renewal too; beside the served files (where an earlier version
# wrote them), the next full resync's sweep.
mkdir -p "$T/state/staging"
printf 'partial' >"$T/state/staging/ed.example.test.pem.tmp.99999.0.1"
printf 'partial' >"$T/state/staging/mail.example.test.pem.tmp.99999.1.2"
printf 'partial' >"$T/state/served/mail.example.test.pem.tmp.99999.1.3"
"$SNISYNC" -v -c "$T/conf.json" resync --lineage ed.example.test >/dev/null 2>"$T/err-renew"
t_eq "same-names --lineage renewal: exit 0" "$?" 0
t_match "... takes the renewal path" "$(cat "$T/err-renew")" \
	'debug: renewal path: 1 lineage renewing the names it serves alone'
t_match "... logs each renewed name" "$(cat "$T/err-renew")" \
	'~ ed2\.example\.test: lineage ed\.example\.test renewed \(serial'
t_eq "... the map source untouched (same inode and mtime)" "$(ident "$MAP")" "$src"
t_eq "... the same map file (inode kept)" "$(stat -c %i "$MAP.lmdb")" "$ino"
cmp -s <(q ed2.example.test) <(tree_expected_value "$LE" ed.example.test)
t_eq "... both names are served the new pair" "$?" 0
t_eq "... every entry is what postmap -F builds from the source" \
	"$(dumpmap | sha256sum)" "$(expect_dump | sha256sum)"
t_eq "... and only the lineage's two entries changed" \
	"$(diff <(printf '%s\n' "$before") <(dumpmap) | grep -c '^[<>]')" 4
t_eq "... removes the temp files a killed run left in staging/" \
	"$(ls "$T/state/staging")" ""
t_match "... and says so" "$(cat "$T/err-renew")" \
	'staging/ed\.example\.test\.pem\.tmp\.99999\.0\.1: removing a temp file left by an interrupted run'
t_check "... and leaves one beside the served files to the full resync" \
	test -e "$T/state/served/mail.example.test.pem.tmp.99999.1.3"
"$SNISYNC" -v -c "$T/conf.json" resync >/dev/null 2>"$T/err-full"
t_match "a full resync after it: nothing changed" "$(cat "$T/err-full")" \
	'nothing changed: .* nothing written, nothing reloaded'
t_check "... and the temp file beside the served files is gone" \
	test ! -e "$T/state/served/mail.example.test.pem.tmp.99999.1.3"
# A renewal that adds a name cannot take it.
tree_leaf "$LE" "$T/ca" ed.example.test ed25519 ed.example.test ed2.example.test ed3.example.test
"$SNISYNC" -v -c "$T/conf.json" resync --lineage ed.example.test >/dev/null 2>"$T/err-add"
t_eq "--lineage renewal adding a name: exit 0" "$?" 0
t_match "... reads the whole state, and says why" "$(cat "$T/err-add")" \
	'debug: renewal path not taken \(its names changed\): reading the whole state'
cmp -s <(q ed3.example.test) <(tree_expected_value "$LE" ed.example.test)
t_eq "... the added name is served" "$?" 0
t_eq "... every entry is what postmap -F builds from the new source" \
	"$(dumpmap | sha256sum)" "$(expect_dump | sha256sum)"
# A reader (Postfix's shared fcntl lock) holding the map: no waiting
# forever; the map is rebuilt and renamed instead.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.lockf(f, fcntl.LOCK_SH)
open(sys.argv[2], "w").close()
time.sleep(8)' "$MAP.lmdb" "$T/locked" &
lpid=$!
t_atexit "kill $lpid"
for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
lineage_delete "$LE" ed.example.test >/dev/null 2>&1
tree_leaf "$LE" "$T/ca" ed.example.test ed25519 ed.example.test
"$SNISYNC" -v -c "$T/conf.json" resync --lineage ed.example.test >/dev/null 2>"$T/err-locked"
t_eq "map locked by a reader: exit 0" "$?" 0
t_match "map locked by a reader: rebuilt instead of waiting" "$(cat "$T/err-locked")" \
	'a reader holds its lock; rebuilding the map'
t_check "map locked by a reader: a new map file" test "$(stat -c %i "$MAP.lmdb")" != "$ino"
t_eq "map locked by a reader: every entry right" \
	"$(dumpmap | sha256sum)" "$(expect_dump | sha256sum)"
t_eq "map locked by a reader: the removed name is gone" "$(q ed2.example.test)" ""
kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null

# --- a run that changes nothing renders nothing, yet repairs what it must ---
# It trusts an output unrendered only when it is the very file the last
# full run left, for the same config: an output edited by hand, or a
# config that now asks for another Dovecot syntax, is rendered again.
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>&1
good_dc=$(cat "$DCF") good_pf=$(cat "$MAP")
"$SNISYNC" -v -c "$T/conf.json" resync >/dev/null 2>"$T/err-same"
t_match "nothing changed: nothing written" "$(cat "$T/err-same")" \
	'nothing changed: .* nothing written, nothing reloaded'
printf '# edited by hand\n' >>"$DCF"
sed -i '1d' "$MAP"
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>&1
t_eq "the include edited by hand: written again" "$(cat "$DCF")" "$good_dc"
t_eq "the map source edited by hand: written again" "$(cat "$MAP")" "$good_pf"
t_eq "... and the map is what postmap -F builds from it" \
	"$(dumpmap | sha256sum)" "$(expect_dump | sha256sum)"
# The other syntax than this machine's Dovecot (no check: none here reads it).
if [ "$DC_VER" = 2.3 ]; then other=2.4; else other=2.3; fi
tree_conf "$T/conf-other.json" "$LE" "$T/state" "$MAP" "$DCF" dovecot_version="\"$other\""
"$SNISYNC" -c "$T/conf-other.json" resync >/dev/null 2>&1
t_check "the config asks for Dovecot $other: the include is rendered for $other" \
	grep -q "^# Written by snisync for Dovecot ${other/./\\.}\\." "$DCF"
"$SNISYNC" -c "$T/conf.json" resync >/dev/null 2>&1
t_eq "... and for $DC_VER again when the config asks for $DC_VER" "$(cat "$DCF")" "$good_dc"

# --- empty tree: the map still exists, with no entries ---------------------
mkdir -p "$T/empty/live"
tree_conf "$T/empty.json" "$T/empty" "$T/state2" "$T/pf/empty" "$T/dc/empty.conf"
"$SNISYNC" -c "$T/empty.json" resync 2>/dev/null
t_eq "empty tree: exit 0" "$?" 0
t_check "empty tree: map exists" test -f "$T/pf/empty.lmdb"
t_eq "empty tree: map has no entries" \
	"$(postmap -c "$PFC" -F -s "lmdb:$T/pf/empty" | wc -l)" 0

# --- usage and config errors ----------------------------------------------
"$SNISYNC" -c "$T/conf.json" resync --bogus >/dev/null 2>&1
t_eq "unknown option: exit 2" "$?" 2
"$SNISYNC" frobnicate >/dev/null 2>&1
t_eq "unknown command: exit 2" "$?" 2
printf '{\n "postfix": {"map": "/x/y", "relaod": []}\n}\n' >"$T/bad.json"
err=$("$SNISYNC" -c "$T/bad.json" resync 2>&1)
t_eq "config error: exit 3" "$?" 3
t_match "config error names file, line and column" "$err" \
	"^snisync: error: $T/bad.json:2:29: unknown key \"postfix.relaod\"$"
"$SNISYNC" -c "$T/missing.json" check >/dev/null 2>&1
t_eq "missing explicit config: exit 3" "$?" 3
"$SNISYNC" resync --help | grep -q 'Exit status'
t_eq "resync --help documents exit status" "$?" 0
t_done
