# dovecot-grow.sh - the set-up of the tests that grow a tree past what a
# real Dovecot 2.3 with `service config { vsz_limit = 64M }` can hold
# (dovecot_limit.sh, dovecot_rollback.sh): 100 two-name lineages in
# $T/le, that Dovecot started, and the helpers below. Source it after
# common.sh, certs.sh and servers.sh, with T set.

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
	DC_CONF_EXTRA='service config {
  vsz_limit = 64M
}' dc_start "$T/dc" "$T/default.key" "$T/default.full" ||
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
