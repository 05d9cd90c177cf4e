# demo.sh - `make demo` (tests/demo.sh), the README's first command, runs
# to the end and shows each server serving each name the right
# certificate, and stops what it started.
. "$(dirname "$0")/../lib/common.sh"
t_require_root

out=$(bash "$T_TOP/tests/demo.sh" 2>&1)
t_eq "make demo's script exits 0" "$?" 0
row() { printf '%s\n' "$out" | grep -E "^   $1 " | tail -n 1 | awk '{print $2, $3, $4}'; }
t_eq "demo: mail.example.test served its own certificate by all three" \
	"$(row 'mail\.example\.test')" "mail.example.test mail.example.test mail.example.test"
t_eq "demo: pop.example.test served its lineage's certificate" \
	"$(row 'pop\.example\.test')" "shop.example.test shop.example.test shop.example.test"
t_eq "demo: a name under the wildcard gets the wildcard" \
	"$(row 'anything\.example\.test')" "*.example.test *.example.test *.example.test"
t_eq "demo: the broken lineage's name gets the default certificate" \
	"$(row 'broken\.example\.org')" "default.example.test default.example.test default.example.test"
t_match "demo: the second resync changes nothing" "$out" 'nothing changed: 4 lineages, 6 names, 1 rejected'
t_match "demo: status lists the served names" "$out" \
	'^   pop\.example\.test +shop\.example\.test +ECDSA P-256'
dir=$(printf '%s\n' "$out" | sed -n 's/^== stopping Postfix and Dovecot, removing //p')
t_check "demo: its temp dir is gone" test -n "$dir" -a ! -e "$dir"
t_eq "demo: no Postfix or Dovecot of its own left running" \
	"$(pgrep -f "${dir:-/nonexistent}" | wc -l)" 0

t_done
