# tests/lib/stack.sh - the mail stack snisync feeds, for integration tests:
# a default certificate, a private Postfix and Dovecot on 127.0.0.1, and a
# snisync config that reloads them through count-run. Source common.sh,
# certs.sh, servers.sh and tree.sh first.
#
# stack_start DIR MAP: default certificate (CA in DIR/ca), Postfix with
#   tls_server_sni_maps = lmdb:MAP, Dovecot; exports DEFAULT_FP and what
#   pf_start/dc_start export. Fails the test and exits when a server does
#   not start.
# stack_conf FILE LEDIR STATEDIR MAP: a config for them: the Dovecot file
#   in DC_CONFD, doveconf -xn as the check, real reloads wrapped by
#   count-run (one line per reload in DIR/pf.reloads and DIR/dc.reloads,
#   DIR = the directory of FILE), dovecot version "auto".
# stack_reloads FILE: how many lines FILE has (0 when missing).

stack_start() {
	local d=$1 map=$2
	certs_leaf "$d/ca" "$d/default" ec256 default.example.test &&
		cat "$d/default.crt" "$d/default.chain" >"$d/default.full" ||
		{ t_fail "default certificate"; exit 1; }
	DEFAULT_FP=$(certs_fp "$d/default.crt")
	pf_start "$d/postfix" "$d/default.key" "$d/default.full" "$map" ||
		{ t_fail "postfix starts"; exit 1; }
	dc_start "$d/dovecot" "$d/default.key" "$d/default.full" ||
		{ t_fail "dovecot starts"; exit 1; }
}

stack_conf() {
	local f=$1 le=$2 st=$3 map=$4 d cr=$T_TOP/tests/lib/count-run
	d=$(dirname "$f")
	tree_conf "$f" "$le" "$st" "$map" "$DC_CONFD/99-snisync.conf" \
		postfix_reload="[\"$cr\", \"$d/pf.reloads\", \"postfix\", \"-c\", \"$PF_CONF\", \"reload\"]" \
		dovecot_check="[\"doveconf\", \"-xn\", \"-c\", \"$DC_CONF\"]" \
		dovecot_reload="[\"$cr\", \"$d/dc.reloads\", \"doveadm\", \"-c\", \"$DC_CONF\", \"reload\"]" \
		dovecot_version='"auto"'
}

stack_reloads() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}
