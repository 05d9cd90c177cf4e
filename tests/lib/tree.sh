# tests/lib/tree.sh - the standard certbot-shaped test tree, generated at
# test time (no key is ever committed). Source common.sh and certs.sh first.
#
# tree_standard LEDIR CADIR: builds these lineages in LEDIR:
#   mail.example.test        RSA 2048; mail, imap, smtp .example.test
#   ec.example.test          ECDSA P-256; ec, pop .example.test
#   example.test             ECDSA P-384; *.example.test, example.test
#                            (the wildcard overlaps mail/imap/... exactly)
#   www.example.test         ECDSA; www, web .example.test (issued 3 h ago)
#   www.example.test-0001    ECDSA; www.example.test (issued 1 h ago: wins)
#   ed.example.test          Ed25519; ed.example.test
#   expired.example.test     expired leaf                      -> rejected
#   mismatch.example.test    key of another lineage            -> rejected
#   order.example.test       fullchain = chain + leaf          -> rejected
#   hostile.example.test     SAN 'evil"}.example.test'         -> rejected
# and sets, in the caller's shell:
#   TREE_EXPECT[name]=lineage   every name that must be served, and by whom
#                               (a wildcard under its Postfix key
#                               ".example.test")
#   TREE_ABSENT=(names...)      names of rejected lineages, never served
#   TREE_REJECT[lineage]=regex  the error line each rejected lineage gets
. "$(dirname "${BASH_SOURCE[0]}")/dovecot.sh"

declare -gA TREE_EXPECT TREE_REJECT
declare -ga TREE_ABSENT

# tree_leaf LEDIR CADIR LINEAGE KEYTYPE NAMES...: issue and add (or renew).
tree_leaf() {
	local le=$1 ca=$2 lin=$3 type=$4 w
	shift 4
	w=$(mktemp -d "${TMPDIR:-/tmp}/tree-leaf.XXXXXX") || return 1
	certs_leaf "$ca" "$w/leaf" "$type" "$@" &&
		lineage_add "$le" "$lin" "$w/leaf.key" "$w/leaf.crt" "$w/leaf.chain"
	local rc=$?
	rm -rf "$w"
	return $rc
}

tree_standard() {
	local le=$1 ca=$2 w
	certs_ca "$ca" || return 1
	tree_leaf "$le" "$ca" mail.example.test rsa2048 mail.example.test \
		imap.example.test smtp.example.test || return 1
	tree_leaf "$le" "$ca" ec.example.test ec256 ec.example.test \
		pop.example.test || return 1
	tree_leaf "$le" "$ca" example.test ec384 '*.example.test' \
		example.test || return 1
	CERT_START=$(date -u -d '-3 hours' +%Y%m%d%H%M%SZ) \
		tree_leaf "$le" "$ca" www.example.test ec256 www.example.test \
		web.example.test || return 1
	tree_leaf "$le" "$ca" www.example.test-0001 ec256 www.example.test ||
		return 1
	tree_leaf "$le" "$ca" ed.example.test ed25519 ed.example.test ||
		return 1
	CERT_START=$(date -u -d '-90 days' +%Y%m%d%H%M%SZ) \
		CERT_END=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ) \
		tree_leaf "$le" "$ca" expired.example.test ec256 \
		expired.example.test || return 1

	w=$(mktemp -d "${TMPDIR:-/tmp}/tree.XXXXXX") || return 1
	# mismatch: a valid certificate, served with another lineage's key
	certs_leaf "$ca" "$w/m" ec256 mismatch.example.test &&
		certs_leaf "$ca" "$w/other" ec256 other.example.test &&
		lineage_add "$le" mismatch.example.test "$w/other.key" "$w/m.crt" \
			"$w/m.chain" || return 1
	# order: fullchain starts with the intermediate
	certs_leaf "$ca" "$w/o" ec256 order.example.test &&
		lineage_add "$le" order.example.test "$w/o.key" "$w/o.crt" \
			"$w/o.chain" &&
		cat "$w/o.chain" "$w/o.crt" >"$le/archive/order.example.test/fullchain1.pem" ||
		return 1
	certs_leaf "$ca" "$w/h" ec256 'evil"}.example.test' \
		hostile-ok.example.test &&
		lineage_add "$le" hostile.example.test "$w/h.key" "$w/h.crt" \
			"$w/h.chain" || return 1
	rm -rf "$w"

	TREE_EXPECT=(
		[mail.example.test]=mail.example.test
		[imap.example.test]=mail.example.test
		[smtp.example.test]=mail.example.test
		[ec.example.test]=ec.example.test
		[pop.example.test]=ec.example.test
		[.example.test]=example.test
		[example.test]=example.test
		[www.example.test]=www.example.test-0001
		[web.example.test]=www.example.test
		[ed.example.test]=ed.example.test
	)
	TREE_ABSENT=(expired.example.test mismatch.example.test
		other.example.test order.example.test hostile-ok.example.test)
	TREE_REJECT=(
		[expired.example.test]='fullchain\.pem: certificate expired'
		[mismatch.example.test]='fullchain\.pem: private key does not match the certificate'
		[order.example.test]='fullchain\.pem: certificate 1 is not issued by certificate 2'
		[hostile.example.test]='fullchain\.pem: subjectAltName "evil\\x22}\.example\.test": character not allowed'
	)
}

# tree_pfc DIR: a Postfix config dir with an empty main.cf, for
# `postmap -c DIR` (postmap dies without a main.cf). Backdated: Postfix
# waits until a main.cf is 2 s old before trusting it.
tree_pfc() {
	mkdir -p "$1" && : >"$1/main.cf" && touch -d '-1 minute' "$1/main.cf"
}

# tree_expected_value LEDIR LINEAGE: what `postmap -F -q` prints for a name
# of LINEAGE: the key file, "\n", the full chain, "\n".
tree_expected_value() {
	cat "$1/live/$2/privkey.pem"
	printf '\n'
	cat "$1/live/$2/fullchain.pem"
	printf '\n'
}

# tree_conf FILE LEDIR STATEDIR MAP DOVECOTFILE [key=json ...]: writes a
# snisync config. Extra arguments set "postfix_reload", "dovecot_check",
# "dovecot_reload", "dovecot_version" (JSON values; default the installed
# Dovecot's syntax, else 2.3) and "postfix_postconf" (left out, the
# default, unless given).
tree_conf() {
	local f=$1 le=$2 st=$3 map=$4 dc=$5
	shift 5
	local pr=null dcheck=null dr=null dv pq= kv
	dv="\"$(dc_version 2>/dev/null || echo 2.3)\""
	for kv in "$@"; do
		case $kv in
		postfix_reload=*) pr=${kv#*=} ;;
		postfix_postconf=*) pq=", \"postconf\": ${kv#*=}" ;;
		dovecot_check=*) dcheck=${kv#*=} ;;
		dovecot_reload=*) dr=${kv#*=} ;;
		dovecot_version=*) dv=${kv#*=} ;;
		esac
	done
	cat >"$f" <<-EOF
	{"letsencrypt_dir": "$le", "state_dir": "$st",
	 "postfix": {"map": "$map", "reload": $pr$pq},
	 "dovecot": {"config": "$dc", "version": $dv,
	             "check": $dcheck, "reload": $dr}}
	EOF
}
