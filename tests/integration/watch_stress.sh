# watch_stress.sh - snisync watch under certbot's link swap, 1,000 times.
#
# Three lineages (RSA/ECDSA alternating, ECDSA with a wildcard, Ed25519/
# P-384 with absolute link targets) each get a pool of 4 key+certificate
# pairs. While the daemon runs, a swapper repeats certbot's renewal exactly
# (archive files N+1 written first; previous_* links; unlink+symlink of
# cert, privkey, chain, fullchain; previous_* removed), sometimes moving a
# lineage back to an older version instead. It pauses
#   - mid-swap (after each of the six steps in turn) until the daemon has
#     run on that half-swapped state: for the four broken states it waits
#     for the daemon's "not ready yet" debug line for exactly that state,
#   - between swaps until the daemon has applied the current state,
#   - never, for "slow bursts" of swaps 1-3 ms apart lasting longer than
#     settle_max_ms (the daemon must sync in the middle of the burst).
# The Postfix reload command is a checker: on every applied change it
# verifies that every map entry and every Dovecot local_name block holds a
# key matching its leaf (openssl public keys), that the pair is one of the
# lineage's real pairs (never a key of one version with the chain of
# another), that map and Dovecot agree and that no name is missing.
# Then: no error or warning was logged, nothing more is written once the
# tree is quiet, the final map is the live privkey + fullchain, a lineage
# left half-swapped IS reported after report_after_s (the control), and
# SIGTERM stops the daemon with exit 0.
#
# Env: STRESS_ITERATIONS (default 1000), STRESS_SEED (default random; the
# seed is printed), KEEP=1 keeps the temp dir (daemon log, check log).
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

t_tmpdir T
LE=$T/le
MAP=$T/pf/tls_sni
DCF=$T/dc/99-snisync.conf
PFC=$T/pfc			# postmap needs a main.cf
CR=$T_TOP/tests/lib/count-run
mkdir -p "$T/pf" "$T/dc" "$PFC" "$T/pool" && : >"$PFC/main.cf"

SETTLE_MS=100
SETTLE_MAX_MS=800
REPORT_AFTER_S=6
PAUSE_TIMEOUT_S=3		# a mid-swap pause never lasts longer
ITER=${STRESS_ITERATIONS:-1000}
SEED=${STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
MID_PAUSES=$((ITER * 6 / 100))
SETTLED_PAUSES=$((ITER * 5 / 100))
echo "# seed $SEED (rerun with STRESS_SEED=$SEED)"

# --- the pools and the initial lineages (version 1 = pair 0) --------------
LINEAGES=(alpha.example.test beta.example.test gamma.example.test)
declare -A NAMES=(
	[alpha.example.test]='alpha.example.test smtp.alpha.example.test'
	[beta.example.test]='beta.example.test *.beta.example.test'
	[gamma.example.test]='gamma.example.test imap.gamma.example.test pop.gamma.example.test'
)
declare -A TYPES=(
	[alpha.example.test]='rsa2048 ec256 rsa2048 ec256'
	[beta.example.test]='ec256 ec256 ec256 ec256'
	[gamma.example.test]='ed25519 ec384 ed25519 ec384'
)
# names_of LINEAGE: its names in NM (split without globbing "*.beta...").
names_of() { read -ra NM <<<"${NAMES[$1]}"; }
fixture() {
	local L i t
	certs_ca "$T/ca" || return 1
	for L in "${LINEAGES[@]}"; do
		mkdir -p "$T/pool/$L" || return 1
		names_of "$L"
		i=0
		for t in ${TYPES[$L]}; do
			certs_leaf "$T/ca" "$T/pool/$L/$i" "$t" "${NM[@]}" &&
				cat "$T/pool/$L/$i.crt" "$T/pool/$L/$i.chain" \
					>"$T/pool/$L/$i.full" || return 1
			i=$((i + 1))
		done
		lineage_add "$LE" "$L" "$T/pool/$L/0.key" "$T/pool/$L/0.crt" \
			"$T/pool/$L/0.chain" || return 1
	done
	# gamma's links are absolute (as after certbot's crash recovery); the
	# swapper keeps each link's target directory, as certbot does.
	for t in cert privkey chain fullchain; do
		ln -sfn "$LE/archive/gamma.example.test/${t}1.pem" \
			"$LE/live/gamma.example.test/$t.pem" || return 1
	done
}
fixture || { t_fail "fixture: pools and lineages"; exit 1; }

# Shared description for the swapper and the checker.
{
	printf '{"le": "%s", "pool": "%s", "state": "%s",\n' "$LE" "$T/pool" "$T/swapper.state"
	printf ' "daemon_err": "%s", "check_log": "%s",\n' "$T/daemon.err" "$T/checks"
	printf ' "seed": %s, "iterations": %s, "mid_pauses": %s, "settled_pauses": %s,\n' \
		"$SEED" "$ITER" "$MID_PAUSES" "$SETTLED_PAUSES"
	printf ' "slow_bursts": 4, "slow_burst_s": %s, "pause_timeout_s": %s,\n' \
		"$(awk "BEGIN { print ($SETTLE_MAX_MS + 700) / 1000 }")" "$PAUSE_TIMEOUT_S"
	printf ' "report_after_s": %s, "deadline_s": 120, "lineages": {' "$REPORT_AFTER_S"
	sep=''
	for L in "${LINEAGES[@]}"; do
		printf '%s\n  "%s": {"n": 4, "names": [' "$sep" "$L"
		s2=''
		names_of "$L"
		for n in "${NM[@]}"; do printf '%s"%s"' "$s2" "$n"; s2=', '; done
		printf ']}'
		sep=','
	done
	printf '}}\n'
} >"$T/stress.json"

# --- the checker: Postfix reload command, once per applied change ---------
cat >"$T/checker.py" <<'PY'
# checker.py STRESS.JSON PFCDIR MAP DOVECOTFILE LOG: appends "OK L=i ..."
# (i = the pool pair each lineage serves) or "BAD reasons" to LOG.
import base64, hashlib, json, os, re, subprocess, sys

cfgp, pfc, mapf, dcf, logf = sys.argv[1:6]
cfg = json.load(open(cfgp))
bad = []
PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.S)

