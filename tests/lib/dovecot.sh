# tests/lib/dovecot.sh - the installed Dovecot's configuration syntax, 2.3
# or 2.4, for tests that write or read a Dovecot configuration. Sourced by
# servers.sh and tree.sh; set -u safe. FACTS: 2.3 reads "ssl_cert = <file",
# 2.4 "ssl_server_cert_file = file" and wants dovecot_config_version first.

# dc_version: prints the installed Dovecot's configuration syntax, 2.3 or
# 2.4 (from `dovecot --version`), and sets DC_VER; fails with a message
# for any other version.
dc_version() {
	local v
	if [ -z "${DC_VER:-}" ]; then
		v=$(dovecot --version 2>/dev/null)
		case $v in
		2.3.*) DC_VER=2.3 ;;
		2.4.*) DC_VER=2.4 ;;
		*) echo "dc_version: unsupported Dovecot version '$v'" >&2; return 1 ;;
		esac
		export DC_VER
	fi
	echo "$DC_VER"
}

# dc_setting WHAT: the name of Dovecot's setting WHAT (cert, key, alt_cert,
# alt_key) in the installed version's syntax, as `doveconf -h` and a
# configuration write it: ssl_cert or ssl_server_cert_file.
dc_setting() {
	dc_version >/dev/null || return 1
	if [ "$DC_VER" = 2.3 ]; then echo "ssl_$1"; else echo "ssl_server_$1_file"; fi
}

# dc_ref FILE: how a configuration names FILE as a certificate or key, and
# what `doveconf -h` prints for it: "<FILE" on 2.3, "FILE" on 2.4.
dc_ref() {
	dc_version >/dev/null || return 1
	if [ "$DC_VER" = 2.3 ]; then echo "<$1"; else echo "$1"; fi
}

# dc_conf_version: the lines a 2.4 dovecot.conf must start with (nothing
# for 2.3).
dc_conf_version() {
	dc_version >/dev/null || return 1
	[ "$DC_VER" = 2.3 ] || printf '%s\n' 'dovecot_config_version = 2.4.0' \
		'dovecot_storage_version = 2.4.0'
}

# dc_conf_ssl CERT KEY [ALT_CERT ALT_KEY]: the global certificate lines of
# a dovecot.conf for the installed version.
dc_conf_ssl() {
	printf '%s = %s\n' "$(dc_setting cert)" "$(dc_ref "$1")" \
		"$(dc_setting key)" "$(dc_ref "$2")" || return 1
	[ -z "${3:-}" ] ||
		printf '%s = %s\n' "$(dc_setting alt_cert)" "$(dc_ref "$3")" \
			"$(dc_setting alt_key)" "$(dc_ref "$4")"
}

# dc_lookup CONF NAME WHAT: the file Dovecot (configuration CONF) uses as
# WHAT (cert, key, alt_cert, alt_key) for SNI NAME, as doveconf prints it
# (2.3 keeps the "<" of "<file"). Keep stdout a pipe: 2.4.1's doveconf -h
# fails with "Multiple settings matched" when it is a regular file not
# at offset 0.
dc_lookup() {
	dc_version >/dev/null || return 1
	if [ "$DC_VER" = 2.3 ]; then
		doveconf -c "$1" -f "lname=$2" -h "ssl_$3"
	else
		doveconf -c "$1" -f "local_name=$2" -h "ssl_server/$3_file"
	fi
}
