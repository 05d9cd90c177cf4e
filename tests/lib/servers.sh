# tests/lib/servers.sh - private Postfix and Dovecot instances on 127.0.0.1,
# and a TLS probe. Source common.sh first (t_atexit, t_free_port); needs
# root. set -u safe. Call pf_start/dc_start in the test's own shell, not in
# $(...): they export variables and register their cleanup with t_atexit.
# DIR and every parent of it must be world-searchable (t_tmpdir's are).
#
# Contract:
#   pf_start DIR DEFAULT_KEY DEFAULT_CHAIN MAPPATH [ALT_KEY ALT_CHAIN]
#       Postfix rooted in DIR (DIR/etc config, DIR/spool queue, DIR/data,
#       log DIR/maillog), smtpd on a free port with STARTTLS,
#       smtpd_tls_chain_files = DEFAULT_KEY, DEFAULT_CHAIN [, ALT_KEY,
#       ALT_CHAIN], tls_server_sni_maps = lmdb:MAPPATH (MAPPATH.lmdb may not
#       exist yet). Extra main.cf / master.cf lines: $PF_MAIN_EXTRA,
#       $PF_MASTER_EXTRA. Waits (<= 10 s) for the SMTP greeting.
#       Exports PF_CONF (config dir), PF_PORT, PF_LOG.
#   pf_stop [CONFDIR]    SIGTERM to the master (what "postfix stop" does),
#                        wait <= 5 s, then SIGKILL; reap its process group.
#   pf_reload [CONFDIR]  postfix reload.
#   dc_start DIR DEFAULT_KEY DEFAULT_CHAIN [ALT_KEY ALT_CHAIN]
#       Dovecot, its configuration in the installed version's syntax
#       (2.3 or 2.4: dc_version, tests/lib/dovecot.sh), rooted in DIR
#       (DIR/dovecot.conf, DIR/run base_dir, DIR/state, log
#       DIR/dovecot.log), ssl = required, IMAP (STARTTLS),
#       IMAPS, POP3 (STARTTLS), POP3S on free ports, and
#       "!include_try DIR/conf.d/*.conf". Extra dovecot.conf lines:
#       $DC_CONF_EXTRA. Waits (<= 10 s) until IMAPS completes a handshake.
#       Exports DC_CONF DC_CONFD DC_IMAP_PORT DC_IMAPS_PORT DC_POP3_PORT
#       DC_POP3S_PORT DC_LOG.
#   dc_stop [CONF]       SIGTERM to the master (what "doveadm stop" does),
#                        wait <= 5 s, then SIGKILL; reap its process group.
#   dc_reload [CONF]     doveadm reload.
#   probe_fp PORT MODE NAME [SIGALGS]
#       MODE smtp|imap|pop3 (STARTTLS) or tls (implicit). NAME "" sends no
#       SNI. Prints the served leaf's SHA-256 fingerprint (as certs_fp) and
#       returns 0, or prints ERROR and returns 1. Extra s_client options:
#       $PROBE_OPTS (word-split), e.g. "-tls1_2".
#   probe_until PORT MODE NAME FP [SECONDS]
#       Probes (as probe_fp) every 0.2 s until FP is served, at most
#       SECONDS (10): a reloaded Postfix restarts its smtpd processes as
#       they finish. 0 once served, else 1.
#   pf_log_tail [N] / dc_log_tail [N]   last N (20) log lines, "# "-prefixed.
# Starting fails with a message and the log tail on stderr, return 1.

. "$(dirname "${BASH_SOURCE[0]}")/dovecot.sh"

# _srv_now_ms: wall clock in milliseconds.
_srv_now_ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }

# _srv_ports N: N distinct free ports on 127.0.0.1, one per line.
_srv_ports() {
	local -a got=()
	local p q dup
	while [ "${#got[@]}" -lt "$1" ]; do
		p=$(t_free_port) || return 1
		dup=0
		for q in "${got[@]}"; do [ "$q" != "$p" ] || dup=1; done
		[ "$dup" = 1 ] || got+=("$p")
	done
	printf '%s\n' "${got[@]}"
}

# _srv_greeting PORT: first line the server sends, within 2 s.
_srv_greeting() {
	# shellcheck disable=SC2016 # $1 is expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		IFS= read -r l <&3 && printf "%s\n" "$l"' _ "$1" 2>/dev/null
}