def rd(p):
    with open(p, "rb") as f:
        return f.read()

def pfkey(n):
    n = n.lower()
    return n[1:] if n.startswith("*.") else n

known, lin_of = {}, {}
for L, d in cfg["lineages"].items():
    for n in d["names"]:
        lin_of[n] = L
    for i in range(d["n"]):
        b = os.path.join(cfg["pool"], L, str(i))
        known[(rd(b + ".key"), rd(b + ".full"))] = (L, i)

# openssl's public key of each distinct PEM block, cached across runs
# (next to the log) so a check costs one postmap, not a dozen openssl runs.
cachef = logf + ".pubcache"
try:
    pubs = json.load(open(cachef))
except (OSError, ValueError):
    pubs = {}
pubs_n = len(pubs)
def pub(args, data):
    k = args[0] + ":" + hashlib.sha256(data).hexdigest()
    if k not in pubs:
        r = subprocess.run(["openssl"] + args, input=data,
                           capture_output=True, timeout=30)
        pubs[k] = r.stdout.decode() if r.returncode == 0 and r.stdout else None
    return pubs[k]

def check(where, value):
    """value = key file + "\n" + full chain file; returns (L, i) or None."""
    blocks = [(m.group(1), m.group(0)) for m in PEM.finditer(value)]
    if len(blocks) < 2 or not blocks[0][0].endswith(b"PRIVATE KEY") or \
            blocks[1][0] != b"CERTIFICATE":
        bad.append("%s: not a key followed by a certificate" % where)
        return None
    pk = pub(["pkey", "-pubout"], blocks[0][1] + b"\n")
    pc = pub(["x509", "-noout", "-pubkey"], blocks[1][1] + b"\n")
    if pk is None or pc is None or pk != pc:
        bad.append("%s: private key does not match the leaf certificate" % where)
    for (k, c), li in known.items():
        if value == k + b"\n" + c:
            return li
    bad.append("%s: not one of the pool pairs" % where)
    return None

served = {}			# name -> (L, i), per output
def serve(what, name, li):
    if li is None:
        return
    served.setdefault(what, {})[name] = li
    if li[0] != lin_of.get(name):
        bad.append("%s %s: served by lineage %s" % (what, name, li[0]))

# Postfix: every entry of the LMDB map.
mapv = {}
r = subprocess.run(["postmap", "-c", pfc, "-s", "lmdb:" + mapf],
                   capture_output=True, timeout=30)
