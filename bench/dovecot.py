#!/usr/bin/python3
"""bench/dovecot.py - snisync and a real Dovecot at hosting scale: this
machine's (2.3 on Debian 12, 2.4 on Debian 13) and, on a 2.3 machine, 2.4
from the Debian 13 chroot of tests/dovecot24/chroot.sh, N two-name
lineages (bench/gentree.py) per point.

  bench/dovecot.py [--quick] [--sizes 500,1000] [--max N] [--versions 2.3,2.4]
                   [--renewals R] [--keep]

Per version and N:
 1. Dovecot with the default memory limit (no vsz_limit: 256 M) serves a
    10-lineage include; the tree grows to N and `snisync resync` runs with
    the default check (doveconf -xn) and the real `doveadm reload`. Either
    the include goes in and Dovecot serves every sample name its
    lineage's certificate, or the memory guard holds it back (exit 4, one
    "needs about ... kept the previous one" line) and Dovecot still
    serves the previous include.
 2. With `service config { vsz_limit = 4G }`: doveconf -xn on the full
    include (wall time, peak RSS), Dovecot's start (until the first
    handshake completes), the config process's RSS, the first handshake
    after start and after `doveadm reload`, the median of 10 handshakes;
    every handshake must return the name's certificate.
 3. One lineage renewed, `snisync resync` timed with the default check
    and with "check": null, alternately (reload: /bin/true in both).
Prints one table; `ok - ` / `not ok - ` lines for every result that can be
wrong; exits non-zero only when one is. --quick (tests/integration/
bench_dovecot.sh): 20 and 200 lineages, this machine's Dovecot (and 2.4
when this machine has 2.3 and the chroot is already built), plus 600
lineages under vsz_limit = 64M for 2.3, 1,000 under 80M for 2.4, where
the guard must hold back; it asserts results only, never a time.
Needs root. Everything lives in one temp dir, removed at the end; every
Dovecot started is stopped by pid; 127.0.0.1 only, ports chosen now.
The 2.4 part runs in a private mount namespace (the temp dir bound into the
chroot at the same path), so no mount outlives the run.
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SNISYNC = os.environ.get("SNISYNC", os.path.join(TOP, "snisync"))
GENTREE = os.path.join(HERE, "gentree.py")
CHROOT_SH = os.path.join(TOP, "tests", "dovecot24", "chroot.sh")
BASE = 10           # lineages in service before the tree grows to N
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
ap.add_argument("--sizes", help="comma-separated lineage counts")
ap.add_argument("--max", type=int, default=5000,
                help="largest N of 500,1000,2000,5000,10000 (default 5000)")
ap.add_argument("--versions", default="2.3,2.4")
ap.add_argument("--renewals", type=int, default=3,
                help="renewals timed per check setting and point")
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()

if os.geteuid() != 0:
    print("bench/dovecot.py: needs root (it starts private Dovecots)",
          file=sys.stderr)
    sys.exit(2)
# Once: a private mount namespace, so the chroot's mounts die with us.
if os.environ.get("SNISYNC_BENCH_NS") != "1":
    os.environ["SNISYNC_BENCH_NS"] = "1"
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                      stderr=subprocess.DEVNULL).returncode == 0:
        os.environ["SNISYNC_BENCH_PRIVATE_NS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                              sys.executable, os.path.abspath(__file__)]
                  + sys.argv[1:])

if args.quick:
    sizes = [20, 200]
    args.renewals = 1
elif args.sizes:
    sizes = [int(s) for s in args.sizes.split(",") if s]
else:
    sizes = [n for n in (500, 1000, 2000, 5000, 10000) if n <= args.max]
versions = [v for v in args.versions.split(",") if v]

failures = []
masters = []        # (pid, base_dir) of every Dovecot master started
mounts = []         # mount points we made, in order
T = None


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        failures.append(what)


def note(s):
    print("# " + s, flush=True)


def on_signal(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGHUP, on_signal)


class Dovecot:
    """One Dovecot version: how to run its tools (2.4: in the chroot)."""

    def __init__(self, name, root=None):
        self.name, self.root = name, root

    def cmd(self, argv):
        if self.root is None:
            return argv
        return ["/usr/sbin/chroot", self.root] + argv

    def env(self):
        return CLEAN_ENV if self.root else None

    def version(self):
        return subprocess.run(self.cmd(["dovecot", "--version"]), env=self.env(),
                              capture_output=True, text=True).stdout.strip()


def free_ports(k):
    got = []
    while len(got) < k:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in got:
            got.append(p)
    return got


def gentree(le, n, version=1, start=0):
    subprocess.check_call(["/usr/bin/python3", GENTREE, le, str(n),
                           "--names", "2", "--version", str(version),
                           "--start", str(start)], stderr=subprocess.DEVNULL)


def lineage(i):
    return "bench-%05d.example.test" % i


def cert_der(le, i):
    with open(os.path.join(le, "live", lineage(i), "cert.pem")) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def timed(cmd, stderr_path=None, env=None):
    """Runs cmd; returns (seconds, peak RSS of the child in KB, exit status)."""
    err = open(stderr_path, "w") if stderr_path else subprocess.DEVNULL
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        return time.monotonic() - t0, ru.ru_maxrss, p.returncode
    finally:
        if stderr_path:
            err.close()


def resync(conf, log):
    s, _, rc = timed([SNISYNC, "-c", conf, "resync"], log)
    with open(log) as f:
        return s, rc, f.read()


CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def handshake(port, name, timeout):
    """(seconds, DER of the served leaf); raises OSError on failure."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        with CTX.wrap_socket(s, server_hostname=name) as ts:
            der = ts.getpeercert(binary_form=True)
    return time.monotonic() - t0, der