# _srv_master_alive PID COMM CWD: PID is alive, runs COMM and has working
# directory CWD (both masters chdir to their queue / base dir), i.e. it is
# the master we started and not a reused pid. CWD must be canonical.
_srv_master_alive() {
	local pid=$1 comm=$2 cwd=$3 c
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	read -r c <"/proc/$pid/stat" 2>/dev/null || return 1
	# "PID (COMM) STATE ...": a zombie has exited already.
	case $c in *") Z "* | *") X "*) return 1 ;; esac
	[ "${c#* (}" != "${c#* ("$comm") }" ] || return 1
	[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$cwd" ]
}

# _srv_reap PID COMM CWD: wait up to 5 s for the master PID to exit, then
# SIGKILL it; finally TERM/KILL whatever is left in its process group.
_srv_reap() {
	local pid=$1 comm=$2 cwd=$3 i
	[ -n "$pid" ] || return 0
	for ((i = 0; i < 100; i++)); do
		_srv_master_alive "$pid" "$comm" "$cwd" || break
		sleep 0.05
	done
	if _srv_master_alive "$pid" "$comm" "$cwd"; then
		echo "# $comm $pid did not stop, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	# Children share the master's process group (the master is a session
	# leader); anything still there after the master is gone is ours.
	local -a left
	for ((i = 0; i < 40; i++)); do
		mapfile -t left < <(_srv_group "$pid")
		[ "${#left[@]}" -gt 0 ] || return 0
		[ "$i" != 0 ] || kill -TERM "${left[@]}" 2>/dev/null
		[ "$i" != 20 ] || kill -KILL "${left[@]}" 2>/dev/null
		sleep 0.05
	done
	echo "# processes of group $pid still there: ${left[*]}" >&2
	return 0
}

# _srv_group PGID: live (non-zombie) processes in process group PGID.
# Zombies are skipped: in this container pid 1 reaps orphans only lazily.
_srv_group() {
	ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# _srv_readable WHO FILE...: all FILEs readable, else complain (a missing
# default key would otherwise only show later as failed handshakes).
_srv_readable() {
	local who=$1 f
	shift
	for f in "$@"; do
		[ -r "$f" ] || { echo "$who: cannot read $f" >&2; return 1; }
	done
}

# --- Postfix ----------------------------------------------------------------

pf_start() {
	local dir=${1:?pf_start DIR KEY CHAIN MAPPATH} key=${2:?pf_start: KEY missing}
	local chain=${3:?pf_start: CHAIN missing} map=${4:?pf_start: MAPPATH missing}
	local akey=${5:-} achain=${6:-} files t0 g
	_srv_readable pf_start "$key" "$chain" ${akey:+"$akey" "$achain"} || return 1
	mkdir -p "$dir/etc" || return 1
	PF_CONF=$dir/etc
	PF_LOG=$dir/maillog
	PF_PORT=$(_srv_ports 1) || return 1
	export PF_CONF PF_PORT PF_LOG
	files="$key, $chain"
	[ -z "$akey" ] || files="$files, $akey, $achain"
	cat >"$PF_CONF/main.cf" <<-EOF
		# private test instance (tests/lib/servers.sh)
		compatibility_level = 3.6
		queue_directory = $dir/spool
		data_directory = $dir/data
		myhostname = default.example.test
		mydestination =
		mynetworks = 127.0.0.0/8
		alias_maps =
		alias_database =
		local_recipient_maps =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		smtpd_peername_lookup = no
		maillog_file_prefixes = $dir
		maillog_file = $PF_LOG
		smtpd_tls_security_level = may
		smtpd_tls_chain_files = $files
		tls_server_sni_maps = lmdb:$map
		smtpd_tls_loglevel = 1
		${PF_MAIN_EXTRA:-}
	EOF
	cat >"$PF_CONF/master.cf" <<-EOF
		# service type  private unpriv  chroot  wakeup  maxproc command
		127.0.0.1:$PF_PORT inet n - n - - smtpd
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		tlsmgr    unix  -       -       n       1000?   1       tlsmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		anvil     unix  -       -       n       -       1       anvil
		proxymap  unix  -       -       n       -       -       proxymap
		postlog   unix-dgram n  -       n       -       1       postlogd
		${PF_MASTER_EXTRA:-}
	EOF
	# Postfix sleeps (300 ms steps) until main.cf is 2 s old, to avoid
	# reading a half-written file: backdate what we just wrote.
	touch -d '-1 minute' "$PF_CONF/main.cf" "$PF_CONF/master.cf" || return 1
	# "postfix check" (post-install) takes about 2 s per fresh instance.
	# Create the queue layout of postfix-files(5) ourselves instead and
	# let "start" skip its checks through the quick-start marker (what
	# "postfix quick-stop" leaves behind).
	_pf_mkqueue "$dir" || return 1
	t_atexit "pf_stop $(printf %q "$PF_CONF")"
	postfix -c "$PF_CONF" start >"$dir/start.log" 2>&1 || {
		echo "pf_start: postfix start failed:" >&2
		postfix -c "$PF_CONF" check >>"$dir/start.log" 2>&1
		sed 's/^/# /' "$dir/start.log" >&2
		pf_log_tail 20 >&2
		return 1
	}
	t0=$(_srv_now_ms)
	while :; do
		g=$(_srv_greeting "$PF_PORT")
		case $g in 220*) return 0 ;; esac
		if [ $(($(_srv_now_ms) - t0)) -gt 10000 ]; then
			echo "pf_start: no SMTP greeting on port $PF_PORT after 10 s" >&2
			pf_log_tail 20 >&2
			return 1
		fi
		sleep 0.05
	done
}

