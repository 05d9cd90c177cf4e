# dovecot_rollback.sh - a reload that takes Dovecot's handshakes down is
# undone: a real Dovecot whose config service may use little memory (64
# MB for 2.3, 80 MB for 2.4: tests/lib/dovecot-grow.sh), with the check
# turned off (so nothing guards the memory before the reload), serves 100
# two-name lineages; growing the tree (to 600 lineages for 2.3, 1,000 for
# 2.4) makes
# its config process die of "Out of memory" at the reload. snisync sees
# that no handshake completes, puts the previous include back, reloads
# again and sees handshakes complete; it exits 4 with one line naming the
# numbers and what Dovecot logged; status, --json and the metrics say
# Dovecot is held back and how many names it lacks. The daemon does the
# same at its start, then does not try again on every event (nor on a
# timer), only after SIGHUP.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
t_require_root

t_tmpdir T
. "$T_TOP/tests/lib/dovecot-grow.sh"
grow_setup || exit 1
cat >"$T/c.json" <<JSON
{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
 "metrics_file": "$T/prom/snisync.prom", "command_timeout": 8,
 "verify": {"endpoints": ["tls:$DC_IMAPS_PORT", "imap:$DC_IMAP_PORT"],
            "timeout_ms": 3000},
 "postfix": {"map": "$T/pf/tls_sni", "reload": null},
 "dovecot": {"config": "$DC_CONFD/99-snisync.conf",
             "doveconf": ["doveconf", "-c", "$DC_CONF"],
             "check": null,
             "reload": ["doveadm", "-c", "$DC_CONF", "reload"]}}
JSON
old=bench-00042.example.test new=bench-00420.example.test

S resync >"$T/r1.log" 2>&1
t_eq "100 lineages: resync exits 0" "$?" 0
t_eq "Dovecot serves an old name its certificate" "$(served "$old")" "$old"
t_nomatch "no handshake error after a reload that works" "$(cat "$T/r1.log")" 'no TLS handshake'

grow_more $((GROW_TO - 100)) 100
cp "$DC_CONFD/99-snisync.conf" "$T/include.before"
S resync >"$T/r2.log" 2>&1
t_eq "$GROW_TO lineages take the config process down: resync exits 4" "$?" 4
line=$(grep 'no TLS handshake completes' "$T/r2.log")
t_match "one line: the blocks, the probes, the previous one back and reloaded, what Dovecot logged" "$line" \
	"^snisync: error: dovecot: no TLS handshake completes after the reload of the new config \\($NEWB blocks; [0-9]+ probes in [0-9]+ ms; last: .*\\): put the previous one back \\($OLDB blocks\\) and reloaded: handshakes complete again; Dovecot logged: .*Out of memory \\(service config \\{ vsz_limit=$GROW_LIMIT MB \\}.*\$"
t_eq "exactly one such line" "$(grep -c 'no TLS handshake' "$T/r2.log")" 1
t_check "the previous include is back, byte for byte" cmp -s "$DC_CONFD/99-snisync.conf" "$T/include.before"
t_eq "Dovecot serves the old name again" "$(served "$old")" "$old"
t_eq "Postfix's map has the new name" \
	"$(in_map "$new")" "$new"
missing=0
for f in $(sed -n 's/^ *ssl_[a-z_]* = <*//p' "$DC_CONFD/99-snisync.conf"); do
	[ -r "$f" ] || missing=$((missing + 1))
done
t_eq "every store file the include in service names is still there" "$missing" 0

out=$(S status 2>&1); rc=$?
t_eq "status exits 1 while Dovecot is held back" "$rc" 1
t_match "status: held back since when, why, how many names it lacks" "$out" \
	"dovecot: HELD BACK since [0-9-]+ [0-9:]+ UTC \\(no handshake\\): the config in service lacks $LACK of $NEWN names \\($OLDB blocks in service\\); raise service config \\{ vsz_limit = [0-9]+[MG] \\}"
