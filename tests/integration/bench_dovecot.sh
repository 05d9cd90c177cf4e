# bench_dovecot.sh - the Dovecot benchmark code (bench/dovecot.py --quick)
# on small trees: 20 and 200 two-name lineages served by the real Dovecot
# of this machine (2.3 on Debian 12, with 2.4 from the Debian 13 chroot of
# tests/dovecot24/chroot.sh when it is already built; 2.4 on Debian 13),
# and past a small vsz_limit (600 lineages under 64M for 2.3, 1,000 under
# 80M for 2.4), where snisync's memory guard must hold the include back
# while Dovecot keeps serving the previous one.
# Asserts results only (the certificate each name gets, exit statuses),
# never a time.
. "$(dirname "$0")/../lib/common.sh"
t_require_root
/usr/bin/python3 "$T_TOP/bench/dovecot.py" --quick
