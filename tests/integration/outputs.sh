# outputs.sh - outputs on a full disk and on a read-only mount, output
# paths that lie (a symlink, a directory, someone else's file), reload
# commands that fail or do not exist, and secrets: files holding keys are
# created 0600, commands get a clean environment.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"
t_require_root

t_tmpdir T
LE=$T/le
CA=$T/ca
PFC=$T/pfc
tree_pfc "$PFC"
certs_ca "$CA"
for i in 1 2 3; do tree_leaf "$LE" "$CA" "l$i.example.test" ec256 "l$i.example.test"; done
CR=$T_TOP/tests/lib/count-run
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$2" 2>/dev/null; }
snapshot() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }
temps() { find "$@" -name '*.tmp.*' 2>/dev/null | wc -l; }

# --- a small tmpfs that fills up ------------------------------------------
D=$T/disk
mkdir -p "$D"
if ! mount -t tmpfs -o size=400k,mode=0755 snisync-test "$D"; then
	t_fail "mount a tmpfs (needs root with CAP_SYS_ADMIN)"
	exit 1
fi
t_atexit "umount -l '$D'"
mkdir -p "$D/pf" "$D/dc"
tree_conf "$T/disk.json" "$LE" "$D/state" "$D/pf/tls_sni" "$D/dc/sni.conf" \
	postfix_reload="[\"$CR\", \"$T/disk.reloads\", \"/bin/true\"]" \
	dovecot_reload="[\"$CR\", \"$T/disk.reloads\", \"/bin/true\"]"
"$SNISYNC" -c "$T/disk.json" resync 2>/dev/null
t_eq "fits on the small disk: exit 0" "$?" 0
before=$(snapshot "$D")
r0=$(wc -l <"$T/disk.reloads")
# Fill the disk, then renew: the new store files and map cannot be written.
head -c 10000000 /dev/zero >"$D/filler" 2>/dev/null
tree_leaf "$LE" "$CA" l1.example.test ec256 l1.example.test
tree_leaf "$LE" "$CA" l4.example.test rsa2048 l4.example.test
"$SNISYNC" -c "$T/disk.json" resync 2>"$T/full.err"
t_eq "full disk: exit 4" "$?" 4
t_check "full disk: a clear error naming the file" \
	grep -Eq '^snisync: error: .*'"$D"'.*: (write|create|close|lmdb|fsync).*No space left on device' "$T/full.err"
rm -f "$D/filler"
t_eq "full disk: previous outputs intact" "$(snapshot "$D")" "$before"
t_eq "full disk: no temp file left" "$(temps "$D")" 0
t_eq "full disk: nothing reloaded" "$(wc -l <"$T/disk.reloads")" "$r0"
cmp -s <(q l2.example.test "$D/pf/tls_sni") <(tree_expected_value "$LE" l2.example.test)
t_eq "full disk: the old map still serves" "$?" 0
"$SNISYNC" -c "$T/disk.json" resync 2>/dev/null
t_eq "space again: the next resync applies it (exit 0)" "$?" 0
cmp -s <(q l1.example.test "$D/pf/tls_sni") <(tree_expected_value "$LE" l1.example.test)
t_eq "space again: the renewal is in the map" "$?" 0

# --- read-only ----------------------------------------------------------------
before=$(snapshot "$D")
r0=$(wc -l <"$T/disk.reloads")
mount -o remount,ro "$D"
tree_leaf "$LE" "$CA" l2.example.test ec256 l2.example.test
"$SNISYNC" -c "$T/disk.json" resync 2>"$T/ro.err"
t_eq "read-only: exit 4" "$?" 4
t_check "read-only: a clear error" grep -q 'Read-only file system' "$T/ro.err"
mount -o remount,rw "$D"
t_eq "read-only: previous outputs intact" "$(snapshot "$D")" "$before"
t_eq "read-only: nothing reloaded" "$(wc -l <"$T/disk.reloads")" "$r0"
t_eq "read-only: no temp file left" "$(temps "$D")" 0

# --- output paths that lie ----------------------------------------------------
O=$T/out
mkdir -p "$O/pf" "$O/dc" "$O/elsewhere"
echo precious >"$O/elsewhere/target"
ln -s "$O/elsewhere/target" "$O/pf/tls_sni.lmdb"
tree_conf "$T/lie.json" "$LE" "$O/state" "$O/pf/tls_sni" "$O/dc/sni.conf"
"$SNISYNC" -c "$T/lie.json" resync 2>"$T/lie.err"
t_eq "symlink at the map path: exit 4" "$?" 4
t_check "symlink at the map path: refused" \
	grep -q "$O/pf/tls_sni.lmdb: refusing to replace: it is a symlink" "$T/lie.err"
