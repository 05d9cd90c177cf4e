# tests/lib/acme.sh - a real ACME run on loopback: pebble (Debian's
# package) and certbot, per FACTS.md. Source common.sh first; needs root
# only for nothing but the ports it picks. set -u safe.
#
#   acme_start DIR   starts pebble with its own listener TLS certificate in
#                    DIR, on free ports; waits (<= 15 s) until its
#                    directory answers; exports ACME_URL and
#                    REQUESTS_CA_BUNDLE; stops it by pid at exit.
#   cb LEDIR ARGS... certbot with --config-dir LEDIR (work and logs dirs
#                    beside it), against pebble, non-interactive.
#   CB_AUTH          array: the options for a new certificate (manual
#                    auth, always valid).
#
# dehydrated (Debian 0.7.0) and lego (Debian 4.9.1) against the same pebble
# (after acme_start; loopback only, nothing left running, each run bounded
# by `timeout 120`):
#   dh BASEDIR ARGS...  dehydrated with its own config BASEDIR/config
#                    (CA=$ACME_URL, curl --cacert $REQUESTS_CA_BUNDLE,
#                    http-01 into BASEDIR/wellknown, hook $DH_HOOK or
#                    /bin/true, KEYSIZE 2048); certs go to
#                    BASEDIR/certs/<dir>/ (dehydrated lowercases names).
#   dh_issue BASEDIR NAME [NAME...]
#                    one certificate for all NAMEs (first = CN); registers
#                    the account on first use (--accept-terms). Env:
#                    DH_ALGO=rsa|prime256v1|secp384r1 (default: dehydrated's,
#                    secp384r1), DH_ALIAS=dir name (default: first NAME;
#                    required when the first NAME is a wildcard).
#   dh_renew BASEDIR NAME [NAME...]
#                    the same with --force (new key, new cert); waits first
#                    until the clock second differs from the current
#                    version's timestamp (dehydrated names files by
#                    `date +%s` and reuses a same-second CSR in place).
#   lg BASEDIR ARGS... lego --server $ACME_URL --accept-tos --email
#                    --path BASEDIR --http --http.webroot BASEDIR/webroot
#                    (no listener), trusting LEGO_CA_CERTIFICATES=
#                    $REQUESTS_CA_BUNDLE; ARGS = more global options, then
#                    the command (run|renew|list ...).
#   lg_issue BASEDIR NAME [NAME...]
#                    `run` for all NAMEs; env LG_KEY_TYPE=ec256|ec384|
#                    rsa2048|rsa4096 (default ec256). Files in
#                    BASEDIR/certificates/<first NAME, '*' -> '_'>.*
#   lg_renew BASEDIR NAME [NAME...]
#                    `renew --days -1 --no-random-sleep` (-1 forces it;
#                    pebble certificates last 5 years), same LG_KEY_TYPE.
# A wildcard NAME switches dehydrated to dns-01 (hook /bin/true); lego always
# has --dns exec (EXEC_PATH=/bin/true) besides http-01. pebble's
# PEBBLE_VA_ALWAYS_VALID makes every challenge pass. dh_names/lg_names fill
# the globals DH_ARGS/LG_ARGS.

CB_AUTH=(--manual --manual-auth-hook /bin/true --preferred-challenges http
	--agree-tos --register-unsafely-without-email)

