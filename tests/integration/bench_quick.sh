# bench_quick.sh - the benchmark code on a small tree (200 lineages):
# asserts that every scenario produces the right result, never a time.
. "$(dirname "$0")/../lib/common.sh"
/usr/bin/python3 "$T_TOP/bench/run.py" --quick
