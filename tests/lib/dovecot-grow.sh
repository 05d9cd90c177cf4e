# dovecot-grow.sh - the set-up of the tests that grow a tree past what a
# real Dovecot with a small `service config { vsz_limit }` can hold
# (dovecot_limit.sh, dovecot_rollback.sh): 100 two-name lineages in
# $T/le, that Dovecot started, and the helpers below. Source it after
# common.sh, certs.sh and servers.sh, with T set.
#
# The numbers, per version (docs/performance.md, "The memory guard"):
# 2.3 packs a lineage's two names in one block and holds 100 of them
# under 64 MB, not 600; 2.4 takes one block per name and holds 200 (100
# lineages) under 80 MB, not 2,000 (1,000 lineages).
#   GROW_LIMIT  the limit, MB          GROW_TO  lineages that do not fit
#   OLDB NEWB   blocks of 100 and of GROW_TO lineages
#   NEWN LACK   names of GROW_TO lineages, and how many the 100 lack
dc_version >/dev/null || return 1
if [ "$DC_VER" = 2.3 ]; then
	GROW_LIMIT=64 GROW_TO=600 OLDB=100 NEWB=600
else
	GROW_LIMIT=80 GROW_TO=1000 OLDB=200 NEWB=2000
fi
NEWN=$((GROW_TO * 2)) LACK=$(((GROW_TO - 100) * 2))

# grow_setup: the tree, the Dovecot; non-zero (and a failure) when either
# cannot be had.
grow_setup() {
	LE=$T/le
	mkdir -p "$T/pf" "$T/pfc" "$T/prom"
	: >"$T/pfc/main.cf"
	/usr/bin/python3 "$T_TOP/bench/gentree.py" "$LE" 100 --names 2 2>/dev/null ||
		{ t_fail "gentree 100 lineages"; return 1; }
	certs_ca "$T/ca" >/dev/null
	certs_leaf "$T/ca" "$T/default" ec256 default.example.test
	cat "$T/default.crt" "$T/default.chain" >"$T/default.full"
	DC_CONF_EXTRA="service config {
  vsz_limit = ${GROW_LIMIT}M
}" dc_start "$T/dc" "$T/default.key" "$T/default.full" ||
		{ t_fail "dovecot start"; return 1; }
}

# grow_more N START: N more two-name lineages, numbered from START.
grow_more() {
	/usr/bin/python3 "$T_TOP/bench/gentree.py" "$LE" "$1" --names 2 \
		--start "$2" 2>/dev/null
}

S() { "$SNISYNC" -c "$T/c.json" "$@"; }

# cn_of: the CN of the certificate on standard input.
cn_of() {
	openssl x509 -noout -subject -nameopt multiline 2>/dev/null |
		sed -n 's/^ *commonName *= *//p'
}

# served NAME: CN of the leaf Dovecot's IMAPS serves for NAME
served() {
	timeout 10 openssl s_client -connect "127.0.0.1:$DC_IMAPS_PORT" \
		-servername "$1" </dev/null 2>/dev/null | cn_of
}

# in_map NAME: CN of the certificate Postfix's map has for NAME
in_map() {
	postmap -c "$T/pfc" -F -q "$1" "lmdb:$T/pf/tls_sni" | cn_of
}