if r.returncode != 0:
    bad.append("postmap -s failed: %r" % r.stderr[-200:])
for line in r.stdout.decode().splitlines():
    k, _, v = line.partition("\t")
    try:
        mapv[k] = base64.b64decode(v, validate=True)
    except Exception:
        bad.append("map %s: value is not base64" % k)
want = {pfkey(n): n for n in lin_of}
if set(mapv) != set(want):
    bad.append("map keys %s, want %s" % (sorted(mapv), sorted(want)))
for k, v in mapv.items():
    if k in want:
        serve("map", want[k], check("map %s" % k, v))

# Dovecot: every local_name block (2.3 or 2.4 syntax); nothing else.
text = rd(dcf).decode()
rest = text
dcv = {}
for m in re.finditer(r'local_name\s+("[^"]+"|[^"\s{]+)\s*\{([^}]*)\}\n?', text):
    rest = rest.replace(m.group(0), "", 1)
    body = m.group(2)
    c = re.search(r'^\s*(?:ssl_cert\s*=\s*<|ssl_server_cert_file\s*=\s*)(\S+)\s*$', body, re.M)
    k = re.search(r'^\s*(?:ssl_key\s*=\s*<|ssl_server_key_file\s*=\s*)(\S+)\s*$', body, re.M)
    names = m.group(1).strip('"').split(" ")
    if not c or not k:
        bad.append("dovecot %s: no cert or key" % names[0])
        continue
    try:
        # one served file as cert and key holds the key, "\n", the chain
        v = rd(k.group(1)) if k.group(1) == c.group(1) else \
            rd(k.group(1)) + b"\n" + rd(c.group(1))
    except OSError as e:
        bad.append("dovecot %s: %s" % (names[0], e))
        continue
    for name in names:
        dcv[name] = v
        serve("dovecot", name, check("dovecot %s" % name, v))
if any(l.strip() and not l.startswith("#") for l in rest.splitlines()):
    bad.append("dovecot file holds more than local_name blocks")
if set(dcv) != set(lin_of):
    bad.append("dovecot names %s, want %s" % (sorted(dcv), sorted(lin_of)))
for n in dcv:
    if pfkey(n) in mapv and mapv[pfkey(n)] != dcv[n]:
        bad.append("%s: map and dovecot serve different pairs" % n)

# One pair per lineage, the same in both outputs.
per = {}
for what in ("map", "dovecot"):
    for n, (L, i) in served.get(what, {}).items():
        per.setdefault(lin_of[n], set()).add(i)
for L in cfg["lineages"]:
    if len(per.get(L, ())) != 1:
        bad.append("lineage %s: pairs served %s" % (L, sorted(per.get(L, ()))))
line = ("BAD " + "; ".join(bad)) if bad else \
    "OK " + " ".join("%s=%d" % (L, min(per[L])) for L in sorted(cfg["lineages"]))
if len(pubs) != pubs_n:
    with open(cachef + ".tmp", "w") as f:
        json.dump(pubs, f)
    os.rename(cachef + ".tmp", cachef)
fd = os.open(logf, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, (line + "\n").encode())
os.close(fd)
PY

# --- the swapper: certbot's update_all_links_to, with pauses --------------
cat >"$T/swapper.py" <<'PY'
# swapper.py STRESS.JSON stress | break LINEAGE | heal LINEAGE
# Prints one JSON object with its figures on stdout.
import json, os, random, sys, time

KINDS = ("cert", "privkey", "chain", "fullchain")
cfg = json.load(open(sys.argv[1]))
mode = sys.argv[2]
le, TMO = cfg["le"], cfg["pause_timeout_s"]
t_start = time.monotonic()

if os.path.exists(cfg["state"]):
    st = json.load(open(cfg["state"]))
    for s in st.values():
        s["vers"] = {int(k): v for k, v in s["vers"].items()}
else:
    st = {L: {"ver": 1, "idx": 0, "vers": {1: 0}} for L in cfg["lineages"]}

def save():
    with open(cfg["state"] + ".tmp", "w") as f:
        json.dump(st, f)
    os.rename(cfg["state"] + ".tmp", cfg["state"])

class Tail:
    """Complete lines appended to a file since this object was made."""
    def __init__(self, path, start=None):
        self.path, self.buf = path, b""
        self.off = start if start is not None else \
            (os.path.getsize(path) if os.path.exists(path) else 0)
    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return []
        self.off += len(data)
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        return [l.decode("utf-8", "replace") for l in done]

