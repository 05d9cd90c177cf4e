# demo.sh - `make demo` (tests/demo.sh), the README's first command, runs
# to the end and shows each server serving each name the right
# certificate, and stops what it started. tests/fresh/run asserts the same
# on a fresh Debian 12 root.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/demo-check.sh"
t_require_root

out=$(bash "$T_TOP/tests/demo.sh" 2>&1)
t_eq "make demo's script exits 0" "$?" 0
demo_assert "$out"

t_done
