# tests/lib/certs.sh - test certificates and certbot-style lineages.
# Source it from bash (set -u safe; needs only openssl and coreutils).
#
# Contract:
#   certs_ca DIR
#       Root CA + intermediate CA in DIR: root.pem root.key int.pem int.key.
#       Does nothing when all four exist. Key type: $CERTS_CA_KEYTYPE
#       (any KEYTYPE below, default ec256). CA validity 2000-01-01..2099-12-31.
#   certs_leaf CADIR OUTPREFIX KEYTYPE [NAME...]
#       KEYTYPE: rsa2048 rsa1024 ec256 ec384 ed25519. Writes OUTPREFIX.key
#       (unencrypted PKCS#8 "PRIVATE KEY", 0600), OUTPREFIX.crt (leaf only,
#       signed by the intermediate, random serial, SAN DNS:NAME... in order,
#       CN = first NAME, no CN when it is longer than 64 bytes) and
#       OUTPREFIX.chain (copy of int.pem). Creates the CA when missing.
#       Env: CERT_START / CERT_END  notBefore / notAfter as YYYYMMDDHHMMSSZ
#                                   (default now - 1 hour / now + 60 days)
#            CERT_SAN               whole subjectAltName value in openssl's
#                                   "TYPE:value,TYPE:value" syntax, e.g.
#                                   "IP:127.0.0.1" (replaces the NAMEs)
#            CERT_NO_SAN=1          no subjectAltName at all (CN only)
#            CERT_PROFILE           as Let's Encrypt's profiles issue them:
#                                   classic (CN, Subject Key ID, RSA keys
#                                   also keyEncipherment; 90 days),
#                                   tlsserver (no CN, no Subject Key ID, no
#                                   keyEncipherment; 45 days), shortlived
#                                   (as tlsserver; 160 hours). The lifetime
#                                   starts an hour ago and ends a second
#                                   short, unless CERT_START/CERT_END say.
#                                   Unset: as before (CN, SKID, 60 days).
#            CERT_ISSUER=PREFIX     sign with PREFIX.pem/PREFIX.key (from
#                                   certs_hierarchy) instead of CADIR's
#                                   intermediate
#            CERT_CHAIN="F..."      the chain file: these CA files in this
#                                   order (default the issuer's .pem)
#       NAMEs may hold any printable ASCII (quotes, braces, ';', spaces,
#       commas): config metacharacters are escaped here, so the cert holds
#       exactly what you pass. CERT_SAN is split on commas by openssl.
#   certs_hierarchy DIR
#       A hierarchy shaped as Let's Encrypt's Gen Y (ECDSA P-384 CAs):
#       x1 (a root), x2 (a root) and x2-by-x1 (x2 cross-signed by x1), y
#       (the new root) and y-by-x2 (y cross-signed by x2), and three
#       sibling intermediates y1 y2 y3 signed by y. Each as NAME.pem and
#       NAME.key. Does nothing when y3.pem exists. Full chains as Let's
#       Encrypt serves them: "yN y-by-x2 x2-by-x1" (three CA certificates).
#   certs_fp FILE|-
#       SHA-256 fingerprint of the first certificate in FILE (or stdin) as
#       "AB:CD:..." (what openssl x509 -fingerprint -sha256 prints after "=").
#   lineage_add LEDIR NAME KEYFILE CERTFILE CHAINFILE
#       certbot's on-disk layout under LEDIR (the certbot config dir, e.g.
#       /etc/letsencrypt): version N = 1 + highest in archive/NAME; first
#       version = new lineage, later ones = renewal with certbot's link swap
#       (previous_*.pem, then rm+ln for cert privkey chain fullchain, then
#       previous_* removed). Also writes live/README once, as certbot does.
#       No renewal/NAME.conf is written.
#   lineage_delete LEDIR NAME
#       what "certbot delete --cert-name NAME" does to live/ and archive/.
# Everything returns non-zero (with a message on stderr) on failure.