checks = Tail(cfg["check_log"], 0)
last_check = [None]

def target(over=None):
    t = {L: s["idx"] for L, s in st.items()}
    t.update(over or {})
    return t

def applied(t):
    for l in checks.lines():
        last_check[0] = l
    l = last_check[0]
    return bool(l) and l.startswith("OK ") and \
        {k: int(v) for k, v in (x.split("=") for x in l[3:].split())} == t

def wait_applied(t, timeout):
    end = time.monotonic() + timeout
    while not applied(t):
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return True

def wait_log(tail, text, timeout):
    end = time.monotonic() + timeout
    while True:
        for l in tail.lines():
            if text in l:
                return l
        if time.monotonic() >= end:
            return None
        time.sleep(0.005)

def cp(src, dst, mode):
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(src, "rb") as f:
        os.write(fd, f.read())
    os.close(fd)

def new_version(L, rnd):
    """Renewal (archive files N+1 written first) or, sometimes, a move
    back to an older version. Returns (N, pool index)."""
    s = st[L]
    older = [v for v, i in s["vers"].items() if i != s["idx"]]
    if older and rnd.random() < 0.15:
        v = rnd.choice(older)
        return v, s["vers"][v], "repoint"
    idx = rnd.choice([i for i in range(cfg["lineages"][L]["n"]) if i != s["idx"]])
    n = max(s["vers"]) + 1
    ad, p = os.path.join(le, "archive", L), os.path.join(cfg["pool"], L, str(idx))
    cp(p + ".crt", "%s/cert%d.pem" % (ad, n), 0o644)
    cp(p + ".key", "%s/privkey%d.pem" % (ad, n), 0o600)
    cp(p + ".chain", "%s/chain%d.pem" % (ad, n), 0o644)
    cp(p + ".full", "%s/fullchain%d.pem" % (ad, n), 0o644)
    s["vers"][n] = idx
    return n, idx, "renew"

def ops_of(n):
    """certbot 2.1 storage.RenewableCert.update_all_links_to(n)."""
    return [("prev", k, n) for k in KINDS] + \
        [o for k in KINDS for o in (("unlink", k, n), ("link", k, n))] + \
        [("rmprev", k, n) for k in KINDS]

tdirs = {}
def do(L, op):
    what, k, n = op
    ld = os.path.join(le, "live", L)
    link, prev = "%s/%s.pem" % (ld, k), "%s/previous_%s.pem" % (ld, k)
    if what == "prev":		# current_target(): absolute
        os.symlink(os.path.abspath(os.path.join(ld, os.readlink(link))), prev)
    elif what == "unlink":	# the target directory stays as it was
        tdirs[k] = os.path.dirname(os.readlink(link))
        os.unlink(link)
    elif what == "link":
        os.symlink(os.path.join(tdirs[k], "%s%d.pem" % (k, n)), link)
    else:
        os.unlink(prev)

# A pause point is named after the step it follows.
POINTS = {"cert": ("link", "cert"), "privkey-unlinked": ("unlink", "privkey"),
          "privkey": ("link", "privkey"), "chain": ("link", "chain"),
          "fullchain-unlinked": ("unlink", "fullchain"),
          "fullchain": ("link", "fullchain")}

def expect(L, point, n, v, old, new):
    """What the daemon shows once it has run on this half-swapped state:
    ("log", text) or ("applied", target)."""
    nr = "lineage %s: not ready yet: " % L
    return {
        "cert": ("applied", target({L: old})),
        "privkey-unlinked": ("log", nr + "privkey.pem: missing"),
        "privkey": ("log", nr + "privkey.pem: privkey.pem is version %d but "
                    "fullchain.pem is version %d (renewal in progress?)" % (n, v)),
        "chain": ("log", nr + "privkey.pem: privkey.pem is version %d but "
                  "fullchain.pem is version %d (renewal in progress?)" % (n, v)),
        "fullchain-unlinked": ("log", nr + "fullchain.pem: missing"),
        "fullchain": ("applied", target({L: new})),
    }[point]

out = {"mode": mode}

class Hopeless(Exception):
    pass

def give_up_if_hopeless(stats):
    """A dead or stuck daemon must not make the run last 110 timeouts."""
    pid = int(os.environ.get("SNISYNC_PID", "0"))
    dead = False
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead = True
    if dead or len(stats["mid_timeouts"]) + stats["settled_timeouts"] >= 5:
        raise Hopeless("daemon dead" if dead else "5 pauses timed out")

