# bench_dovecot.sh - the Dovecot benchmark code (bench/dovecot.py --quick)
# on small trees: 20 and 200 two-name lineages served by the real Dovecot
# 2.3 (and 2.4 when the chroot of make check-dovecot24 is already built),
# and 600 lineages under vsz_limit = 64M, where snisync's memory guard must
# hold the include back while Dovecot keeps serving the previous one.
# Asserts results only (the certificate each name gets, exit statuses),
# never a time.
. "$(dirname "$0")/../lib/common.sh"
t_require_root
/usr/bin/python3 "$T_TOP/bench/dovecot.py" --quick