# _certs_genkey TYPE OUT: a fresh unencrypted PKCS#8 key, mode 0600.
_certs_genkey() {
	local type=$1 out=$2
	local -a opt
	case $type in
	rsa2048) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	rsa1024) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:1024) ;;
	ec256) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve) ;;
	ec384) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve) ;;
	ed25519) opt=(-algorithm ED25519) ;;
	*) echo "certs: unknown key type '$type'" >&2; return 1 ;;
	esac
	rm -f "$out"
	(umask 077 && openssl genpkey -quiet "${opt[@]}" -out "$out") || {
		echo "certs: openssl genpkey $type failed" >&2; return 1; }
	chmod 0600 "$out"
}

# _certs_cnfesc STRING: escape OpenSSL config-file metacharacters.
_certs_cnfesc() {
	local s=$1 c out='' i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		\\ | '"' | "'" | '$' | '#') out+="\\$c" ;;
		*) out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

# _certs_subjesc STRING: escape for "openssl req -subj /CN=...".
_certs_subjesc() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\//\\/}
	s=${s//+/\\+}
	printf '%s' "$s"
}

# _certs_date OFFSET: UTC time as YYYYMMDDHHMMSSZ, OFFSET as for date -d.
_certs_date() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

# _certs_sign WORK KEY CN EXTFILE SECTION START END OUT [ISSUERCERT ISSUERKEY]
# Issues OUT for the public key of KEY with "openssl ca" and a throwaway
# database in WORK. Without an issuer the certificate is self-signed.
_certs_sign() {
	local work=$1 key=$2 cn=$3 ext=$4 sect=$5 start=$6 end=$7 out=$8
	local icert=${9:-} ikey=${10:-} subj=/
	local -a signer
	[ -n "$cn" ] && subj="/CN=$(_certs_subjesc "$cn")"
	mkdir -p "$work/db" && : >"$work/db/index.txt" || return 1
	cat >"$work/ca.cnf" <<-EOF
		[ca]
		default_ca = tca
		[tca]
		database = $work/db/index.txt
		new_certs_dir = $work/db
		serial = $work/db/serial
		unique_subject = no
		default_md = sha256
		policy = tpol
		[tpol]
		commonName = optional
	EOF
	openssl req -new -config /dev/null -key "$key" -subj "$subj" \
		-out "$work/req.csr" 2>"$work/err" || {
		cat "$work/err" >&2; return 1; }
	if [ -n "$icert" ]; then
		signer=(-cert "$icert" -keyfile "$ikey")
	else
		signer=(-selfsign -keyfile "$key")
	fi
	# Ed25519 signers take no digest; everything else signs with SHA-256.
	if openssl pkey -in "${signer[-1]}" -noout -text 2>/dev/null |
		head -1 | grep -q ED25519; then
		signer+=(-md null)
	fi
	openssl ca -batch -config "$work/ca.cnf" "${signer[@]}" \
		-in "$work/req.csr" -out "$out.tmp" -notext -rand_serial \
		-preserveDN -startdate "$start" -enddate "$end" \
		-extfile "$ext" -extensions "$sect" >"$work/err" 2>&1 || {
		cat "$work/err" >&2; rm -f "$out.tmp"; return 1; }
	mv -f "$out.tmp" "$out"
}

# _certs_ca_ext FILE: the CA extension sections: root (self-signed), cross
# (a root signed by another) and int (an intermediate, pathlen 0).
_certs_ca_ext() {
	local s len
	for s in root cross int; do
		len=''
		[ "$s" != int ] || len=,pathlen:0
		echo "[$s]"
		echo "basicConstraints = critical,CA:true$len"
		echo "keyUsage = critical,keyCertSign,cRLSign"
		echo "subjectKeyIdentifier = hash"
		[ "$s" = root ] || echo "authorityKeyIdentifier = keyid:always"
	done >"$1"
}