def stress(stats):
    """The 1,000 swaps. Pauses scheduled while a slow burst runs are owed
    and taken right after it."""
    rnd = random.Random(cfg["seed"])
    N = cfg["iterations"]
    pts = [p for _ in range(cfg["mid_pauses"]) for p in POINTS][:cfg["mid_pauses"]]
    rnd.shuffle(pts)
    mid_at = dict(zip(rnd.sample(range(N), len(pts)), pts))
    settled_at = set(rnd.sample(range(N), cfg["settled_pauses"]))
    nb = cfg["slow_bursts"]
    burst_at = {int((b + 0.5) * N / (nb + 1)) for b in range(nb)} if N >= 200 else set()
    owed_mid, owed = [], {"settled": 0}
    burst = None
    try:
        for i in range(N):
            if time.monotonic() - t_start > cfg["deadline_s"]:
                stats["aborted"] = "deadline"
                return
            if i in burst_at and burst is None:
                t0 = time.monotonic()
                burst = {"t0": t0, "end": t0 + cfg["slow_burst_s"], "swaps": 0,
                         "off": os.path.getsize(cfg["daemon_err"])}
            if i in mid_at:
                owed_mid.append(mid_at[i])
            if i in settled_at:
                owed["settled"] += 1
            point = owed_mid.pop(0) if owed_mid and burst is None else None
            L = rnd.choice(sorted(st))
            s = st[L]
            v, old = s["ver"], s["idx"]
            n, new, how = new_version(L, rnd)
            stats[how] += 1
            for op in ops_of(n):
                do(L, op)
                if burst is not None:
                    time.sleep(rnd.uniform(0.001, 0.003))
                if point and op[:2] == POINTS[point]:
                    kind, want = expect(L, point, n, v, old, new)
                    t0 = time.monotonic()
                    if kind == "log":
                        ok = wait_log(Tail(cfg["daemon_err"]), want, TMO)
                    else:
                        ok = wait_applied(want, TMO)
                    dt = time.monotonic() - t0
                    stats["pause_max_s"] = max(stats["pause_max_s"], dt)
                    stats["pause_total_s"] += dt
                    stats["mid"][point] = stats["mid"].get(point, 0) + 1
                    if not ok:
                        stats["mid_timeouts"].append("%d %s %s" % (i, L, point))
                        give_up_if_hopeless(stats)
            s["ver"], s["idx"] = n, new
            stats["swaps"] += 1
            if burst is not None:
                burst["swaps"] += 1
                if time.monotonic() >= burst["end"]:
                    with open(cfg["daemon_err"], "rb") as f:
                        f.seek(burst["off"])
                        seg = f.read()
                    stats["bursts"].append({"s": round(time.monotonic() - burst["t0"], 2),
                                            "swaps": burst["swaps"],
                                            "syncs": seg.count(b"watch: sync (")})
                    burst = None
            elif owed["settled"]:
                owed["settled"] -= 1
                stats["settled"] += 1
                t0 = time.monotonic()
                ok = wait_applied(target(), TMO)
                stats["pause_total_s"] += time.monotonic() - t0
                if not ok:
                    stats["settled_timeouts"] += 1
                    give_up_if_hopeless(stats)
    finally:
        stats["owed_pauses"] = len(owed_mid) + owed["settled"]

if mode == "stress":
    stats = {"swaps": 0, "renew": 0, "repoint": 0, "mid": {}, "mid_timeouts": [],
             "settled": 0, "settled_timeouts": 0, "bursts": [], "pause_max_s": 0.0, "pause_total_s": 0.0,
             "aborted": False}
    try:
        stress(stats)
    except Hopeless as e:
        stats["aborted"] = str(e)
    stats["final_applied"] = wait_applied(target(), 10)
    stats["elapsed_s"] = round(time.monotonic() - t_start, 1)
    stats["final"] = target()
    out.update(stats)

