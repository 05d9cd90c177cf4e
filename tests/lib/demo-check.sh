# tests/lib/demo-check.sh - what `make demo` must show, asserted on its
# output: demo_assert OUT [ROOT]. OUT is everything tests/demo.sh printed;
# ROOT is the directory its paths are relative to (the fresh-machine
# root for tests/fresh/run, empty on this machine). Source after common.sh.
demo_assert() {
	local out=$1 root=${2:-} dir
	# has DESC REGEX: one line of output on failure, not the whole demo.
	has() {
		if printf '%s\n' "$out" | grep -Eq -- "$2"; then t_ok "$1"
		else t_fail "$1 (no line matches /$2/)"; fi
	}
	row() { printf '%s\n' "$out" | grep -E "^   $1 " | tail -n 1 | awk '{print $2, $3, $4}'; }
	t_eq "demo: mail.example.test served its own certificate by all three" \
		"$(row 'mail\.example\.test')" "mail.example.test mail.example.test mail.example.test"
	t_eq "demo: imap.example.test served its lineage's certificate" \
		"$(row 'imap\.example\.test')" "mail.example.test mail.example.test mail.example.test"
	t_eq "demo: shop.example.test served its own certificate by all three" \
		"$(row 'shop\.example\.test')" "shop.example.test shop.example.test shop.example.test"
	t_eq "demo: pop.example.test served its lineage's certificate" \
		"$(row 'pop\.example\.test')" "shop.example.test shop.example.test shop.example.test"
	t_eq "demo: example.test served the wildcard lineage's certificate" \
		"$(row 'example\.test')" "*.example.test *.example.test *.example.test"
	t_eq "demo: a name under the wildcard gets the wildcard" \
		"$(row 'anything\.example\.test')" "*.example.test *.example.test *.example.test"
	t_eq "demo: the broken lineage's name gets the default certificate" \
		"$(row 'broken\.example\.org')" "default.example.test default.example.test default.example.test"
	has "demo: the broken lineage is reported with its reason" \
		'error: lineage broken\.example\.org: .*private key does not match'
	has "demo: the second resync changes nothing" 'nothing changed: 4 lineages, 6 names, 1 rejected'
	has "demo: status lists the served names" \
		'^   pop\.example\.test +shop\.example\.test +ECDSA P-256'
	dir=$(printf '%s\n' "$out" | sed -n 's/^== stopping Postfix and Dovecot, removing //p')
	t_check "demo: its temp dir is gone" test -n "$dir" -a ! -e "$root$dir"
	t_eq "demo: no Postfix or Dovecot of its own left running" \
		"$(pgrep -f "${dir:-/nonexistent}" | wc -l)" 0
}