t_eq "symlink at the map path: its target untouched" "$(cat "$O/elsewhere/target")" precious
t_check "symlink at the map path: still a symlink" test -L "$O/pf/tls_sni.lmdb"
rm "$O/pf/tls_sni.lmdb"
rm -f "$O/dc/sni.conf" && mkdir "$O/dc/sni.conf"
"$SNISYNC" -c "$T/lie.json" resync 2>"$T/lie2.err"
t_eq "directory at the Dovecot path: exit 4" "$?" 4
t_check "directory at the Dovecot path: refused" \
	grep -q "$O/dc/sni.conf.*not a regular file" "$T/lie2.err"
rmdir "$O/dc/sni.conf"
echo "mine" >"$O/dc/sni.conf"
chown nobody "$O/dc/sni.conf"
"$SNISYNC" -c "$T/lie.json" resync 2>"$T/lie3.err"
t_eq "someone else's file at the Dovecot path: exit 4" "$?" 4
t_check "someone else's file: refused" \
	grep -q "$O/dc/sni.conf: refusing to replace: owned by uid $(id -u nobody)" "$T/lie3.err"
t_eq "someone else's file: untouched" "$(cat "$O/dc/sni.conf")" mine
t_eq "no temp file left by refusals" "$(temps "$O")" 0

# --- reload commands that fail or do not exist ------------------------------
tree_conf "$T/svc.json" "$LE" "$T/svc/state" "$T/svc/tls_sni" "$T/svc/sni.conf" \
	postfix_reload='["/nonexistent/postfix", "reload"]' dovecot_reload='["/bin/false"]'
mkdir -p "$T/svc"
"$SNISYNC" -c "$T/svc.json" resync 2>"$T/svc.err"
t_eq "missing and failing reload commands: exit 4" "$?" 4
t_check "missing command reported" \
	grep -q 'postfix: reload failed: /nonexistent/postfix reload' "$T/svc.err"
t_check "failing command reported with its status" \
	grep -q 'dovecot: reload failed: /bin/false: exit status 1' "$T/svc.err"
t_check "the outputs were still written" test -f "$T/svc/tls_sni.lmdb"

# --- secrets --------------------------------------------------------------------
cat >"$T/envdump" <<'SH'
#!/bin/sh
/usr/bin/env >"$1"
SH
chmod +x "$T/envdump"
tree_conf "$T/sec.json" "$LE" "$T/sec/state" "$T/sec/tls_sni" "$T/sec/sni.conf" \
	postfix_reload="[\"$T/envdump\", \"$T/env.txt\"]"
mkdir -p "$T/sec"
# LeakSanitizer cannot run under ptrace: no leak check for this one run.
ASAN_OPTIONS=detect_leaks=0 SECRET_TOKEN=hunter2 CERTBOT_VALIDATION=x strace -f -qq -e trace=openat,creat,fchmod,chmod \
	-o "$T/strace.txt" "$SNISYNC" -c "$T/sec.json" resync 2>/dev/null
t_eq "secrets run: exit 0" "$?" 0
t_eq "commands get a clean environment (PATH and LANG only)" \
	"$(cut -d= -f1 "$T/env.txt" | grep -v '^PWD$' | sort | tr '\n' ' ')" "LANG PATH "
created=$(grep -E 'openat\(.*O_CREAT' "$T/strace.txt" | grep -F "$T/sec")
t_check "files were created ($(printf '%s\n' "$created" | grep -c .))" test -n "$created"
t_eq "every file is created with mode 0600" \
	"$(printf '%s\n' "$created" | grep -vc ', 0600)')" 0
# (LMDB creates its files itself, 0600: the map's temp file and the
# state database with its lock file)
t_check "every created file is O_EXCL or the lock" sh -c "printf '%s\n' \"\$1\" |
	grep -v O_EXCL | grep -v '/lock\"' | grep -v 'tls_sni.lmdb.tmp.' |
	grep -v '/state.lmdb\(-lock\)\?\"' | grep -q . && exit 1 || exit 0" _ "$created"
t_check "served files were written" test -n "$(find "$T/sec/state/served" -type f -name '*.pem')"
t_eq "served files (keys) are 0600" "$(find "$T/sec/state/served" -type f ! -perm 0600 | wc -l)" 0
t_eq "map is 0600" "$(stat -c %a "$T/sec/tls_sni.lmdb")" 600
t_done
