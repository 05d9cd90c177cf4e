# dovecot_sni.sh - snisync against the real Dovecot and Postfix of this
# machine (Dovecot 2.3 and Postfix 3.7 on Debian 12, Dovecot 2.4.1 and
# Postfix 3.10 on Debian 13: make check runs on both), on a certbot-shaped
# tree: RSA and ECDSA lineages, a multi-SAN one, a wildcard lineage and an
# exact name under the wildcard in another lineage, an RSA lineage beside
# an ECDSA one for the same name (dual algorithm). `snisync resync`
# detects the version ("auto") and writes its syntax; then, with the
# machine's own tools:
#   - the include is in the version's syntax (2.3: "<" paths, several
#     names of a lineage in one quoted block, exact names before
#     wildcards; 2.4: plain ssl_server_*_file paths, one name per block,
#     wildcards first: the last match wins);
#   - doveconf -xn accepts the main config that includes it, and doveconf
#     -f local_name=NAME picks each name's served file (and no inherited
#     alt cert);
#   - a private Dovecot on 127.0.0.1 (IMAPS, POP3S, IMAP and POP3 STARTTLS)
#     serves each name its leaf, the dual name the leaf the client can use,
#     the default to others;
#   - postmap -F -q prints key + "\n" + fullchain + "\n" for every key, and
#     the map holds exactly the expected keys;
#   - a default certificate read from live/ is named with the version's
#     setting names when its lineage renews;
#   - the memory guard holds 2,000 more names back under a limit 8 MB
#     above what the include in service needs, and applies them under 1G.
# (It was tests/dovecot24/run, which ran the 2.4 part in a Debian 13
# chroot; make check now runs on Debian 13 itself: make check-fresh.)
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