elif mode == "break":		# renew, then stop after the privkey swap
    L = sys.argv[3]
    rnd = random.Random(cfg["seed"] + 1)
    s = st[L]
    v, old = s["ver"], s["idx"]
    n, new, how = new_version(L, rnd)
    err = Tail(cfg["daemon_err"])
    for op in ops_of(n):
        do(L, op)
        if op[:2] == ("link", "privkey"):
            break
    t0 = time.monotonic()
    want = "error: lineage %s: privkey.pem: privkey.pem is version %d but " \
        "fullchain.pem is version %d (renewal in progress?)" % (L, n, v)
    line = wait_log(err, want, cfg["report_after_s"] + 10)
    out.update({"line": line, "delay_s": round(time.monotonic() - t0, 2),
                "old": old, "new": new, "from": v, "to": n})
    s["broken"] = [n, new]

elif mode == "heal":		# the rest of the interrupted swap
    L = sys.argv[3]
    s = st[L]
    n, new = s.pop("broken")
    ops = ops_of(n)
    k = ops.index(("link", "privkey", n)) + 1
    for op in ops[k:]:
        do(L, op)
    s["ver"], s["idx"] = n, new
    out["applied"] = wait_applied(target(), 10)
    out["target"] = target()
save()
print(json.dumps(out))
PY

js() { python3 -c 'import json, sys; print(eval(sys.argv[2], json.load(open(sys.argv[1]))))' "$@"; }
checks() { [ -f "$T/checks" ] && wc -l <"$T/checks" | tr -d ' ' || echo 0; }
reloads() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP"; }
pfkey() { case $1 in '*.'*) echo "${1#\*}" ;; *) echo "$1" ;; esac; }

# --- the checker catches what it must catch --------------------------------
# A map and a Dovecot file as snisync would write them, from pool pair 0.
selftest() {	# DIR ALPHA_KEY: pair 0 everywhere, alpha's key replaced
	local d=$1 akey=$2 L n k
	mkdir -p "$d" && : >"$d/src" && : >"$d/dc" || return 1
	for L in "${LINEAGES[@]}"; do
		k=$T/pool/$L/0.key
		[ "$L" != alpha.example.test ] || k=$akey
		names_of "$L"; for n in "${NM[@]}"; do
			echo "$(pfkey "$n") $k $T/pool/$L/0.full" >>"$d/src"
			printf 'local_name %s {\n  ssl_cert = <%s\n  ssl_key = <%s\n  ssl_alt_cert =\n  ssl_alt_key =\n}\n' \
				"$n" "$T/pool/$L/0.full" "$k" >>"$d/dc"
		done
	done
	postmap -c "$PFC" -F "lmdb:$d/src" &&
		/usr/bin/python3 "$T/checker.py" "$T/stress.json" "$PFC" "$d/src" \
			"$d/dc" "$d/log"
}
selftest "$T/self-good" "$T/pool/alpha.example.test/0.key"
t_eq "checker self-test: consistent outputs are OK" "$(cat "$T/self-good/log")" \
	"OK alpha.example.test=0 beta.example.test=0 gamma.example.test=0"
selftest "$T/self-bad" "$T/pool/alpha.example.test/1.key"
t_match "checker self-test: another version's key is caught in map and dovecot" \
	"$(cat "$T/self-bad/log")" \
	'^BAD map alpha\.example\.test: private key does not match .*dovecot smtp\.alpha\.example\.test: private key does not match'

# --- the daemon --------------------------------------------------------------
tree_conf "$T/conf.json" "$LE" "$T/state" "$MAP" "$DCF" \
	postfix_reload="[\"/usr/bin/python3\", \"$T/checker.py\", \"$T/stress.json\", \"$PFC\", \"$MAP\", \"$DCF\", \"$T/checks\"]" \
	dovecot_reload="[\"$CR\", \"$T/dc.reloads\", \"/bin/true\"]"
python3 - "$T/conf.json" "$SETTLE_MS" "$SETTLE_MAX_MS" "$REPORT_AFTER_S" <<'PY'
import json, sys
f, s, m, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = json.load(open(f))
c["watch"] = {"settle_ms": s, "settle_max_ms": m, "report_after_s": r}
json.dump(c, open(f, "w"), indent=1)
PY
: >"$T/daemon.err"
"$SNISYNC" -v -c "$T/conf.json" watch >"$T/daemon.out" 2>>"$T/daemon.err" &
D=$!
t_atexit "kill $D"
for _ in $(seq 100); do [ "$(checks)" -ge 1 ] && break; sleep 0.1; done
t_eq "first sync: each lineage serves its version 1" "$(head -1 "$T/checks")" \
	"OK alpha.example.test=0 beta.example.test=0 gamma.example.test=0"