certs_ca() {
	local dir=${1:?certs_ca DIR} work rc=0
	if [ -s "$dir/root.pem" ] && [ -s "$dir/root.key" ] &&
		[ -s "$dir/int.pem" ] && [ -s "$dir/int.key" ]; then
		return 0
	fi
	mkdir -p "$dir" || return 1
	work=$(mktemp -d "$dir/.ca.XXXXXX") || return 1
	_certs_ca_ext "$work/ext.cnf"
	{
		_certs_genkey "${CERTS_CA_KEYTYPE:-ec256}" "$dir/root.key" &&
		_certs_genkey "${CERTS_CA_KEYTYPE:-ec256}" "$dir/int.key" &&
		_certs_sign "$work/r" "$dir/root.key" "snisync test root CA" \
			"$work/ext.cnf" root 20000101000000Z 20991231235959Z \
			"$dir/root.pem" &&
		_certs_sign "$work/i" "$dir/int.key" "snisync test intermediate CA" \
			"$work/ext.cnf" int 20000101000000Z 20991231235959Z \
			"$dir/int.pem" "$dir/root.pem" "$dir/root.key"
	} || rc=1
	rm -rf "$work"
	[ "$rc" = 0 ] || echo "certs_ca: failed in $dir" >&2
	return "$rc"
}

certs_leaf() {
	local cadir=${1:?certs_leaf CADIR OUTPREFIX KEYTYPE NAME...}
	local out=${2:?certs_leaf: OUTPREFIX missing} type=${3:?certs_leaf: KEYTYPE missing}
	shift 3
	local cn=${1:-} start end work ku n i=0 rc=0 skid=1 life='' t0
	local icert=$cadir/int.pem ikey=$cadir/int.key
	case ${CERT_PROFILE:-} in
	'') ;;
	classic) life=$((90 * 86400)) ;;
	tlsserver) life=$((45 * 86400)) cn='' skid=0 ;;
	shortlived) life=$((160 * 3600)) cn='' skid=0 ;;
	*) echo "certs_leaf: unknown profile '$CERT_PROFILE'" >&2; return 1 ;;
	esac
	t0=$(($(date +%s) - 3600))
	if [ -n "$life" ]; then
		start=${CERT_START:-$(date -u -d "@$t0" +%Y%m%d%H%M%SZ)}
		end=${CERT_END:-$(date -u -d "@$((t0 + life - 1))" +%Y%m%d%H%M%SZ)}
	else
		start=${CERT_START:-$(_certs_date '-1 hour')}
		end=${CERT_END:-$(_certs_date '+60 days')}
	fi
	[ "${#cn}" -le 64 ] || cn=''	# X.509 upper bound for a CN
	case $type in
	rsa*) ku=digitalSignature,keyEncipherment ;;
	*) ku=digitalSignature ;;
	esac
	[ "$skid" = 1 ] || ku=digitalSignature
	if [ -n "${CERT_ISSUER:-}" ]; then
		icert=$CERT_ISSUER.pem ikey=$CERT_ISSUER.key
	else
		certs_ca "$cadir" || return 1
	fi
	mkdir -p "$(dirname "$out")" || return 1
	work=$(mktemp -d "${TMPDIR:-/tmp}/certs-leaf.XXXXXX") || return 1
	{
		echo "[leaf]"
		echo "basicConstraints = critical,CA:false"
		echo "keyUsage = critical,$ku"
		echo "extendedKeyUsage = serverAuth"
		if [ "$skid" = 1 ]; then
			echo "subjectKeyIdentifier = hash"
		else
			echo "subjectKeyIdentifier = none"
		fi
		echo "authorityKeyIdentifier = keyid:always"
		if [ "${CERT_NO_SAN:-0}" = 1 ]; then
			:
		elif [ -n "${CERT_SAN:-}" ]; then
			echo "subjectAltName = $(_certs_cnfesc "$CERT_SAN")"
		elif [ "$#" -gt 0 ]; then
			echo "subjectAltName = @alt"
			echo "[alt]"
			for n in "$@"; do
				i=$((i + 1))
				echo "DNS.$i = $(_certs_cnfesc "$n")"
			done
		fi
	} >"$work/ext.cnf"
	{
		# CERT_REUSE_KEY=FILE: sign that key (certbot --reuse-key).
		if [ -n "${CERT_REUSE_KEY:-}" ]; then
			cp -f "$CERT_REUSE_KEY" "$out.key" && chmod 0600 "$out.key"
		else
			_certs_genkey "$type" "$out.key"
		fi &&
		_certs_sign "$work/s" "$out.key" "$cn" "$work/ext.cnf" leaf \
			"$start" "$end" "$out.crt" "$icert" "$ikey" &&
		if [ -n "${CERT_CHAIN:-}" ]; then
			# shellcheck disable=SC2086 # a list of files
			cat $CERT_CHAIN >"$out.chain"
		else
			cp -f "$icert" "$out.chain"
		fi
	} || rc=1
	rm -rf "$work"
	[ "$rc" = 0 ] || echo "certs_leaf: failed for $out" >&2
	return "$rc"
}