T0=$(date +%s)
dc_version >/dev/null || { t_fail "Dovecot 2.3 or 2.4 installed"; exit 1; }
DV=$(dovecot --version 2>&1)
PV=$(postconf -d -h mail_version 2>&1)
echo "# Dovecot $DV, Postfix $PV"
t_tmpdir T
# _log FILE: a file's last lines as TAP comments.
_log() { [ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/# /'; }

# --- certificates and the certbot tree ---------------------------------------

LE=$T/le
CA=$T/ca
CERTS=$T/certs
mkdir -p "$CERTS"
# lineage NAME KEYTYPE SAN...: a certbot lineage NAME.
declare -A LIN_KEY LIN_FULL LIN_CERT
lineage() {
	local name=$1 type=$2
	shift 2
	certs_leaf "$CA" "$CERTS/$name" "$type" "$@" &&
		lineage_add "$LE" "$name" "$CERTS/$name.key" "$CERTS/$name.crt" \
			"$CERTS/$name.chain" || return 1
	LIN_KEY[$name]=$LE/archive/$name/privkey1.pem
	LIN_FULL[$name]=$LE/archive/$name/fullchain1.pem
	LIN_CERT[$name]=$LE/archive/$name/cert1.pem
}
ok=1
lineage mail.example.test rsa2048 mail.example.test || ok=0
lineage ec.example.test ec256 ec.example.test || ok=0
lineage multi.example.test ec384 multi.example.test alias.example.test www.multi.example.test || ok=0
lineage wild.example.test rsa2048 wild.example.test '*.wild.example.test' || ok=0
lineage mail.wild.example.test ec256 mail.wild.example.test || ok=0
# Dual algorithm: an RSA lineage beside the ECDSA one for ec.example.test.
lineage ec.example.test-rsa rsa2048 ec.example.test || ok=0
# Server defaults (not lineages): RSA main cert and ECDSA alt cert, so a
# block that inherited the global alt cert would show.
certs_leaf "$CA" "$CERTS/default-rsa" rsa2048 default.example.test || ok=0
certs_leaf "$CA" "$CERTS/default-ec" ec256 default-ec.example.test || ok=0
for k in rsa ec; do
	cat "$CERTS/default-$k.crt" "$CERTS/default-$k.chain" >"$CERTS/default-$k.full"
done
if [ "$ok" = 1 ]; then t_ok "certbot-shaped tree with 6 lineages built"; else
	t_fail "building the certbot-shaped tree"; exit 1; fi
t_eq "privkey1.pem is 0600" "$(stat -c %a "$LE/archive/mail.example.test/privkey1.pem")" 600
t_check "fullchain = cert + chain" cmp -s "$LE/live/ec.example.test/fullchain.pem" \
	<(cat "$LE/live/ec.example.test/cert.pem" "$LE/live/ec.example.test/chain.pem")

# name -> lineage that must serve it (Dovecot probe names included).
declare -A WANT=(
	[mail.example.test]=mail.example.test
	[ec.example.test]=ec.example.test
	[multi.example.test]=multi.example.test
	[alias.example.test]=multi.example.test
	[www.multi.example.test]=multi.example.test
	[wild.example.test]=wild.example.test
	[foo.wild.example.test]=wild.example.test
	[mail.wild.example.test]=mail.wild.example.test
	[a.b.wild.example.test]=DEFAULT
	[unknown.example.test]=DEFAULT
	[example.test]=DEFAULT
)
NAMES=(mail.example.test ec.example.test multi.example.test alias.example.test
	www.multi.example.test wild.example.test foo.wild.example.test
	mail.wild.example.test a.b.wild.example.test unknown.example.test example.test)
# name -> the alt (RSA) lineage of a dual-algorithm name.
declare -A ALT=([ec.example.test]=ec.example.test-rsa)
# Postfix keys -> lineage: exactly these and nothing else.
declare -A PFKEY=(
	[mail.example.test]=mail.example.test
	[ec.example.test]=ec.example.test
	[multi.example.test]=multi.example.test
	[alias.example.test]=multi.example.test
	[www.multi.example.test]=multi.example.test
	[wild.example.test]=wild.example.test
	[.wild.example.test]=wild.example.test
	[mail.wild.example.test]=mail.wild.example.test
)


# --- a private Dovecot and snisync's config -----------------------------------

STORE=$T/state/served
mkdir -p "$T/pf" "$T/pfempty" "$T/state"
: >"$T/pfempty/main.cf"
# RSA main cert and ECDSA alt cert, so a block that inherited the global
# alt cert would show.
if ! dc_start "$T/dc" "$CERTS/default-rsa.key" "$CERTS/default-rsa.full" \
	"$CERTS/default-ec.key" "$CERTS/default-ec.full"; then
	t_fail "a private Dovecot $DC_VER starts"
	exit 1
fi
t_ok "a private Dovecot $DC_VER started (IMAPS $DC_IMAPS_PORT, POP3S $DC_POP3S_PORT)"
MAIN=$DC_CONF
DCFILE=$DC_CONFD/99-snisync.conf
IMAP=$DC_IMAP_PORT IMAPS=$DC_IMAPS_PORT POP3=$DC_POP3_PORT POP3S=$DC_POP3S_PORT
# conf FILE MAINCONF RELOAD: snisync's config, the check and the
# doveconf queries on MAINCONF.
conf() {
	cat >"$1" <<-JSON
	{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
	 "postfix": {"map": "$T/pf/tls_sni", "reload": null},
	 "dovecot": {"config": "$DCFILE", "version": "auto",
	             "check": ["doveconf", "-xn", "-c", "$2"],
	             "doveconf": ["doveconf", "-c", "$2"],
	             "reload": $3}}
	JSON
}
conf "$T/snisync.json" "$MAIN" "[\"doveadm\", \"-c\", \"$MAIN\", \"reload\"]"

# --- snisync resync -------------------------------------------------------------

timeout -k 5 60 "$SNISYNC" -v -c "$T/snisync.json" resync >"$T/resync.out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then t_ok "snisync resync (version auto: $DC_VER) exits 0"; else
	t_fail "snisync resync (version auto: $DC_VER) exits 0 (got $rc)"; _log "$T/resync.out" 30; fi
t_check "snisync wrote $DCFILE" test -s "$DCFILE"
t_check "snisync wrote the LMDB map" test -s "$T/pf/tls_sni.lmdb"
t_eq "LMDB map is mode 0600" "$(stat -c %a "$T/pf/tls_sni.lmdb" 2>/dev/null)" 600
if [ -s "$DCFILE" ]; then sed 's/^/# | /' "$DCFILE"; fi

# Served paths the config must point at: state_dir/served/<lineage>.pem,
# the key, a newline, the full chain (one file as cert and as key).
for l in "${!LIN_KEY[@]}"; do
	if cmp -s "$STORE/$l.pem" <(cat "${LIN_KEY[$l]}"; echo; cat "${LIN_FULL[$l]}"); then
		t_ok "served/$l.pem holds $l's key, then its fullchain"
	else
		t_fail "served/$l.pem holds $l's key, then its fullchain"
	fi
	t_eq "served file of $l is 0600" "$(stat -c %a "$STORE/$l.pem" 2>/dev/null)" 600
done

# Static checks of the version's syntax.
t_check "the include says it is for Dovecot $DC_VER" \
	grep -qF "# Written by snisync for Dovecot $DC_VER." "$DCFILE"
wl=$(grep -n '^local_name "*\*\.wild\.example\.test' "$DCFILE" | cut -d: -f1)
el=$(grep -n '^local_name "*mail\.wild\.example\.test' "$DCFILE" | cut -d: -f1)
if [ "$DC_VER" = 2.4 ]; then
	t_nomatch "no '<' before paths in the 2.4 file" "$(cat "$DCFILE")" '_file = <'
	t_nomatch "no 2.3 setting names in the 2.4 file" "$(cat "$DCFILE")" \
		'^[[:space:]]*ssl_(cert|key|alt_cert|alt_key)[[:space:]]*='
	t_nomatch "one name per local_name block" "$(grep '^local_name' "$DCFILE")" '^local_name [^ ]+ [^{]'
	first=$wl second=$el order="*.wild block before the exact mail.wild block (last match wins)"
	nblocks=8
else
	t_nomatch "no 2.4 setting names in the 2.3 file" "$(cat "$DCFILE")" 'ssl_server_'
	t_eq "every path in the 2.3 file is read with '<'" \
		"$(grep -cE '^  ssl_(cert|key|alt_cert|alt_key) = [^<]' "$DCFILE")" 0
	t_check "2.3: multi.example.test's three names in one quoted block" \
		grep -qx 'local_name "alias.example.test multi.example.test www.multi.example.test" {' "$DCFILE"
	first=$el second=$wl order="exact mail.wild block before the *.wild block (first match wins)"
	# mail, ec (with its RSA alt), multi (3 names), wild.example.test,
	# *.wild.example.test, mail.wild.
	nblocks=6
fi
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ]; then
	t_ok "$DC_VER order: $order"
else
	t_fail "$DC_VER order: $order (lines '$first', '$second')"
fi

# --- doveconf -------------------------------------------------------------------

if doveconf -xn -c "$MAIN" >/dev/null 2>"$T/doveconf.err"; then
	t_ok "doveconf -xn -c MAIN exits 0 with snisync's file included"
else
	t_fail "doveconf -xn -c MAIN exits 0 with snisync's file included: $(head -n 3 "$T/doveconf.err" | tr '\n' ' ')"
fi
t_eq "doveconf -n lists $nblocks local_name blocks" \
	"$(doveconf -n -c "$MAIN" 2>/dev/null | grep -c '^local_name ')" "$nblocks"

dc_get() { dc_lookup "$MAIN" "$1" "$2" 2>&1; }
for n in "${NAMES[@]}"; do
	l=${WANT[$n]}
	if [ "$l" = DEFAULT ]; then
		t_eq "doveconf: $n -> default cert" "$(dc_get "$n" cert)" "$(dc_ref "$CERTS/default-rsa.full")"
		t_eq "doveconf: $n -> default alt cert" "$(dc_get "$n" alt_cert)" "$(dc_ref "$CERTS/default-ec.full")"
		continue
	fi
	t_eq "doveconf: $n -> $l's served file as cert" "$(dc_get "$n" cert)" "$(dc_ref "$STORE/$l.pem")"
	t_eq "doveconf: $n -> $l's served file as key" "$(dc_get "$n" key)" "$(dc_ref "$STORE/$l.pem")"
	a=${ALT[$n]:-}
	if [ -n "$a" ]; then
		t_eq "doveconf: $n -> $a's served file as the alt cert" \
			"$(dc_get "$n" alt_cert)" "$(dc_ref "$STORE/$a.pem")"
		t_eq "doveconf: $n -> $a's served file as the alt key" \
			"$(dc_get "$n" alt_key)" "$(dc_ref "$STORE/$a.pem")"
		continue
	fi
	t_eq "doveconf: $n has no inherited alt cert" "$(dc_get "$n" alt_cert)" ""
	t_eq "doveconf: $n has no inherited alt key" "$(dc_get "$n" alt_key)" ""
done

# --- the private Dovecot serves them ----------------------------------------------

# probe PORT MODE NAME [SIGALGS]: SHA-256 fingerprint of the served leaf.
probe() { probe_fp "$@" 2>/dev/null | grep -v '^ERROR$'; }
FP_DEF_RSA=$(certs_fp "$CERTS/default-rsa.crt")
FP_DEF_EC=$(certs_fp "$CERTS/default-ec.crt")
declare -A FP
for l in "${!LIN_CERT[@]}"; do FP[$l]=$(certs_fp "${LIN_CERT[$l]}"); done
for n in "${NAMES[@]}"; do
	l=${WANT[$n]}
	if [ "$l" = DEFAULT ]; then want=$FP_DEF_EC; what="default cert"; else
		want=${FP[$l]}; what="$l's leaf"; fi
	for pm in "$IMAPS tls IMAPS" "$POP3S tls POP3S" "$IMAP imap IMAP-STARTTLS" "$POP3 pop3 POP3-STARTTLS"; do
		set -- $pm
		t_eq "Dovecot $DC_VER $3 SNI $n -> $what" "$(probe "$1" "$2" "$n")" "$want"
	done
done
t_eq "Dovecot $DC_VER IMAPS SNI MAIL.EXAMPLE.TEST (uppercase) -> mail leaf" \
	"$(probe "$IMAPS" tls MAIL.EXAMPLE.TEST)" "${FP[mail.example.test]}"
t_eq "Dovecot $DC_VER IMAPS RSA-only client, SNI mail.example.test -> mail leaf" \
	"$(probe "$IMAPS" tls mail.example.test 'RSA-PSS+SHA256:RSA+SHA256')" "${FP[mail.example.test]}"
for pm in "$IMAPS tls IMAPS" "$IMAP imap IMAP-STARTTLS"; do
	set -- $pm
	t_eq "Dovecot $DC_VER $3 dual ec.example.test: RSA-only client -> the RSA lineage's leaf" \
		"$(probe "$1" "$2" ec.example.test 'RSA-PSS+SHA256:RSA+SHA256')" "${FP[ec.example.test-rsa]}"
	t_eq "Dovecot $DC_VER $3 dual ec.example.test: ECDSA-only client -> the ECDSA lineage's leaf" \
		"$(probe "$1" "$2" ec.example.test 'ECDSA+SHA256')" "${FP[ec.example.test]}"
done
t_eq "Dovecot $DC_VER IMAPS no SNI -> default cert" "$(probe "$IMAPS" tls '')" "$FP_DEF_EC"
t_eq "Dovecot $DC_VER IMAPS RSA-only client, unknown name -> default RSA cert" \
	"$(probe "$IMAPS" tls unknown.example.test 'RSA-PSS+SHA256:RSA+SHA256')" "$FP_DEF_RSA"

# --- postmap on snisync's LMDB map -----------------------------------------------

for k in "${!PFKEY[@]}"; do
	l=${PFKEY[$k]}
	a=${ALT[$k]:-}
	{ cat "${LIN_KEY[$l]}"; printf '\n'; cat "${LIN_FULL[$l]}"; printf '\n'
		[ -z "$a" ] || { cat "${LIN_KEY[$a]}"; printf '\n'; cat "${LIN_FULL[$a]}"; printf '\n'; }
	} >"$T/want.pm"
	[ -z "$a" ] || l="$l + $a"
	postmap -c "$T/pfempty" -F -q "$k" "lmdb:$T/pf/tls_sni" >"$T/got.pm" 2>"$T/got.err"
	rc=$?
	if [ "$rc" = 0 ] && cmp -s "$T/got.pm" "$T/want.pm"; then
		t_ok "postmap $PV -F -q $k = $l's key + \\n + fullchain + \\n"
	else
		t_fail "postmap $PV -F -q $k = $l's key + \\n + fullchain + \\n (rc $rc: $(head -n 1 "$T/got.err"))"
	fi
done
for k in '*.wild.example.test' foo.wild.example.test example.test .example.test; do
	out=$(postmap -c "$T/pfempty" -F -q "$k" "lmdb:$T/pf/tls_sni" 2>&1)
	rc=$?
	t_eq "postmap $PV -q '$k' finds nothing (rc 1, no output)" "$rc:$out" "1:"
done
got=$(postmap -c "$T/pfempty" -s "lmdb:$T/pf/tls_sni" 2>"$T/s.err" | awk '{print $1}' | sort | tr '\n' ' ')
want=$(printf '%s\n' "${!PFKEY[@]}" | sort | tr '\n' ' ')
t_eq "postmap $PV -s lists exactly the expected keys" "$got" "$want"
t_check "postmap left no .lmdb-lock file" test ! -e "$T/pf/tls_sni.lmdb-lock"

# --- a second resync changes nothing -----------------------------------------------

before=$(stat -c '%i %Y' "$DCFILE" "$T/pf/tls_sni.lmdb" 2>/dev/null)
timeout -k 5 60 "$SNISYNC" -c "$T/snisync.json" resync >"$T/resync2.out" 2>&1
rc=$?
t_eq "second snisync resync exits 0" "$rc" 0
t_eq "second resync rewrites neither the Dovecot file nor the map" \
	"$(stat -c '%i %Y' "$DCFILE" "$T/pf/tls_sni.lmdb" 2>/dev/null)" "$before"

# --- default certificates: the version's names, asked with its doveconf -----------

# A second main config whose global certificate is lineage ec.example.test's
# live/ files: when that lineage renews, snisync says why it reloads.
MAIN2=$T/dc/default-live.conf
CS=$(dc_setting cert) KS=$(dc_setting key)
sed -e "s|^$CS = .*|$CS = $(dc_ref "$LE/live/ec.example.test/fullchain.pem")|" \
	-e "s|^$KS = .*|$KS = $(dc_ref "$LE/live/ec.example.test/privkey.pem")|" \
	"$MAIN" >"$MAIN2"
t_eq "the second main config reads ec.example.test's live/ files" \
	"$(dc_lookup "$MAIN2" nothing.example.test cert)" "$(dc_ref "$LE/live/ec.example.test/fullchain.pem")"
conf "$T/defaults.json" "$MAIN2" '["true"]'
certs_leaf "$CA" "$CERTS/ec2" ec256 ec.example.test >/dev/null 2>&1 &&
	lineage_add "$LE" ec.example.test "$CERTS/ec2.key" "$CERTS/ec2.crt" "$CERTS/ec2.chain"
out=$(timeout -k 5 60 "$SNISYNC" -c "$T/defaults.json" resync 2>&1)
t_eq "ec.example.test renewed, default certificate asked: exit 0" "$?" 0
t_match "doveconf $DC_VER: $CS read as lineage ec.example.test's" "$out" \
	"dovecot: $CS \\(and $KS\\) reads lineage ec\\.example\\.test, which changed: reload due"
t_nomatch "doveconf $DC_VER: the alt pair (not in live/) ties no lineage" "$out" \
	"$(dc_setting alt_cert).* reads|$(dc_setting alt_key).* reads"
# A lineage that serves its names alone (mail.example.test), read by the
# global certificate of a third main config, renews with the same names
# and is synced as the deploy hook syncs it (`resync --lineage`): the
# renewal path reads its record alone, and the default certificate is
# still asked with this version's names (the version "auto", asked on
# that path too).
MAIN4=$T/dc/default-mail.conf
sed -e "s|^$CS = .*|$CS = $(dc_ref "$LE/live/mail.example.test/fullchain.pem")|" \
	-e "s|^$KS = .*|$KS = $(dc_ref "$LE/live/mail.example.test/privkey.pem")|" \
	"$MAIN" >"$MAIN4"
conf "$T/defaults-mail.json" "$MAIN4" '["true"]'
certs_leaf "$CA" "$CERTS/mail2" rsa2048 mail.example.test >/dev/null 2>&1 &&
	lineage_add "$LE" mail.example.test "$CERTS/mail2.key" "$CERTS/mail2.crt" "$CERTS/mail2.chain"
out=$(timeout -k 5 60 "$SNISYNC" -v -c "$T/defaults-mail.json" resync --lineage mail.example.test 2>&1)
t_eq "mail.example.test renewed, resync --lineage: exit 0" "$?" 0
t_match "resync --lineage took the renewal path" "$out" 'debug: renewal path:'
t_match "doveconf $DC_VER on the renewal path: $CS read as lineage mail.example.test's" "$out" \
	"dovecot: $CS \\(and $KS\\) reads lineage mail\\.example\\.test, which changed: reload due"
t_nomatch "doveconf $DC_VER on the renewal path: no failed query" "$out" 'doveconf.*exit status'
printf '%s\n' "$out" | grep -E 'exit status|renewal path|reads lineage' | sed 's/^/# /'

# --- the memory guard ---------------------------------------------------------------

# A main config whose config service may use 8 MB more than the include
# in service needs: 1,000 more two-name lineages (2,000 more names) do
# not fit, the include in service stays; with the limit raised they are
# applied. The limit is asked with the machine's doveconf, the check runs
# under it.
MAIN3=$T/dc/guard.conf
need=$(timeout -k 5 60 "$SNISYNC" -c "$T/snisync.json" status --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["dovecot"]["memory_need"] or 0)')
t_match "$DC_VER: the check's memory need is recorded ($need bytes)" "$need" '^[1-9][0-9]{6,}$'
lim=$(( need / 1048576 + 8 ))
{ cat "$MAIN"; printf 'service config {\n  vsz_limit = %sM\n}\n' "$lim"; } >"$MAIN3"
conf "$T/guard.json" "$MAIN3" null
/usr/bin/python3 "$T_TOP/bench/gentree.py" "$LE" 1000 --names 2 2>/dev/null ||
	t_fail "gentree 1000 lineages"
cp "$DCFILE" "$T/include.before"
out=$(timeout -k 5 120 "$SNISYNC" -c "$T/guard.json" resync 2>&1)
t_eq "$DC_VER: 2,000 more names under a $lim MB limit: resync exits 4" "$?" 4
t_match "$DC_VER: one line with the need, the limit and the remedy" "$out" \
	"dovecot: the new configuration needs about [0-9]+ MB but service config is limited to $lim MB \\([0-9]+ blocks, [0-9]+ names\\): kept the previous one \\([0-9]+ blocks\\); raise it with: service config \\{ vsz_limit = [0-9]+[MG] \\}"
t_check "$DC_VER: the include in service is kept byte for byte" cmp -s "$DCFILE" "$T/include.before"
sed -i "s/vsz_limit = ${lim}M/vsz_limit = 1G/" "$MAIN3"
out=$(timeout -k 5 120 "$SNISYNC" -c "$T/guard.json" resync 2>&1)
t_eq "$DC_VER: with vsz_limit = 1G the same tree applies: exit 0" "$?" 0
t_eq "$DC_VER: the include names every name" \
	"$(grep '^local_name ' "$DCFILE" | sed 's/^local_name //; s/ {$//' | tr -d '"' | wc -w)" \
	"$(timeout -k 5 60 "$SNISYNC" -c "$T/guard.json" status --json |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["names"]))')"

bad=$(grep -E ' (Error|Fatal|Panic): ' "$DC_LOG" 2>/dev/null | head -n 3)
t_eq "Dovecot $DC_VER logged no errors while serving" "$bad" ""
echo "# dovecot_sni: $(($(date +%s) - T0)) s"
t_done