def first_handshake(port, name, deadline, attempt_timeout=120):
    """Retries until a handshake completes or deadline (monotonic) passes:
    (time it completed, its own duration, DER) or None."""
    while time.monotonic() < deadline:
        try:
            took, der = handshake(port, name, min(attempt_timeout,
                                                  max(1, deadline - time.monotonic())))
            return time.monotonic(), took, der
        except (OSError, ssl.SSLError):
            time.sleep(0.05)
    return None


def serves(port, want, deadline):
    """Every name in want (name -> DER) is served its certificate before
    deadline (a reload takes effect asynchronously). Returns the names
    still wrong."""
    left = dict(want)
    while left and time.monotonic() < deadline:
        for name in list(left):
            try:
                _, der = handshake(port, name, max(1, min(30, deadline - time.monotonic())))
                if der == left[name]:
                    del left[name]
            except (OSError, ssl.SSLError):
                pass
        if left:
            time.sleep(0.1)
    return sorted(left)


def samples(le, idx):
    """name -> expected DER for the lineages idx (both names of the first)."""
    want = {}
    for k, i in enumerate(idx):
        der = cert_der(le, i)
        want[lineage(i)] = der
        if k == 0:
            want["n1." + lineage(i)] = der
    return want


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def proc_stat(pid):
    """(comm, state, ppid, pgrp) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1]), int(rest[2])


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def config_procs(master):
    return [p for p in all_pids()
            if (st := proc_stat(p)) and st[2] == master and st[0] == "config"
            and st[1] != "Z"]


def config_mem(tag, master, when):
    """Peak RSS (VmHWM) and peak VSZ (VmPeak) in MB of the master's
    config process(es): the largest if there are several."""
    cps = config_procs(master)
    if not cps:
        note("%s: no dovecot/config process found %s" % (tag, when))
        return None, None
    if len(cps) > 1:
        note("%s: %d config processes %s" % (tag, len(cps), when))
    st = [proc_status(p) for p in cps]
    return (max(kb(x, "VmHWM") for x in st) / 1024.0,
            max(kb(x, "VmPeak") for x in st) / 1024.0)


def kb(status, key):
    v = status.get(key, "0 kB").split()
    return int(v[0]) if v else 0


def alive(pid, comm):
    st = proc_stat(pid)
    return st is not None and st[0] == comm and st[1] not in ("Z", "X")


def dc_start(v, conf, base_dir, log):
    """Starts Dovecot; returns (master pid or None, exit status)."""
    with open(log, "w") as f:
        rc = subprocess.run(v.cmd(["dovecot", "-c", conf]), env=v.env(),
                            stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                            timeout=600).returncode
    pid = None
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with open(os.path.join(base_dir, "master.pid")) as f:
                pid = int(f.read().split()[0])
            break
        except (OSError, ValueError, IndexError):
            time.sleep(0.05)
    if pid is not None:
        masters.append((pid, base_dir))
    return pid, rc


def dc_stop(pid):
    """SIGTERM to the master (what doveadm stop sends), SIGKILL after 10 s,
    then whatever is left of its process group, by pid."""
    if pid is None:
        return
    if alive(pid, "dovecot"):
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 10
        while time.monotonic() < end and alive(pid, "dovecot"):
            time.sleep(0.05)
        if alive(pid, "dovecot"):
            note("dovecot %d did not stop, killing it" % pid)
            os.kill(pid, signal.SIGKILL)
    for i in range(60):
        left = [p for p in all_pids()
                if (st := proc_stat(p)) and st[3] == pid and st[1] != "Z"]
        if not left:
            break
        for p in left:
            if i in (0, 30):
                try:
                    os.kill(p, signal.SIGTERM if i == 0 else signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.05)
    masters[:] = [m for m in masters if m[0] != pid]


def dc_conf(v, d, ports, limit):
    """dovecot.conf of a private instance; the include is named exactly as
    snisync's config names it."""
    inc = os.path.join(d, "conf.d", "99-snisync.conf")
    svc = "" if limit is None else "service config {\n  vsz_limit = %s\n}\n" % limit
    listeners = """service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
""" % tuple(ports)
    common = """base_dir = %(d)s/run
state_dir = %(d)s/state
instance_name = snisync-bench-%(tag)s
log_path = %(d)s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
""" % {"d": d, "tag": hashlib.sha256(d.encode()).hexdigest()[:12]}
    if v.name == "2.3":
        text = ("# private bench instance (bench/dovecot.py)\n" + common + """ssl_cert = <%(t)s/default.crt
ssl_key = <%(t)s/default.key
auth_mechanisms = plain
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=%(d)s/home
}
""" % {"t": T, "d": d})
    else:
        text = ("dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n"
                "# private bench instance (bench/dovecot.py)\n" + common +
                """ssl_server_cert_file = %(t)s/default.crt
ssl_server_key_file = %(t)s/default.key
passdb static {
  password = test
}
userdb static {
  fields {
    uid = nobody
    gid = nogroup
    home = %(d)s/home
  }
}
""" % {"t": T, "d": d})
    text += listeners + svc + "!include_try %s\n" % inc
    path = os.path.join(d, "dovecot.conf")
    with open(path, "w") as f:
        f.write(text)
    return path, inc