# --- 1,000 swaps ------------------------------------------------------------
SNISYNC_PID=$D timeout 200 python3 "$T/swapper.py" "$T/stress.json" stress >"$T/stress.out"
t_eq "swapper ran to the end" "$?" 0
S=$T/stress.out
t_eq "$ITER swaps done, not aborted (deadline 120 s, daemon dead, 5 pauses timed out)" \
	"$(js "$S" 'swaps if not aborted else aborted')" "$ITER"
t_eq "no pause was left out" "$(js "$S" 'owed_pauses')" 0
t_eq "every mid-swap pause: the daemon ran on that half-swapped state within ${PAUSE_TIMEOUT_S} s" \
	"$(js "$S" 'mid_timeouts')" "[]"
t_eq "every mid-swap step was paused at" \
	"$(js "$S" 'len(mid) if sum(mid.values()) >= 6 else -1')" 6
t_eq "every pause between swaps: the daemon applied the state within ${PAUSE_TIMEOUT_S} s" \
	"$(js "$S" 'settled_timeouts')" 0
t_eq "the final state was applied" "$(js "$S" 'final_applied')" True
t_eq "every slow burst longer than settle_max_ms saw a sync in its middle" \
	"$(js "$S" "[b for b in bursts if b['s'] > $SETTLE_MAX_MS / 1000 + 0.2 and b['syncs'] < 1]")" "[]"
t_eq "slow bursts happened" "$(js "$S" "len(bursts) >= (4 if $ITER >= 200 else 0)")" True

nbad=$(grep -c '^BAD' "$T/checks")
t_eq "every applied change: map and dovecot hold only matching, real pairs" "$nbad" 0
grep -m3 '^BAD' "$T/checks" | sed 's/^/# /'
nchk=$(checks)
t_check "the checker ran at least once per pause between swaps ($nchk >= $(js "$S" settled))" \
	test "$nchk" -ge "$(js "$S" 'max(settled, 5)')"
t_eq "every postfix reload came with a dovecot reload" "$(reloads "$T/dc.reloads")" "$nchk"
nnr=$(grep -c 'debug: lineage .*: not ready yet: ' "$T/daemon.err")
t_check "the daemon saw half-swapped lineages ($nnr quiet failures)" \
	test "$nnr" -ge "$(js "$S" 'sum(v for k, v in mid.items() if k not in ("cert", "fullchain"))')"
# Every swap brings a new key: the DANE notice for each applied key change
# is expected (and counted); nothing else may be said.
# (information, not a warning: no dane.hold_key_change here).
nkey=$(grep -c '^snisync: lineage .*: served with a new key for .*: DANE TLSA 3 1 1' "$T/daemon.err")
t_check "key changes that were applied were announced ($nkey)" test "$nkey" -ge 1
err=$(grep -E '^snisync: (error|warning|fatal): ' "$T/daemon.err")
t_eq "no error or warning logged for the transient states" "$err" ""
[ -z "$err" ] || printf '%s\n' "$err" | head -5 | sed 's/^/# /'
t_check "the daemon is still running" kill -0 "$D"

# Quiet tree: nothing more is written, no lineage still waits.
n0=$(checks)
o0=$(wc -c <"$T/daemon.err")
sleep 1.5
t_eq "quiet tree: no further rewrite" "$(checks)" "$n0"
t_eq "quiet tree: no lineage left pending" \
	"$(tail -c +$((o0 + 1)) "$T/daemon.err" | grep -c 'not ready yet')" 0

# --- final state ------------------------------------------------------------
for L in "${LINEAGES[@]}"; do
	i=$(js "$S" "final['$L']")
	t_check "$L: live links point at pool pair $i" \
		cmp -s "$LE/live/$L/fullchain.pem" "$T/pool/$L/$i.full"
	names_of "$L"; for n in "${NM[@]}"; do
		t_check "final map: $n = live privkey.pem + fullchain.pem" \
			cmp -s <(q "$(pfkey "$n")") <(tree_expected_value "$LE" "$L")
	done
done
{
	dc_conf_version
	echo 'ssl = yes'
	dc_conf_ssl "$T/pool/beta.example.test/0.full" "$T/pool/beta.example.test/0.key"
	echo "!include $DCF"
} >"$T/dc/dovecot.conf"
t_check "doveconf -xn accepts the final Dovecot file" \
	sh -c "doveconf -xn -c '$T/dc/dovecot.conf' >/dev/null 2>'$T/doveconf.err'"
