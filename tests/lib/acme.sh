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
