#!/bin/bash
# tests/demo.sh - `make demo`: the main job on a built-in example. Creates
# a few certbot lineages in a temp dir, starts a private Postfix and
# Dovecot on 127.0.0.1, runs `snisync resync`, prints which certificate
# each server serves for each name, then stops everything it started.
. "$(dirname "$0")/lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/servers.sh"
. "$T_TOP/tests/lib/tree.sh"
if [ "$(id -u)" != 0 ]; then
	echo "make demo starts private Postfix and Dovecot instances: run it as root" >&2
	exit 1
fi

exec 2>&1
t_tmpdir T
LE=$T/letsencrypt
echo "== certbot lineages in $LE (generated now, test CA)"
certs_ca "$T/ca" >/dev/null
tree_leaf "$LE" "$T/ca" mail.example.test rsa2048 mail.example.test imap.example.test
tree_leaf "$LE" "$T/ca" shop.example.test ec256 shop.example.test pop.example.test
tree_leaf "$LE" "$T/ca" example.test ec256 '*.example.test' example.test
w=$T/w && mkdir -p "$w"
certs_leaf "$T/ca" "$w/b" ec256 broken.example.org &&
	certs_leaf "$T/ca" "$w/o" ec256 other.example.org &&
	lineage_add "$LE" broken.example.org "$w/o.key" "$w/b.crt" "$w/b.chain"
certs_leaf "$T/ca" "$T/default" ec256 default.example.test
cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
ls -1 "$LE/live" | sed 's/^/   /'

echo "== starting private Postfix and Dovecot on 127.0.0.1"
pf_start "$T/postfix" "$T/default.key" "$T/default.full" "$T/postfix/tls_sni" || exit 1
dc_start "$T/dovecot" "$T/default.key" "$T/default.full" || exit 1
echo "   postfix smtpd :$PF_PORT, dovecot imaps :$DC_IMAPS_PORT pop3s :$DC_POP3S_PORT"
cat >"$T/snisync.json" <<JSON
{"letsencrypt_dir": "$LE", "state_dir": "$T/state",
 "postfix": {"map": "$T/postfix/tls_sni",
             "reload": ["postfix", "-c", "$PF_CONF", "reload"]},
 "dovecot": {"config": "$DC_CONFD/99-snisync.conf",
             "check": ["doveconf", "-xn", "-c", "$DC_CONF"],
             "reload": ["doveadm", "-c", "$DC_CONF", "reload"]}}
JSON

echo "== snisync resync"
"$SNISYNC" -c "$T/snisync.json" resync
echo "   (exit status $?: 1 means a lineage was rejected and reported)"
echo "== snisync resync again"
"$SNISYNC" -c "$T/snisync.json" resync
echo "== snisync status"
"$SNISYNC" -c "$T/snisync.json" status | sed 's/^/   /'

subject() {	# subject PORT MODE NAME: CN of the served leaf
	local out
	out=$(timeout 10 openssl s_client -connect "127.0.0.1:$1" \
		${2:+-starttls $2} -servername "$3" </dev/null 2>/dev/null |
		openssl x509 -noout -subject -nameopt multiline 2>/dev/null |
		sed -n 's/^ *commonName *= *//p')
	echo "${out:-ERROR}"
}
echo "== what each server serves for each name (leaf certificate CN)"
printf '   %-22s %-24s %-24s %-24s\n' NAME "SMTP STARTTLS (Postfix)" \
	"IMAPS (Dovecot)" "POP3S (Dovecot)"
for name in mail.example.test imap.example.test shop.example.test \
	pop.example.test example.test anything.example.test \
	broken.example.org nomatch.example.org; do
	printf '   %-22s %-24s %-24s %-24s\n' "$name" \
		"$(subject "$PF_PORT" smtp "$name")" \
		"$(subject "$DC_IMAPS_PORT" "" "$name")" \
		"$(subject "$DC_POP3S_PORT" "" "$name")"
done
echo "   broken.example.org's lineage has a mismatched pair: it is never"
echo "   served; names nothing covers get the default certificate."
echo "== stopping Postfix and Dovecot, removing $T"