def sn_conf(v, d, conf, inc, name, check=True, reload=True):
    c = v.cmd(["doveconf", "-xn", "-c", conf])
    r = v.cmd(["doveadm", "-c", conf, "reload"]) if reload else ["/bin/true"]
    q = v.cmd(["doveconf", "-c", conf])
    js = lambda a: "[" + ", ".join('"%s"' % x for x in a) + "]"
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write('{"letsencrypt_dir": "%s/le", "state_dir": "%s/sn",\n'
                ' "postfix": null,\n'
                ' "dovecot": {"config": "%s", "version": "%s",\n'
                '             "check": %s,\n'
                '             "doveconf": %s,\n'
                '             "reload": %s}}\n'
                % (d, d, inc, v.name, js(c) if check else "null", js(q), js(r)))
    return path


def blocks(inc):
    try:
        with open(inc) as f:
            return sum(1 for line in f if "local_name" in line)
    except FileNotFoundError:
        return 0


def last_line(text, pat):
    for line in text.splitlines():
        if pat in line:
            return line
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def point(v, n, limit=None, full=True, expect_hold=None):
    """One version and size; returns its figures."""
    tag = "%s, %d lineages, %s" % (v.name, n, limit or "256M (default)")
    r = {"v": v.name, "n": n}
    t_point = time.monotonic()
    d = os.path.join(T, "%s-%d-%s" % (v.name, n, limit or "default"))
    for sub in ("conf.d", "run", "state", "home"):
        os.makedirs(os.path.join(d, sub))
    le = os.path.join(d, "le")
    base = min(BASE, n)
    gentree(le, base)
    ports = free_ports(2)
    imaps = ports[1]
    conf, inc = dc_conf(v, d, ports, limit)
    real = sn_conf(v, d, conf, inc, "real.json")
    pid, rc = dc_start(v, conf, os.path.join(d, "run"), os.path.join(d, "start1.log"))
    up = rc == 0 and pid is not None and \
        first_handshake(imaps, "default.bench.test", time.monotonic() + 30) is not None
    check(up, "%s: Dovecot started, IMAPS %d completes a handshake" % (tag, imaps))
    try:
        # --- 1. under the limit: the guard, the real reload ------------------
        s, rc, out = resync(real, os.path.join(d, "resync0.log"))
        check(rc == 0, "%s: resync of the first %d lineages exits 0%s"
              % (tag, base, "" if rc == 0 else " (got %d: %s)" % (rc, last_line(out, "error"))))
        old = samples(le, [base // 2])
        wrong = serves(imaps, old, time.monotonic() + 30)
        check(not wrong, "%s: Dovecot serves the first %d lineages' names their certificates%s"
              % (tag, base, "" if not wrong else " (wrong: %s)" % wrong))
        if n > base:
            gentree(le, n - base, start=base)
        s, rc, out = resync(real, os.path.join(d, "resync1.log"))
        r["resync_s"], r["resync_rc"] = s, rc
        guard = last_line(out, "dovecot: the new configuration needs about")
        held = rc == 4 and "kept the previous one" in guard
        r["held"] = held
        m = re.search(r"needs about (\d+) MB", guard)
        r["need_mb"] = m.group(1) if m else "?"
        r["kept"] = blocks(inc)
        if held:
            note("%s: %s" % (tag, guard))
        want = samples(le, [0, n // 2, n - 1])
        if rc == 0:
            wrong = serves(imaps, want, time.monotonic() + 30 + 0.02 * n)
            r["served256"] = not wrong
            check(not wrong, "%s: the guard let %d blocks in; Dovecot serves every sample name "
                  "its lineage's certificate%s" % (tag, r["kept"], "" if not wrong else
                                                   " (wrong or no handshake: %s)" % wrong))
        elif held:
            check(r["kept"] == blocks_for(v, base),
                  "%s: the guard held the new include back (exit 4); the previous one "
                  "(%d blocks) is kept" % (tag, r["kept"]))
            wrong = serves(imaps, old, time.monotonic() + 30)
            check(not wrong, "%s: held back, Dovecot still serves the previous include" % tag)
        else:
            check(False, "%s: resync exits 0, or 4 with the guard's line (got %d: %s)"
                  % (tag, rc, last_line(out, "error")))
        if expect_hold is not None:
            check(held == expect_hold, "%s: the guard %s" % (
                tag, "holds the new include back" if expect_hold else "lets the include in"))
    finally:
        dc_stop(pid)
    if not full:
        r["point_s"] = time.monotonic() - t_point
        return r

    # --- 2. vsz_limit = 4G: doveconf, start, handshakes ----------------------
    tag = "%s, %d lineages, 4G" % (v.name, n)
    conf, inc = dc_conf(v, d, ports, "4G")
    quiet_on = sn_conf(v, d, conf, inc, "on.json", check=True, reload=False)
    quiet_off = sn_conf(v, d, conf, inc, "off.json", check=False, reload=False)
    s, rc, out = resync(quiet_on, os.path.join(d, "resync2.log"))
    r["blocks"] = blocks(inc)
    check(rc == 0 and r["blocks"] == blocks_for(v, n),
          "%s: resync exits 0 and the include has %d blocks%s"
          % (tag, blocks_for(v, n), "" if rc == 0 and r["blocks"] == blocks_for(v, n) else
             " (exit %d, %d blocks: %s)" % (rc, r["blocks"], last_line(out, "error"))))
    r["dc_s"], dc_kb, rc = timed(v.cmd(["doveconf", "-xn", "-c", conf]), env=v.env())
    r["dc_mb"] = dc_kb / 1024.0
    check(rc == 0, "%s: doveconf -xn accepts the include (%.1f s, %.0f MB)"
          % (tag, r["dc_s"], r["dc_mb"]))
    t0 = time.monotonic()
    pid, rc = dc_start(v, conf, os.path.join(d, "run"), os.path.join(d, "start2.log"))
    try:
        names = list(want)
        got = first_handshake(imaps, names[0], t0 + 300) if pid else None
        if got is None:
            check(False, "%s: Dovecot (exit %d) completes a first handshake within 300 s" % (tag, rc))
            r["point_s"] = time.monotonic() - t_point
            return r
        r["start_s"], r["first_ms"] = got[0] - t0, got[1] * 1000
        check(got[2] == want[names[0]], "%s: first handshake after start: %s gets its certificate"
              % (tag, names[0]))
        lat, bad = [], []
        for i in range(10):
            name = names[i % len(names)]
            try:
                took, der = handshake(imaps, name, 60)
                lat.append(took * 1000)
                if der != want[name]:
                    bad.append(name)
            except (OSError, ssl.SSLError) as e:
                bad.append("%s (%s)" % (name, e))
        r["steady_ms"] = statistics.median(lat) if lat else None
        r["served4g"] = not bad and got[2] == want[names[0]]
        check(not bad, "%s: 10 handshakes, each name gets its certificate%s"
              % (tag, "" if not bad else " (wrong: %s)" % bad))
        r["rss_mb"], r["peak_mb"] = config_mem(tag, pid, "after start")
        # first handshake after a reload (a name not asked yet)
        rname = "n1." + lineage(n // 2)
        rwant = cert_der(le, n // 2)
        r["doveadm_s"], _, rc = timed(v.cmd(["doveadm", "-c", conf, "reload"]), env=v.env())
        check(rc == 0, "%s: doveadm reload exits 0" % tag)
        t1 = time.monotonic()       # the master has its SIGHUP
        got = first_handshake(imaps, rname, t1 + 300)
        if got is None:
            check(False, "%s: a handshake completes within 300 s of doveadm reload" % tag)
        else:
            r["reload_ms"] = (got[0] - t1) * 1000
            check(got[2] == rwant, "%s: first handshake after reload: %s gets its certificate"
                  % (tag, rname))
        r["rss2_mb"], r["peak2_mb"] = config_mem(tag, pid, "after reload")
        vsz = max(r["peak_mb"] or 0, r["peak2_mb"] or 0)
        if r.get("held") and vsz and vsz < 256:
            note("%s: the guard held %d blocks back at 256M, but the config process "
                 "peaks at %.0f MB VSZ here (after start and after reload)"
                 % (tag, r["blocks"], vsz))
    finally:
        dc_stop(pid)

    # --- 3. renewal: default check vs none -----------------------------------
    on, off, bad = [], [], []
    for i in range(args.renewals):
        for conf_js, times, k in ((quiet_on, on, n // 3 + i), (quiet_off, off, 2 * n // 3 + i)):
            gentree(le, 1, version=2, start=k)
            s, rc, out = resync(conf_js, os.path.join(d, "renew.log"))
            times.append(s * 1000)
            with open(os.path.join(le, "archive", lineage(k), "fullchain2.pem"), "rb") as f:
                full = f.read()
            # the include names the lineage's served file (key, "\n",
            # full chain): the renewal is in that file
            with open(inc) as f:
                m = re.search(r"[ <](/\S+/served/%s\.pem)\n" % re.escape(lineage(k)),
                              f.read())
            named = False
            if m:
                with open(m.group(1), "rb") as f:
                    named = f.read().endswith(b"\n" + full)
            if rc != 0 or not named:
                bad.append("%s rc %d%s" % (lineage(k), rc, "" if named else ", old chain"))
    r["renew_on"], r["renew_off"] = statistics.median(on), statistics.median(off)
    check(not bad, "%s: %d renewals each with the check on and off: resync exits 0 and the "
          "include names the new chain%s" % (tag, args.renewals, "" if not bad else " (%s)" % bad))
    r["point_s"] = time.monotonic() - t_point
    return r


def blocks_for(v, n):
    """2.3: one quoted block per two-name lineage; 2.4: one per name."""
    return n if v.name == "2.3" else 2 * n


def d24_root():
    """The chroot's root, or (None, reason). --quick never builds it."""
    if args.quick:
        p = subprocess.run(["bash", "-c", '. "$1" && d24_complete && echo "$D24_ROOT"',
                            "_", CHROOT_SH], capture_output=True, text=True)
        root = p.stdout.strip()
        return (root, "") if p.returncode == 0 and root else \
            (None, "is not built (--quick never builds it; bench/dovecot.py without --quick does)")
    note("Dovecot 2.4: the Debian 13 chroot (tests/dovecot24/chroot.sh build)")
    p = subprocess.run(["bash", CHROOT_SH, "build"], capture_output=True, text=True)
    root = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    if p.returncode != 0 or not root:
        why = p.stderr.strip().splitlines()
        return None, "cannot be built (%s)" % (why[-1] if why else "exit %d" % p.returncode)
    return root, ""


def mount_chroot(root):
    """/proc (and /dev if the root has no device nodes) in the chroot, and
    the temp dir at the same path."""
    def ismount(p):
        return subprocess.run(["mountpoint", "-q", p]).returncode == 0
    todo = []
    if not ismount(root + "/proc"):
        todo.append((["mount", "-t", "proc", "proc", root + "/proc"], root + "/proc"))
    if not (os.path.exists(root + "/dev/null") and os.path.exists(root + "/dev/urandom")):
        todo.append((["mount", "--bind", "/dev", root + "/dev"], root + "/dev"))
    os.makedirs(root + T, exist_ok=True)
    todo.append((["mount", "--bind", T, root + T], root + T))
    for cmd, mp in todo:
        if subprocess.run(cmd).returncode != 0:
            return "%s failed" % " ".join(cmd)
        mounts.append(mp)
    return ""


def cleanup():
    for pid, _ in list(masters):
        dc_stop(pid)
    for mp in reversed(mounts):
        if subprocess.run(["umount", mp], stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        if T and mp.endswith(T):
            try:
                os.rmdir(mp)
            except OSError:
                pass
    mounts.clear()
    if T and not args.keep:
        shutil.rmtree(T, ignore_errors=True)
    elif T:
        note("kept " + T)


def fmt(r, k, f):
    v = r.get(k)
    return "-" if v is None else f % v


def table(rows):
    cols = [("version", "%s", "v"), ("lineages", "%d", "n"), ("blocks", "%d", "blocks"),
            ("doveconf -xn s", "%.2f", "dc_s"), ("doveconf MB", "%.0f", "dc_mb"),
            ("held back 256M", None, "held"), ("resync 256M s", "%.2f", "resync_s"),
            ("start s", "%.2f", "start_s"), ("config RSS MB", None, "rss"),
            ("config VSZ MB", None, "vsz"),
            ("1st hs start ms", "%.0f", "first_ms"), ("doveadm reload s", "%.2f", "doveadm_s"),
            ("1st hs reload ms", "%.0f", "reload_ms"),
            ("steady hs ms", "%.0f", "steady_ms"),
            ("renew on ms", "%.0f", "renew_on"), ("renew off ms", "%.0f", "renew_off"),
            ("on/off", None, "ratio")]
    out = []
    for r in rows:
        cells = []
        for head, f, k in cols:
            if k == "held":
                cells.append("-" if "held" not in r else
                             ("yes, needs %s MB" % r["need_mb"]) if r["held"] else
                             "no" if r["resync_rc"] == 0 else "exit %d" % r["resync_rc"])
            elif k in ("rss", "vsz"):
                a, b = ("rss_mb", "rss2_mb") if k == "rss" else ("peak_mb", "peak2_mb")
                cells.append("%s/%s" % (fmt(r, a, "%.0f"), fmt(r, b, "%.0f")))
            elif k == "ratio":
                cells.append("%.2f x" % (r["renew_on"] / r["renew_off"])
                             if r.get("renew_on") and r.get("renew_off") else "-")
            else:
                cells.append(fmt(r, k, f))
        out.append(cells)
    heads = [c[0] for c in cols]
    w = [max(len(h), *(len(c[i]) for c in out)) if out else len(h) for i, h in enumerate(heads)]
    print("  ".join(h.rjust(w[i]) for i, h in enumerate(heads)))
    for c in out:
        print("  ".join(x.rjust(w[i]) for i, x in enumerate(c)))


def main():
    global T, SNISYNC
    T = tempfile.mkdtemp(prefix="snisync-bench-dovecot.")
    os.chmod(T, 0o755)      # Dovecot's unprivileged processes walk through it
    t_all = time.monotonic()
    if "SNISYNC" not in os.environ:
        # A copy: a rebuild of the tree's binary during the run changes nothing.
        shutil.copy2(SNISYNC, os.path.join(T, "snisync"))
        SNISYNC = os.path.join(T, "snisync")
    with open(SNISYNC, "rb") as f:
        bin_sha = hashlib.sha256(f.read()).hexdigest()[:12]
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--", "agent"],
                           capture_output=True, text=True).stdout.strip()
    note("machine: %s, %d cores; %s (binary sha256 %s; tree at %s%s)" % (
        os.uname().machine, os.cpu_count(),
        subprocess.run([SNISYNC, "--version"], capture_output=True, text=True).stdout.strip(),
        bin_sha, head, ", agent/ modified" if dirty else ""))
    note("%s; load average %.2f %.2f %.2f" % ((time.strftime("%Y-%m-%d %H:%M %Z"),) + os.getloadavg()))
    old = os.umask(0o077)
    subprocess.check_call(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                           os.path.join(T, "default.key"), "-out", os.path.join(T, "default.crt"),
                           "-subj", "/CN=default.bench.test", "-days", "7"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.umask(old)
    os.chmod(os.path.join(T, "default.crt"), 0o644)
    dvs = []
    # This machine's own Dovecot (2.3 on Debian 12, 2.4 on Debian 13), and
    # 2.4 from the Debian 13 chroot when this machine has 2.3.
    host = Dovecot("?")
    host.name = ".".join(host.version().split(".")[:2])
    if host.name in versions:
        dvs.append(host)
    if "2.4" in versions and host.name != "2.4":
        root, why = d24_root()
        if root is None:
            print("# Dovecot 2.4 skipped: the Debian 13 chroot %s" % why, flush=True)
        else:
            why = mount_chroot(root)
            if why:
                print("# Dovecot 2.4 skipped: %s" % why, flush=True)
            else:
                dvs.append(Dovecot("2.4", root))
    rows = []
    for v in dvs:
        ver = v.version()
        note("Dovecot %s: %s" % (v.name, ver))
        check(ver.startswith(v.name + "."), "dovecot --version is %s.x (%s)" % (v.name, ver))
        for n in sizes:
            r = point(v, n)
            rows.append(r)
            note("%s, %d lineages: %.0f s" % (v.name, n, r["point_s"]))
            shutil.rmtree(os.path.join(T, "%s-%d-default" % (v.name, n)), ignore_errors=True)
        # Past a small limit the guard must hold the include back: 600
        # two-name lineages (600 blocks) under 64M for 2.3, 1,000 (2,000
        # blocks) under 80M for 2.4 (docs/performance.md, "The memory guard").
        if args.quick:
            n, lim = (600, "64M") if v.name == "2.3" else (1000, "80M")
            r = point(v, n, limit=lim, full=False, expect_hold=True)
            note("%s, %d lineages under vsz_limit = %s: %.0f s" % (v.name, n, lim, r["point_s"]))
    print()
    table(rows)
    g = [r for r in rows if r["v"] == "2.3" and r.get("reload_ms") is not None]
    if g:
        over = [r["blocks"] for r in g if r["reload_ms"] > 1000]
        print("# 2.3 handshake latency guidance: %s" % (
            "the first handshake after doveadm reload takes over 1 s from %d blocks" % min(over)
            if over else "no first handshake after reload over 1 s up to %d blocks"
            % max(r["blocks"] for r in g)))
    for v in dvs:
        vr = [r for r in rows if r["v"] == v.name]
        fit = [r["n"] for r in vr if r.get("served256")]
        big = [r["n"] for r in vr if r.get("served4g")]
        print("# %s ceiling: under 256M (default) %s; under 4G %s (of sizes %s)"
              % (v.name, "up to %d lineages serve" % max(fit) if fit else "none of these sizes serve",
                 "up to %d" % max(big) if big else "none",
                 ",".join(str(n) for n in sizes)))
    note("total %.0f s; load average %.2f %.2f %.2f" % ((time.monotonic() - t_all,) + os.getloadavg()))
    return 1 if failures else 0


rc = 1
try:
    rc = main()
finally:
    cleanup()
sys.exit(rc)