certs_hierarchy() {
	local dir=${1:?certs_hierarchy DIR} work rc=0 n
	[ -s "$dir/y3.pem" ] && return 0
	mkdir -p "$dir" || return 1
	work=$(mktemp -d "$dir/.h.XXXXXX") || return 1
	_certs_ca_ext "$work/ext.cnf"
	(
		for n in x1 x2 y y1 y2 y3; do
			_certs_genkey ec384 "$dir/$n.key" || exit 1
		done
		_certs_sign "$work/x1" "$dir/x1.key" "snisync test Root X1" "$work/ext.cnf" \
			root 20000101000000Z 20991231235959Z "$dir/x1.pem" &&
		_certs_sign "$work/x2" "$dir/x2.key" "snisync test Root X2" "$work/ext.cnf" \
			root 20000101000000Z 20991231235959Z "$dir/x2.pem" &&
		_certs_sign "$work/x2x" "$dir/x2.key" "snisync test Root X2" "$work/ext.cnf" \
			cross 20000101000000Z 20991231235959Z "$dir/x2-by-x1.pem" \
			"$dir/x1.pem" "$dir/x1.key" &&
		_certs_sign "$work/y" "$dir/y.key" "snisync test Root Y" "$work/ext.cnf" \
			root 20000101000000Z 20991231235959Z "$dir/y.pem" &&
		_certs_sign "$work/yx" "$dir/y.key" "snisync test Root Y" "$work/ext.cnf" \
			cross 20000101000000Z 20991231235959Z "$dir/y-by-x2.pem" \
			"$dir/x2.pem" "$dir/x2.key" &&
		for n in 1 2 3; do
			_certs_sign "$work/y$n" "$dir/y$n.key" "snisync test Y$n" \
				"$work/ext.cnf" int 20000101000000Z 20991231235959Z \
				"$dir/y$n.pem" "$dir/y.pem" "$dir/y.key" || exit 1
		done
	) || rc=1
	rm -rf "$work"
	[ "$rc" = 0 ] || echo "certs_hierarchy: failed in $dir" >&2
	return "$rc"
}

certs_fp() {
	local f=${1:?certs_fp FILE} fp
	local -a in=(-in "$f")
	[ "$f" != - ] || in=()
	fp=$(openssl x509 "${in[@]}" -noout -fingerprint -sha256) || return 1
	printf '%s\n' "${fp#*=}"
}

# --- certbot lineages ------------------------------------------------------

_LINEAGE_KINDS="cert privkey chain fullchain"	# certbot's link order

# _lineage_write MODE SRC DST: DST created with MODE (never wider in between).
_lineage_write() {
	(umask 077 && cat "$2" >"$3") && chmod "$1" "$3"
}