json=$(S status --json)
t_eq "status --json: held_back reason, names lacking, blocks in service" \
	"$(printf '%s' "$json" | python3 -c 'import json,sys; h=json.load(sys.stdin)["services"]["dovecot"]["held_back"]; print(h["reason"], h["names_lacking"], h["blocks_in_service"], h["memory_limit"], h["since"] is not None)')" \
	"no handshake $LACK $OLDB $((GROW_LIMIT << 20)) True"
t_match "metrics: held back since a time" "$(cat "$T/prom/snisync.prom")" \
	'snisync_dovecot_held_back_since_timestamp_seconds [1-9][0-9]+'
t_match "metrics: names lacking" "$(cat "$T/prom/snisync.prom")" \
	"snisync_dovecot_names_lacking $LACK"

# The daemon: at its start it tries (and puts the old include back),
# then an event does not make it try again, nor does time; SIGHUP does.
: >"$T/watch.log"
sed -i 's/^{/{"watch": {"settle_ms": 200}, /' "$T/c.json"
"$SNISYNC" -c "$T/c.json" watch >>"$T/watch.log" 2>&1 &
DAEMON=$!
t_atexit "kill $DAEMON"
wait_log() {	# wait_log N PATTERN: until the log has N lines matching
	local i=0
	while [ "$(grep -c -- "$2" "$T/watch.log")" -lt "$1" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
wait_log 1 'no TLS handshake completes'
t_eq "watch at its start: the same rollback, one line" \
	"$(grep -c "put the previous one back ($OLDB blocks) and reloaded: handshakes complete again" "$T/watch.log")" 1
t_eq "... and Dovecot serves the old name" "$(served "$old")" "$old"
grow_more 1 "$GROW_TO"
wait_log 1 'dovecot: held back since'
t_match "an event: Dovecot is not tried again, one line says why" \
	"$(grep 'dovecot: held back since' "$T/watch.log")" \
	"held back since .* \\(no handshake\\): the config in service lacks $((LACK + 2)) of $((NEWN + 2)) names; tried again after SIGHUP or a change of service config.s vsz_limit"
sleep 2
t_eq "... no second rollback" "$(grep -c 'no TLS handshake completes' "$T/watch.log")" 1
t_nomatch "... and no retry timer" "$(cat "$T/watch.log")" 'will try again in'
t_eq "the map got the new lineage's names" \
	"$(in_map "$(printf 'bench-%05d.example.test' "$GROW_TO")")" "$(printf 'bench-%05d.example.test' "$GROW_TO")"
kill -HUP "$DAEMON"
wait_log 2 'no TLS handshake completes'
t_eq "SIGHUP: tried again (and put back again)" \
	"$(grep -c "put the previous one back ($OLDB blocks) and reloaded: handshakes complete again" "$T/watch.log")" 2
t_eq "... Dovecot still serves the old name" "$(served "$old")" "$old"
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null

# With the limit raised, the same tree is applied and served.
sed -i "s/vsz_limit = ${GROW_LIMIT}M/vsz_limit = 1G/" "$DC_CONF"
doveadm -c "$DC_CONF" reload
# as an admin would: until Dovecot serves again (its master throttles the
# services that failed for up to a minute)
i=0
until [ "$(served "$old")" = "$old" ] || [ $i -ge 90 ]; do sleep 1; i=$((i + 1)); done
S resync >"$T/r3.log" 2>&1
t_eq "with vsz_limit = 1G: resync exits 0" "$?" 0
t_eq "Dovecot serves the new name" "$(served "$new")" "$new"
t_eq "and still the old one" "$(served "$old")" "$old"
out=$(S status 2>&1)
t_nomatch "status: no longer held back" "$out" 'HELD BACK'
t_match "metrics: not held back" "$(cat "$T/prom/snisync.prom")" \
	'snisync_dovecot_held_back_since_timestamp_seconds 0'
t_done
