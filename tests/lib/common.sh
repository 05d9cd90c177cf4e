# tests/lib/common.sh - assertions and housekeeping for integration tests.
# Source it from bash. Every assertion prints "ok - DESC" or "not ok - DESC"
# (tests/run counts them). Everything a test starts is registered with
# t_atexit and stopped by pid when the script exits, even on failure.

T_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SNISYNC=${SNISYNC:-$T_TOP/snisync}
T_FAILS=0
T_ATEXIT=()

t_ok()   { echo "ok - $*"; }
t_fail() { echo "not ok - $*"; T_FAILS=$((T_FAILS + 1)); }

# t_check DESC CMD...: passes when CMD exits 0.
t_check() {
	local desc=$1; shift
	if "$@"; then t_ok "$desc"; else t_fail "$desc"; fi
}

# t_eq DESC GOT WANT
t_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1 (got '$2', want '$3')"
	fi
}

# t_match DESC STRING REGEX (grep -E)
t_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		t_ok "$1"
	else
		t_fail "$1 ('$2' does not match /$3/)"
	fi
}

t_nomatch() {
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		t_fail "$1 ('$2' matches /$3/)"
	else
		t_ok "$1"
	fi
}

t_atexit() { T_ATEXIT+=("$*"); }

t_cleanup() {
	local i
	for ((i = ${#T_ATEXIT[@]} - 1; i >= 0; i--)); do
		eval "${T_ATEXIT[$i]}" >/dev/null 2>&1 || true
	done
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# t_tmpdir VAR: makes a private temp dir, stores its path in VAR and
# removes it at exit unless KEEP=1. Call it in the test's own shell (not in
# $(...)), or the removal is registered in a subshell and lost.
t_tmpdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/snisync-test.XXXXXX") || exit 1
	chmod 0755 "$d"
	if [ "${KEEP:-0}" != 1 ]; then
		t_atexit "rm -rf '$d'"
	else
		echo "# keeping $d" >&2
	fi
	printf -v "$1" '%s' "$d"
}

# t_free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
t_free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# t_require_root: integration tests that start servers need root.
t_require_root() {
	if [ "$(id -u)" != 0 ]; then
		t_fail "$(basename "$0"): must run as root (starts Postfix and Dovecot)"
		exit 1
	fi
}

t_done() {
	[ "$T_FAILS" -eq 0 ]
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; a
# daemon logs after it acts, so a test asks for a line with this
wait_for() {
	local n=$(( $1 * 10 ))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