# _lineage_maxver ARCHIVEDIR: highest N of any <kind>N.pem there (0 if none).
_lineage_maxver() {
	local f b v max=0
	for f in "$1"/*.pem; do
		[ -e "$f" ] || continue
		b=${f##*/}
		b=${b%.pem}
		v=${b##*[!0-9]}
		case ${b%"$v"} in cert | privkey | chain | fullchain) ;; *) continue ;; esac
		[ -n "$v" ] && [ "$((10#$v))" -gt "$max" ] && max=$((10#$v))
	done
	echo "$max"
}

lineage_add() {
	local le=${1:?lineage_add LEDIR NAME KEY CERT CHAIN} name=${2:?lineage_add: NAME missing}
	local key=${3:?lineage_add: KEY missing} cert=${4:?lineage_add: CERT missing}
	local chain=${5:?lineage_add: CHAIN missing}
	local live=$le/live arch=$le/archive ld ad n k old mode grp
	ld=$live/$name
	ad=$arch/$name
	local f
	for f in "$key" "$cert" "$chain"; do
		[ -r "$f" ] || { echo "lineage_add: cannot read $f" >&2; return 1; }
	done
	mkdir -p "$le" || return 1
	for f in "$live" "$arch"; do
		[ -d "$f" ] || mkdir -m 0700 "$f" || return 1
	done
	if [ ! -e "$live/README" ]; then
		cat >"$live/README" <<-'EOF'
			Each directory here is one certificate lineage. Point your server
			at [name]/privkey.pem and [name]/fullchain.pem; cert.pem and
			chain.pem hold the leaf and its issuers separately. The files are
			links into ../archive: do not move or rename them.
		EOF
		chmod 0644 "$live/README"
	fi
	mkdir -p "$ad" && chmod 0755 "$ad" || return 1
	n=$(($(_lineage_maxver "$ad") + 1))

	if [ "$n" = 1 ]; then
		# New lineage: links first (dangling), then the files, then README.
		mkdir -p "$ld" && chmod 0755 "$ld" || return 1
		for k in $_LINEAGE_KINDS; do
			ln -sfn "../../archive/$name/${k}1.pem" "$ld/$k.pem" || return 1
		done
		_lineage_write 0644 "$cert" "$ad/cert1.pem" &&
		_lineage_write 0600 "$key" "$ad/privkey1.pem" &&
		_lineage_write 0644 "$chain" "$ad/chain1.pem" &&
		cat "$cert" "$chain" >"$ad/fullchain1.pem" &&
		chmod 0644 "$ad/fullchain1.pem" || return 1
		cat >"$ld/README" <<-'EOF'
			This directory holds the current key and certificates of this
			lineage as links into the archive. Use privkey.pem with
			fullchain.pem (or cert.pem + chain.pem). Do not move these files.
		EOF
		chmod 0644 "$ld/README"
		return 0
	fi

	# Renewal: archive files N first. The new key keeps the group and the
	# g+rwx/o+r bits of the previous one, as certbot does.
	_lineage_write 0600 "$key" "$ad/privkey$n.pem" || return 1
	old=$ad/privkey$((n - 1)).pem
	if [ -e "$old" ]; then
		mode=$(stat -c %a "$old") && grp=$(stat -c %g "$old") &&
		chgrp "$grp" "$ad/privkey$n.pem" &&
		chmod "$(printf '%o' $((0600 | (8#$mode & 8#074))))" "$ad/privkey$n.pem" ||
			return 1
	fi
	_lineage_write 0644 "$cert" "$ad/cert$n.pem" &&
	_lineage_write 0644 "$chain" "$ad/chain$n.pem" &&
	cat "$cert" "$chain" >"$ad/fullchain$n.pem" &&
	chmod 0644 "$ad/fullchain$n.pem" || return 1
	mkdir -p "$ld" || return 1
	# Then the swap: previous_* (absolute targets), unlink+symlink per kind,
	# drop previous_*.
	for k in $_LINEAGE_KINDS; do
		if [ -L "$ld/$k.pem" ]; then
			ln -sfn "$(readlink -f "$ld/$k.pem")" "$ld/previous_$k.pem" || return 1
		fi
	done
	for k in $_LINEAGE_KINDS; do
		rm -f "$ld/$k.pem" &&
		ln -s "../../archive/$name/$k$n.pem" "$ld/$k.pem" || return 1
	done
	for k in $_LINEAGE_KINDS; do
		rm -f "$ld/previous_$k.pem"
	done
	return 0
}

lineage_delete() {
	local le=${1:?lineage_delete LEDIR NAME} name=${2:?lineage_delete: NAME missing} k
	rm -f "$le/renewal/$name.conf"
	for k in $_LINEAGE_KINDS; do
		rm -f "$le/live/$name/$k.pem"
	done
	rm -f "$le/live/$name/README"
	[ ! -d "$le/live/$name" ] || rmdir "$le/live/$name" || return 1
	rm -rf "$le/archive/$name"
}