acme_start() {
	local d=${1:?acme_start DIR} port mport hport tport i
	mkdir -p "$d" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=snisync test pebble listener CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=localhost -keyout "$d/key.pem" -out "$d/srv.csr" 2>/dev/null &&
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -out "$d/cert.pem" -extfile <(printf \
		'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
		2>/dev/null || { echo "acme_start: listener certificate" >&2; return 1; }
	port=$(t_free_port); mport=$(t_free_port)
	hport=$(t_free_port); tport=$(t_free_port)
	cat >"$d/pebble.json" <<-JSON
	{"pebble": {"listenAddress": "127.0.0.1:$port",
	  "managementListenAddress": "127.0.0.1:$mport",
	  "certificate": "$d/cert.pem", "privateKey": "$d/key.pem",
	  "httpPort": $hport, "tlsPort": $tport}}
	JSON
	PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		PEBBLE_AUTHZREUSE=100 pebble -config "$d/pebble.json" \
		>"$d/pebble.log" 2>&1 </dev/null &
	ACME_PEBBLE_PID=$!
	t_atexit "kill $ACME_PEBBLE_PID; wait $ACME_PEBBLE_PID"
	export ACME_URL="https://127.0.0.1:$port/dir"
	export REQUESTS_CA_BUNDLE=$d/ca.pem
	for ((i = 0; i < 150; i++)); do
		curl -fsS --cacert "$d/ca.pem" "$ACME_URL" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "acme_start: pebble did not answer; log:" >&2
	sed 's/^/# /' "$d/pebble.log" >&2
	return 1
}

cb() {
	local le=$1
	shift
	timeout 120 certbot --config-dir "$le" --work-dir "$le.work" \
		--logs-dir "$le.logs" --server "$ACME_URL" --non-interactive "$@"
}

dh() {
	local base=${1:?dh BASEDIR ARGS...}
	shift
	mkdir -p "$base/wellknown" || return 1
	cat >"$base/config" <<-EOF
	CA='$ACME_URL'
	CURL_OPTS='--cacert $REQUESTS_CA_BUNDLE'
	CHALLENGETYPE=http-01
	WELLKNOWN='$base/wellknown'
	HOOK='${DH_HOOK:-/bin/true}'
	KEYSIZE=2048
	CONTACT_EMAIL=
	EOF
	timeout 120 dehydrated --config "$base/config" "$@" </dev/null
}

# dh_names NAME...: the --domain/--alias/--algo options for dh_issue.
dh_names() {
	local n
	DH_ARGS=(--cron --accept-terms)
	for n; do DH_ARGS+=(--domain "$n"); done
	case " $* " in *" *."*) DH_ARGS+=(--challenge dns-01) ;; esac
	if [ -n "${DH_ALIAS:-}" ]; then DH_ARGS+=(--alias "$DH_ALIAS"); fi
	if [ -n "${DH_ALGO:-}" ]; then DH_ARGS+=(--algo "$DH_ALGO"); fi
}

dh_issue() {
	local base=${1:?dh_issue BASEDIR NAME...}
	shift
	dh_names "${@:?dh_issue BASEDIR NAME...}"
	dh "$base" "${DH_ARGS[@]}"
}

dh_renew() {
	local base=${1:?dh_renew BASEDIR NAME...} dir cur i
	shift
	dir=${DH_ALIAS:-${1:?dh_renew BASEDIR NAME...}}
	cur=$(readlink "$base/certs/${dir,,}/cert.pem" 2>/dev/null)
	cur=${cur##*-}; cur=${cur%.pem}
	for ((i = 0; i < 30; i++)); do
		[ "$(date +%s)" != "$cur" ] && break
		sleep 0.1
	done
	dh_names "$@"
	dh "$base" "${DH_ARGS[@]}" --force
}

lg() {
	local base=${1:?lg BASEDIR ARGS...}
	shift
	mkdir -p "$base/webroot" || return 1
	LEGO_CA_CERTIFICATES=$REQUESTS_CA_BUNDLE EXEC_PATH=/bin/true \
		timeout 120 lego --server "$ACME_URL" --accept-tos \
		--email snisync-test@example.com --path "$base" \
		--http --http.webroot "$base/webroot" \
		--dns exec --dns.disable-cp "$@" </dev/null
}

# lg_names NAME...: the global options for lg_issue/lg_renew.
lg_names() {
	local n
	LG_ARGS=(--key-type "${LG_KEY_TYPE:-ec256}")
	for n; do LG_ARGS+=(--domains "$n"); done
}

lg_issue() {
	local base=${1:?lg_issue BASEDIR NAME...}
	shift
	lg_names "${@:?lg_issue BASEDIR NAME...}"
	lg "$base" "${LG_ARGS[@]}" run
}

lg_renew() {
	local base=${1:?lg_renew BASEDIR NAME...}
	shift
	lg_names "${@:?lg_renew BASEDIR NAME...}"
	lg "$base" "${LG_ARGS[@]}" renew --days -1 --no-random-sleep
}