for L in "${LINEAGES[@]}"; do
	names_of "$L"; for n in "${NM[@]}"; do
		c=$(dc_lookup "$T/dc/dovecot.conf" "$n" cert)
		k=$(dc_lookup "$T/dc/dovecot.conf" "$n" key)
		if [ "$c" = "$k" ] && cmp -s "${c#<}" \
			<(cat "$LE/live/$L/privkey.pem"; echo; cat "$LE/live/$L/fullchain.pem"); then
			t_ok "final dovecot: $n serves the live pair"
		else
			t_fail "final dovecot: $n serves the live pair ($c, $k)"
		fi
	done
done
"$SNISYNC" -c "$T/conf.json" check >"$T/check.out" 2>&1
t_eq "snisync check: every lineage ok" "$?" 0

syncs=$(grep -c 'debug: watch: sync (' "$T/daemon.err")
echo "# $(js "$S" 'swaps') swaps ($(js "$S" 'renew') renewals, $(js "$S" 'repoint') moves back) in $(js "$S" 'elapsed_s') s;" \
	"$(js "$S" 'sum(mid.values())') mid-swap pauses $(js "$S" 'mid'), longest $(js "$S" 'round(pause_max_s, 2)') s;" \
	"$(js "$S" 'settled') pauses between swaps; all pauses $(js "$S" 'round(pause_total_s, 1)') s; slow bursts $(js "$S" 'bursts')"
echo "# daemon: $syncs syncs, $nchk reloads (all checked), $nnr quiet mid-swap failures"

# --- control: a lineage left half-swapped IS reported ----------------------
o1=$(wc -c <"$T/daemon.err")
timeout 60 python3 "$T/swapper.py" "$T/stress.json" break gamma.example.test >"$T/break.out"
B=$T/break.out
t_match "control: a lineage left mid-swap gets its error line" \
	"$(js "$B" 'line')" \
	"^snisync: error: lineage gamma\\.example\\.test: privkey\\.pem: privkey\\.pem is version [0-9]+ but fullchain\\.pem is version [0-9]+ \\(renewal in progress\\?\\)$"
delay=$(js "$B" 'delay_s')
t_check "control: reported after report_after_s ($delay s, want $REPORT_AFTER_S..$((REPORT_AFTER_S + 3)) s)" \
	awk "BEGIN { exit !($delay >= $REPORT_AFTER_S - 0.2 && $delay <= $REPORT_AFTER_S + 3) }"
sleep 0.3
ctl=$(tail -c +$((o1 + 1)) "$T/daemon.err")
t_eq "control: exactly one error line" "$(printf '%s\n' "$ctl" | grep -c 'error: ')" 1
t_check "control: the last good pair stays in service, and it says so" \
	grep -q 'warning: lineage gamma.example.test: still serving its last good certificate' <<<"$ctl"
old=$(js "$B" 'old')
t_check "control: the map still holds gamma's previous pair" \
	cmp -s <(q gamma.example.test) \
	<(cat "$T/pool/gamma.example.test/$old.key"; echo; cat "$T/pool/gamma.example.test/$old.full"; echo)
timeout 60 python3 "$T/swapper.py" "$T/stress.json" heal gamma.example.test >"$T/heal.out"
t_eq "control: finishing the swap brings the new pair into service" \
	"$(js "$T/heal.out" 'applied')" True
t_check "control: map = live pair again" \
	cmp -s <(q imap.gamma.example.test) <(tree_expected_value "$LE" gamma.example.test)
"$SNISYNC" -c "$T/conf.json" check >"$T/check2.out" 2>&1
t_eq "control: snisync check ok again" "$?" 0
t_eq "still no BAD check after the control" "$(grep -c '^BAD' "$T/checks")" 0

# --- SIGTERM ----------------------------------------------------------------
kill -TERM "$D"
for _ in $(seq 100); do kill -0 "$D" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$D" 2>/dev/null; then
	t_fail "SIGTERM stops the daemon within 10 s"
	kill -KILL "$D"
else
	wait "$D"
	t_eq "SIGTERM: exit status 0" "$?" 0
fi
t_check "SIGTERM: it says it stops" grep -q 'watch: stopping' "$T/daemon.err"
t_done