# _pf_mkqueue DIR: DIR/spool with the queue directories of postfix-files
# (owners and modes), the quick-start marker, and DIR/data.
_pf_mkqueue() {
	local q=$1/spool d
	install -d -o root -m 0755 "$q" "$q/pid" &&
	for d in active bounce corrupt defer deferred flush hold incoming \
		private saved trace; do
		install -d -o postfix -m 0700 "$q/$d" || return 1
	done &&
	install -d -o postfix -g postdrop -m 0730 "$q/maildrop" &&
	install -d -o postfix -g postdrop -m 0710 "$q/public" &&
	install -d -o postfix -m 0700 "$1/data" &&
	touch "$q/quick-start"
}

pf_stop() {
	local conf=${1:-${PF_CONF:-}} q pid=''
	[ -n "$conf" ] && [ -f "$conf/main.cf" ] || return 0
	q=$(postconf -c "$conf" -h queue_directory 2>/dev/null) &&
		q=$(readlink -f "$q") || return 0
	[ -r "$q/pid/master.pid" ] && read -r pid <"$q/pid/master.pid"
	_srv_master_alive "$pid" master "$q" || return 0
	# "postfix stop" does exactly this kill, then polls in 1 s steps;
	# we poll in 50 ms steps instead (saves ~1 s per instance).
	kill -TERM "$pid" 2>/dev/null
	_srv_reap "$pid" master "$q"
}

pf_reload() {
	postfix -c "${1:-$PF_CONF}" reload >/dev/null 2>&1
}

pf_log_tail() {
	local n=${1:-20}
	echo "# --- last $n lines of ${PF_LOG:-?}"
	[ -n "${PF_LOG:-}" ] && [ -r "$PF_LOG" ] && tail -n "$n" "$PF_LOG" | sed 's/^/# /'
	return 0
}

# --- Dovecot ----------------------------------------------------------------

dc_start() {
	local dir=${1:?dc_start DIR KEY CHAIN} key=${2:?dc_start: KEY missing}
	local chain=${3:?dc_start: CHAIN missing} akey=${4:-} achain=${5:-}
	local -a p
	local name t0
	_srv_readable dc_start "$key" "$chain" ${akey:+"$akey" "$achain"} || return 1
	dc_version >/dev/null || return 1
	mkdir -p "$dir/conf.d" "$dir/run" "$dir/state" "$dir/home" || return 1
	mapfile -t p < <(_srv_ports 4)
	[ "${#p[@]}" = 4 ] || return 1
	DC_CONF=$dir/dovecot.conf
	DC_CONFD=$dir/conf.d
	DC_LOG=$dir/dovecot.log
	DC_IMAP_PORT=${p[0]}
	DC_IMAPS_PORT=${p[1]}
	DC_POP3_PORT=${p[2]}
	DC_POP3S_PORT=${p[3]}
	export DC_CONF DC_CONFD DC_LOG DC_IMAP_PORT DC_IMAPS_PORT DC_POP3_PORT DC_POP3S_PORT
	# instance_name prefixes process titles ("dovecot-NAME/imap-login"); the
	# instance list lives in our state_dir. Derive a unique name from DIR.
	name=snisync-$(printf '%s' "$dir" | md5sum | cut -c1-12)
	{
		dc_conf_version
		cat <<-EOF
			# private test instance (tests/lib/servers.sh, Dovecot $DC_VER)
			base_dir = $dir/run
			state_dir = $dir/state
			instance_name = $name
			log_path = $DC_LOG
			protocols = imap pop3
			listen = 127.0.0.1
			ssl = required
			auth_mechanisms = plain
		EOF
		dc_conf_ssl "$chain" "$key" "$achain" "$akey"
		if [ "$DC_VER" = 2.3 ]; then
			cat <<-EOF
				passdb {
				  driver = static
				  args = nopassword=y
				}
				userdb {
				  driver = static
				  args = uid=nobody gid=nogroup home=$dir/home
				}
			EOF
		else
			cat <<-EOF
				passdb static {
				  password = test
				}
				userdb static {
				  fields {
				    uid = nobody
				    gid = nogroup
				    home = $dir/home
				  }
				}
			EOF
		fi
		cat <<-EOF
			service imap-login {
			  inet_listener imap {
			    port = $DC_IMAP_PORT
			  }
			  inet_listener imaps {
			    port = $DC_IMAPS_PORT
			    ssl = yes
			  }
			}
			service pop3-login {
			  inet_listener pop3 {
			    port = $DC_POP3_PORT
			  }
			  inet_listener pop3s {
			    port = $DC_POP3S_PORT
			    ssl = yes
			  }
			}
			${DC_CONF_EXTRA:-}
			!include_try $DC_CONFD/*.conf
		EOF
	} >"$DC_CONF"
	t_atexit "dc_stop $(printf %q "$DC_CONF")"
	dovecot -c "$DC_CONF" >"$dir/start.log" 2>&1 || {
		echo "dc_start: dovecot failed to start:" >&2
		sed 's/^/# /' "$dir/start.log" >&2
		dc_log_tail 20 >&2
		return 1
	}
	t0=$(_srv_now_ms)
	until _probe_fp 2 "$DC_IMAPS_PORT" tls "" >/dev/null; do
		if [ $(($(_srv_now_ms) - t0)) -gt 10000 ]; then
			echo "dc_start: no TLS on IMAPS port $DC_IMAPS_PORT after 10 s" >&2
			dc_log_tail 20 >&2
			return 1
		fi
		sleep 0.05
	done
}

dc_stop() {
	local conf=${1:-${DC_CONF:-}} base pid=''
	[ -n "$conf" ] && [ -f "$conf" ] || return 0
	base=$(doveconf -c "$conf" -h base_dir 2>/dev/null) &&
		base=$(readlink -f "$base") || return 0
	[ -r "$base/master.pid" ] && read -r pid <"$base/master.pid"
	_srv_master_alive "$pid" dovecot "$base" || return 0
	# "doveadm stop" sends this SIGTERM, then polls slowly (2.6 s in all);
	# the master itself needs ~1 s (it gives its log process 1 s to flush).
	kill -TERM "$pid" 2>/dev/null
	_srv_reap "$pid" dovecot "$base"
}

dc_reload() {
	doveadm -c "${1:-$DC_CONF}" reload >/dev/null 2>&1
}

dc_log_tail() {
	local n=${1:-20}
	echo "# --- last $n lines of ${DC_LOG:-?}"
	[ -n "${DC_LOG:-}" ] && [ -r "$DC_LOG" ] && tail -n "$n" "$DC_LOG" | sed 's/^/# /'
	return 0
}

# --- probe ------------------------------------------------------------------

# _probe_fp TIMEOUT PORT MODE NAME [SIGALGS]
_probe_fp() {
	local to=$1 port=$2 mode=$3 name=$4 sigalgs=${5:-} out fp
	local -a a=(-connect "127.0.0.1:$port")
	case $mode in
	smtp | imap | pop3) a+=(-starttls "$mode") ;;
	tls) ;;
	*) echo "probe_fp: unknown mode '$mode'" >&2; echo ERROR; return 1 ;;
	esac
	if [ -n "$name" ]; then a+=(-servername "$name"); else a+=(-noservername); fi
	[ -z "$sigalgs" ] || a+=(-sigalgs "$sigalgs")
	# shellcheck disable=SC2206 # PROBE_OPTS is meant to be word-split
	[ -z "${PROBE_OPTS:-}" ] || a+=($PROBE_OPTS)
	if out=$(timeout "$to" openssl s_client "${a[@]}" </dev/null 2>/dev/null) &&
		fp=$(printf '%s\n' "$out" | openssl x509 -noout -fingerprint -sha256 2>/dev/null); then
		printf '%s\n' "${fp#*=}"
		return 0
	fi
	echo ERROR
	return 1
}

probe_fp() {
	_probe_fp 10 "${1:?probe_fp PORT MODE NAME [SIGALGS]}" "${2:?probe_fp: MODE missing}" \
		"${3?probe_fp: NAME missing}" "${4:-}"
}

probe_until() {
	local end=$(($(_srv_now_ms) + ${5:-10} * 1000))
	until [ "$(probe_fp "$1" "$2" "$3")" = "${4:?probe_until PORT MODE NAME FP [SECONDS]}" ]; do
		[ "$(_srv_now_ms)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
