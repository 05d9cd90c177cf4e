# crash.sh - SIGKILL at random instants during resync of a 500-lineage tree,
# and during `resync --lineage L` renewals that take the renewal path.
#
# Two certbot trees, generated here (keys and certificates only in the
# temp dir):
#   A  500 lineages lNNN.example.test, every 25th also *.lNNN.example.test;
#      keys from a pool of 10 (ECDSA P-256 and P-384, Ed25519, RSA 2048)
#   B  A with 100 lineages renewed (archive version 2, key from a second
#      pool, new certificate; every other one also gains www.lNNN...), 20
#      deleted as certbot deletes, 20 new
# Each worker (CRASH_JOBS, default 2, in parallel) has its own outputs (map,
# map source, Dovecot include, state_dir with served/ and state.lmdb) and a
# config per tree. A clean resync of each side gives the reference outputs,
# checked against the trees themselves, and a snapshot of all snisync
# keeps: hard links, so the map identity recorded in the state stays true
# (a restored snapshot is exactly what a finished run left), and a write in
# place would show in the snapshot; the state database alone is copied
# (LMDB writes it in place, by design).
#
# Then, until CRASH_KILLS kills have landed in a running resync, alternating
# A->B and B->A: restore the old side's snapshot, run `timeout -s KILL
# DELAY snisync resync` towards the new side, DELAY random: one kill in
# three over the whole run, the others from shortly before its first served
# file write to its end (both measured by each worker under load, and kept up
# to date from the runs that end before their kill). After each kill,
# with the real programs:
#   - `postmap -F -s` prints exactly the old or the new dump, entry for
#     entry, and `postmap -F -q` agrees for a renewed, a deleted and a new
#     name; the map source is the old or the new file;
#   - the Dovecot include is the old or the new file; `doveconf -xn` accepts
#     it;
#   - every served file the include, the map source or the state names
#     exists, every served file holds its lineage's old or new pair whole
#     (key, "\n", full chain), and the state database opens (mdb_dump)
#     and holds the old or the new state.
# What each kill left is tallied (map, source, include, served files
# written and removed, state, temp files) with its kill instants in % of a
# run.
# After every CRASH_REPAIR_EVERY-th kill (default 4: 50 repairs), and after
# a run the kill came too late for, a plain resync must have exited 0 and
# left exactly the new side: map, source, include, served files (no file
# more, none less, each the new pair) and state; no *.tmp.* file in any
# output directory; and each service's last reload saw its current files
# (Dovecot: the include and the served files; a crash must not lose a
# reload). Every tenth repair is followed by a run that must
# change nothing.
#
# Then kills at chosen instants (polled every 0.5 ms): while the LMDB temp
# file is written, as soon as the map and then the include are renamed
# into place, during the Dovecot check command and during the Postfix
# reload; each time the next run must repair everything, reloads included.
# Then every snapshot must be unchanged.
#
# Last, the renewal path: tree R, a copy of A, in which four lineages that
# serve their names alone (P-256 with a wildcard, P-384, Ed25519 keeping
# its key, RSA 2048) renew in turn, the same names in a new archive
# version. After each renewal a clean `resync --lineage L` in a second
# worker must take the renewal path and serve the tree's new pair in the
# map and the served file; its outputs are the new side, and its duration
# and first served file write time the kill instants (drawn as above).
# Until CRASH_RENEW_KILLS kills have landed (2 x that many runs, 5 s a kill
# at most), the same run in the first worker is SIGKILLed at a random
# instant, or (one run in five each) as soon as the map is written in
# place or as soon as staging/L.pem.tmp.* appears. After each kill:
#   - `postmap -F -s`: each entry of L's names is its old or its new value,
#     every other entry unchanged; the map source and the include are
#     unchanged;
#   - every served file holds its old or new pair whole, the state
#     database opens and holds the old or the new state (as above).
# Then the repair, `resync --lineage L` (in one run of five a full
# resync), and every run the kill came too late for, must exit 0 and leave
# what the clean run left: the map (the tree's pairs, what `postmap -F`
# builds from the map source), source, include, served files and state; no
# temp file, staging/L.pem.tmp.* after a --lineage repair included; each
# service's last reload saw its current files. In another run of five, a full resync after
# the --lineage repair must change nothing. Every run that got as far as
# choosing must have taken the renewal path.
#
# A failure is printed with its kill instant (ms after the start, and the
# duration of a full run). Env: CRASH_KILLS (200), CRASH_LINEAGES (500),
# CRASH_REPAIR_EVERY (4), CRASH_JOBS (2), CRASH_RENEW_KILLS (40),
# CRASH_SEED (random, printed; it fixes the draws, not the machine's
# timing), KEEP=1 keeps the temp dir, with a copy of the outputs after each
# of the first failed checks (wN/fail-K/, wr/ and ws/ for the renewal path).
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

T_START=${EPOCHREALTIME/[.,]/}
KILLS=${CRASH_KILLS:-200}
N=${CRASH_LINEAGES:-500}
REPAIR_EVERY=${CRASH_REPAIR_EVERY:-4}
JOBS=${CRASH_JOBS:-2}
RKILLS=${CRASH_RENEW_KILLS:-40}
RENEWALS=$((2 * RKILLS))	# at most one renewal a run
RIDX=(0 7 13 15)	# P-256 with a wildcard, P-384, Ed25519, RSA 2048
SEED=${CRASH_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
echo "# seed $SEED (rerun with CRASH_SEED=$SEED)"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

t_tmpdir T
CA=$T/ca
PFC=$T/pfc			# postmap needs a main.cf
mkdir -p "$PFC" "$T/keys" "$T/certs" "$T/q" && : >"$PFC/main.cf" || exit 1
mkfifo "$T/never" && exec {NEVER}<>"$T/never" || exit 1
# postconf reads a Postfix configuration of the test's own (as on a mail
# host: without one it pauses a second before it fails, most of a run).
tree_pfc "$T/pfc" && : >"$T/pfc/master.cf" || exit 1
PQ="[\"postconf\", \"-c\", \"$T/pfc\"]"
nap() { read -r -t "$1" -u "$NEVER" _; }	# sleep without a fork
now_us() { NOW=${EPOCHREALTIME/[.,]/}; }
since() {
	now_us
	printf '%d.%01d s' $(((NOW - $1) / 1000000)) $(((NOW - $1) / 100000 % 10))
}

# --- helper programs --------------------------------------------------------
# rec SVC FILE LOG [include]: the reload command; logs which file the
# service loaded (with "include": FILE is a Dovecot include, hashed with
# the files it names, in name order: what Dovecot reads at its reload).
cat >"$T/rec" <<'EOF'
#!/bin/sh
if [ "$4" = include ]; then
	h=$(grep -o ' = <[^ ]*' "$2" | cut -c5- | LC_ALL=C sort -u |
		xargs -r cat "$2" | sha256sum) || exit 1
else
	h=$(sha256sum <"$2") || exit 1
fi
echo "$1 ${h%% *}" >>"$3"
EOF
# block MARK FLAG: creates MARK, then waits while FLAG exists (30 s at most).
cat >"$T/block" <<'EOF'
#!/bin/sh
: >"$1"
i=0
while [ -e "$2" ] && [ "$i" -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
exit 0
EOF
chmod 0755 "$T/rec" "$T/block"

cat >"$T/aux.py" <<'PY'
import hashlib, json, os, re, sys

def sha(b): return hashlib.sha256(b).hexdigest()
def rd(p):
    with open(p, 'rb') as f: return f.read()

def pfkey(name): return name[1:] if name.startswith('*.') else name

def cmd_tree(le, chain, manifest):
    """certbot's layout, as lineage_add leaves it: per line "LINEAGE KEY
    CERT" a new lineage (version 1) or a renewal (version N+1: archive
    files first, then each live/ link replaced)."""
    chain = rd(chain)
    for d in ('live', 'archive'):
        os.makedirs(os.path.join(le, d), 0o700, exist_ok=True)
    if not os.path.exists(f'{le}/live/README'):
        with open(f'{le}/live/README', 'w') as f:
            f.write('Each directory here is one certificate lineage.\n')
    for line in open(manifest):
        lin, kf, cf = line.split()
        ad, ld = f'{le}/archive/{lin}', f'{le}/live/{lin}'
        os.makedirs(ad, 0o755, exist_ok=True)
        os.makedirs(ld, 0o755, exist_ok=True)
        n = 1 + max([int(f[7:-4]) for f in os.listdir(ad)
                     if re.fullmatch(r'privkey[0-9]+\.pem', f)] or [0])
        cert, key = rd(cf), rd(kf)
        for name, data, mode in (('cert', cert, 0o644),
                ('privkey', key, 0o600), ('chain', chain, 0o644),
                ('fullchain', cert + chain, 0o644)):
            fd = os.open(f'{ad}/{name}{n}.pem',
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            os.write(fd, data); os.close(fd)
        for k in ('cert', 'privkey', 'chain', 'fullchain'):
            os.symlink(f'../../archive/{lin}/{k}{n}.pem', f'{ld}/.{k}.new')
            os.replace(f'{ld}/.{k}.new', f'{ld}/{k}.pem')

def cmd_expect(le, names, served, out):
    """What the outputs must hold for tree LE, from the tree itself: the
    `postmap -F -s` dump, the map source, the served files (name and
    SHA-256 of key "\\n" full chain) and the include's blocks."""
    entries, files = {}, {}
    for line in open(names):
        lin, *ns = line.split()
        key = rd(f'{le}/live/{lin}/privkey.pem')
        full = rd(f'{le}/live/{lin}/fullchain.pem')
        files[f'{lin}.pem'] = sha(key + b'\n' + full)
        for n in ns:
            entries[pfkey(n)] = (n, key, full, lin)
    with open(out + '.dump', 'wb') as f:
        for k in sorted(entries):
            f.write(k.encode() + b'\t' + entries[k][1] + b'\n' +
                    entries[k][2] + b'\n')
    with open(out + '.src', 'w') as f:
        for k in sorted(entries):
            f.write(f'{k} {served}/{entries[k][3]}.pem\n')
    with open(out + '.store', 'w') as f:
        f.write(''.join(f'{n} {files[n]}\n' for n in sorted(files)))
    with open(out + '.want', 'w') as f:
        json.dump({n: (f'{served}/{lin}.pem', f'{served}/{lin}.pem')
                   for n, key, full, lin in entries.values()}, f)

def files_of(ref):
    """name -> content hash of a side's served files (.store)."""
    return dict(l.split() for l in open(ref + '.store'))

def cmd_dovecot(dcf, want):
    """The include serves each name its served file, exact names before
    wildcards on 2.3 (the first match wins) and after them on 2.4 (the
    last wins), on 2.3 one block per pair's exact names and one per its
    wildcards (packing), on 2.4 one block per name, and holds nothing
    else."""
    want = {n: tuple(v) for n, v in json.load(open(want)).items()}
    text = open(dcf).read()
    v24 = text.startswith('# Written by snisync for Dovecot 2.4.')
    if v24:
        blocks = re.findall(r'^local_name (\S+) \{\n  ssl_server_cert_file = (\S+)\n'
                            r'  ssl_server_key_file = (\S+)\n  ssl_server_alt_cert_file =\n'
                            r'  ssl_server_alt_key_file =\n\}\n', text, re.M)
    else:
        blocks = re.findall(r'^local_name (\S+|"[^"]+") \{\n  ssl_cert = <(\S+)\n'
                            r'  ssl_key = <(\S+)\n  ssl_alt_cert =\n'
                            r'  ssl_alt_key =\n\}\n', text, re.M)
    got = {}
    kinds = []
    for ns, c, k in blocks:
        names = ns.strip('"').split(' ')
        wild = {n.startswith('*.') for n in names}
        kinds.append((len(wild) == 1 and True in wild, (c, k)))
        for n in names:
            got[n] = (c, k)
    bad = []
    if got != want:
        bad.append(f'{len(set(got.items()) ^ set(want.items()))} names '
                   'differ from the tree')
    if text.count('local_name ') != len(blocks):
        bad.append('unexpected text in the include')
    if [w for w, _ in kinds] != sorted((w for w, _ in kinds), reverse=v24):
        bad.append('an exact name comes %s a wildcard' % ('before' if v24 else 'after'))
    if not v24 and len(set(kinds)) != len(kinds):
        bad.append('names of one pair in several blocks')
    print('\n'.join(bad))

def pair_lineage(p):
    """The lineage of a state pair (format 2: array; 1: object)."""
    return p[0] if isinstance(p, list) else p['lineage']

def read_state(path):
    """The state database as mdb_dump prints it, decoded (state.c's
    records): {'pairs': [...], 'errors': [...], 'counts': {...},
    'holds': [...], 'reload_pending': [pf, dc]}."""
    import subprocess, struct
    out = subprocess.run(['mdb_dump', '-n', path], capture_output=True,
                         check=True).stdout.decode().split('\n')
    data = out[out.index('HEADER=END') + 1:out.index('DATA=END')]
    st = {'pairs': [], 'errors': [], 'counts': {}, 'holds': [],
          'reload_pending': [False, False]}
    for k, v in zip(data[0::2], data[1::2]):
        k, v = bytes.fromhex(k.strip()), bytes.fromhex(v.strip())
        pos = [0]
        def take(n):
            b = v[pos[0]:pos[0] + n]
            if len(b) != n: raise ValueError('record cut short')
            pos[0] += n
            return b
        def u8(): return take(1)[0]
        def i64(): return struct.unpack('<q', take(8))[0]
        def st_(): 
            n = struct.unpack('<I', take(4))[0]
            return None if n == 0xffffffff else take(n).decode('latin-1')
        version = u8()
        if version != (3 if k == b'r' else 1):
            raise ValueError('record version')
        if k == b'r':
            u8(); [i64() for _ in range(4)]
            st['reload_pending'] = [bool(u8()), bool(u8())]
            continue
        lin, flags = k[1:].decode('latin-1'), u8()
        if flags & ~0x1f or (flags & 0x10 and not flags & 1):
            raise ValueError('record flags')
        if flags & 1:
            p = {'lineage': lin, 'sole': bool(flags & 0x10),
                 'key': st_(), 'chain': st_()}
            p['names'] = [st_() for _ in range(i64())]
            p['not_before'], p['not_after'] = i64(), i64()
            p['key_type'], p['serial'], p['fingerprint'] = st_(), st_(), st_()
            p['last_good'] = bool(u8())
            p['since'], p['key_since'] = i64(), i64()
            if u8():
                p['source'] = (st_(), [i64() for _ in range(4)],
                               st_(), [i64() for _ in range(4)])
            st['pairs'].append(p)
        if flags & 2:
            st['errors'].append({'lineage': lin, 'file': st_(),
                                 'error': st_(), 'since': i64()})
        if flags & 4:
            st['holds'].append({'lineage': lin, 'key': st_(),
                                'serial': st_(), 'spki': st_(),
                                'since': i64()})
        if flags & 8:
            st['counts'][lin] = i64()
        if pos[0] != len(v): raise ValueError('record too long')
    return st

def norm_state(st):
    """The state without what differs between equal runs: the run record
    (map identity, pending reloads, reload counts, Dovecot's side) and
    the since stamps (served, key, error)."""
    d = dict(st)
    d.pop('reload_pending', None)
    d['pairs'] = [{k: v for k, v in p.items() if k not in ('since', 'key_since')}
                  for p in st['pairs']]
    d['errors'] = [{k: v for k, v in e.items() if k != 'since'}
                   for e in st['errors']]
    return json.dumps(d, sort_keys=True)

def dump_entries(path):
    """A `postmap -F -s` dump: {key: value}."""
    parts = re.split(r'^(\S+)\t', rd(path).decode(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))

def cmd_entries(old, new, got, names, lin):
    """After a kill during lineage LIN's renewal: prints old, new, mixed
    or bad (where the entries of LIN's names stand), then one line per
    problem: one of them neither its old nor its new value, another entry
    changed, added or removed."""
    o, n, g = (dump_entries(p) for p in (old, new, got))
    mine = {pfkey(x) for l in open(names) if l.split()[0] == lin
            for x in l.split()[1:]}
    bad, side = [], set()
    for k in sorted(set(o) | set(g)):
        if k not in g or k not in o:
            bad.append(f'{k}: {"removed" if k in o else "added"}')
        elif k in mine and g[k] in (o[k], n.get(k)):
            side.add('old' if g[k] == o[k] else 'new')
        elif k in mine:
            bad.append(f'{k}: neither its old nor its new entry')
        elif g[k] != o[k]:
            bad.append(f'{k}: changed, though its lineage did not renew')
    print('mixed' if len(side) > 1 else side.pop() if side else 'bad')
    print('\n'.join(bad[:5] + ([f'({len(bad) - 5} more)'] if bad[5:] else [])))

def cmd_norm(state, out):
    open(out, 'w').write(norm_state(read_state(state)))

TEMP = [('pf', r'tls_sni\.lmdb\.tmp\.', 'lmdb'), ('pf', r'tls_sni\.tmp\.', 'map'),
        ('dc', r'99-snisync\.conf\.tmp\.', 'dovecot'),
        ('state', r'state\.json\.tmp\.', 'state'),
        ('state/served', r'.+\.pem\.tmp\.', 'served'),
        ('state/staging', r'.+\.pem\.tmp\.', 'served')]
KNOWN = {'pf': {'tls_sni', 'tls_sni.lmdb'}, 'dc': {'99-snisync.conf'},
         'state': {'state.lmdb', 'state.lmdb-lock', 'lock', 'served',
                   'staging', 'last-sync', 'last-applied', 'last-success'},
         'state/served': set(), 'state/staging': set()}

def cmd_check(out, ref_old, ref_new, mode):
    """After a kill (mode kill) or a completed run (mode done): prints
    'store+=W store-=R state=S tmp=KINDS', then one line per problem: W and
    R say whether none, some or all of the changed and new lineages'
    served files hold the new pair and of the deleted lineages' files are
    gone; S is old, new or bad; KINDS the temp files left (or none)."""
    bad, tmp, names, have = [], [], {}, {}
    served = f'{out}/state/served'
    old, new = files_of(ref_old), files_of(ref_new)
    for d in KNOWN:
        try: names[d] = os.listdir(f'{out}/{d}')
        except FileNotFoundError: names[d] = []
        for f in names[d]:
            if f in KNOWN[d]: continue
            if d == 'state/served' and re.fullmatch(r'[^/]+\.pem', f):
                have[f] = sha(rd(f'{served}/{f}'))
                if have[f] not in (old.get(f), new.get(f)):
                    bad.append(f'served/{f} holds neither its old nor its '
                               'new pair whole')
                continue
            kind = [k for dd, rx, k in TEMP if dd == d and re.match(rx, f)]
            if kind: tmp.append(kind[0]); continue
            bad.append(f'unexpected file {d}/{f}')
    refd = set()
    for m in re.finditer(r' = <(\S+)', open(f'{out}/dc/99-snisync.conf').read()):
        refd.add(('the include', m.group(1)))
    for line in open(f'{out}/pf/tls_sni'):
        for p in line.split()[1:]: refd.add(('the map source', p))
    st = None
    try:
        st = read_state(f'{out}/state/state.lmdb')
        for p in st['pairs']:
            refd.add(('the state', f'{served}/{p["lineage"]}.pem'))
    except Exception as e:
        bad.append(f'the state database is unreadable: {e}')
    for who, p in sorted(refd):
        if not os.path.isfile(p):
            bad.append(f'{who} names {p}: missing')
    state = 'bad'
    if st is not None:
        if norm_state(st) == open(ref_new + '.norm').read(): state = 'new'
        elif mode == 'kill' and norm_state(st) == open(ref_old + '.norm').read():
            state = 'old'
        else: bad.append('the state is neither the old nor the new state')
        if mode == 'done' and any(st['reload_pending']):
            bad.append(f'state: reload pending {st["reload_pending"]}')
    if mode == 'done' and have != new:
        more = set(have) - set(new)
        bad.append(f'served: {len(more)} files more, '
                   f'{len(set(new) - set(have))} missing, '
                   f'{len([f for f in new if f in have and have[f] != new[f]])}'
                   ' not the new pair')
    # how far the served files got: changed and new lineages' files hold
    # the new pair, deleted lineages' files removed
    changed = {f for f in new if old.get(f) != new[f]}
    gone = set(old) - set(new)
    def part(n, of): return 'none' if n == 0 else 'all' if n == of else 'some'
    wr = part(len([f for f in changed if have.get(f) == new[f]]), len(changed))
    rm = part(len(gone - set(have)), len(gone))
    print(f'store+={wr} store-={rm} state={state} '
          f'tmp={",".join(sorted(set(tmp))) or "none"}')
    print('\n'.join(bad))

globals()['cmd_' + sys.argv[1]](*sys.argv[2:])
PY
aux() { "$PY" -S "$T/aux.py" "$@"; }

# --- the trees ----------------------------------------------------------------
genkey() { # TYPE OUT
	local -a opt
	case $1 in
	ec256) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve) ;;
	ec384) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve) ;;
	ed25519) opt=(-algorithm ED25519) ;;
	rsa2048) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	esac
	(umask 077 && openssl genpkey -quiet "${opt[@]}" -out "$2")
}
# mkcerts PART: issues the certificates of the lines NR % 2 == PART of
# $T/jobs ("OUT KEY SAN"), signed by the test intermediate CA.
mkcerts() {
	local out key san
	awk -v p="$1" 'NR % 2 == p' "$T/jobs" | while read -r out key san; do
		openssl req -new -x509 -config /dev/null -key "$key" \
			-subj "/CN=${out##*/}" -addext "subjectAltName=$san" \
			-addext basicConstraints=critical,CA:false \
			-addext keyUsage=critical,digitalSignature \
			-addext extendedKeyUsage=serverAuth \
			-CA "$CA/int.pem" -CAkey "$CA/int.key" -days 60 \
			-out "$out" 2>>"$T/gen.err" || return 1
	done
}
lname() { printf -v "$1" 'l%03d.example.test' "$2"; }

fixture() {
	local i j p L san k types renewed=() deleted=() added=()
	certs_ca "$CA" || return 1
	types=(ec256 ec256 ec384 ed25519 ec256 rsa2048 ec256 ec384 ed25519 ec256)
	for p in a b; do
		for i in "${!types[@]}"; do
			genkey "${types[$i]}" "$T/keys/$p$i.key" || return 1
		done
	done
	for ((i = 0; i < N; i++)); do
		lname L "$i"
		san="DNS:$L" k=$L
		if ((i % 25 == 0)); then san+=",DNS:*.$L" k+=" *.$L"; fi
		echo "$T/certs/$L.a $T/keys/a$((i % 10)).key $san" >&3
		echo "$L $T/keys/a$((i % 10)).key $T/certs/$L.a" >&4
		echo "$L $k" >&5
		if ((i % 25 == 3)); then
			deleted+=("$L")
			continue
		fi
		if ((i % 5 == 1)); then
			if ((i % 10 == 1)); then san+=",DNS:www.$L" k+=" www.$L"; fi
			echo "$T/certs/$L.b $T/keys/b$((i % 10)).key $san" >&3
			renewed+=("$L $T/keys/b$((i % 10)).key $T/certs/$L.b")
		fi
		echo "$L $k" >&6
	done 3>"$T/jobs" 4>"$T/manifest-a" 5>"$T/names-a" 6>"$T/names-b"
	for ((i = N; i < N + N / 25; i++)); do
		lname L "$i"
		echo "$T/certs/$L.b $T/keys/b$((i % 10)).key DNS:$L" >>"$T/jobs"
		added+=("$L $T/keys/b$((i % 10)).key $T/certs/$L.b")
		echo "$L $L" >>"$T/names-b"
	done
	# R: the lineages RIDX renew in turn, the same names each time; the
	# third keeps its key (certbot --reuse-key), the others alternate
	for ((j = 0; j < RENEWALS; j++)); do
		i=${RIDX[j % ${#RIDX[@]}]} p=b
		lname L "$i"
		san="DNS:$L"
		((i % 25)) || san+=",DNS:*.$L"
		(((j / ${#RIDX[@]}) % 2 == 0)) || p=a
		[ "$i" != "${RIDX[2]}" ] || p=a
		echo "$T/certs/$L.r$j $T/keys/$p$((i % 10)).key $san" >>"$T/jobs"
		echo "$L $T/keys/$p$((i % 10)).key $T/certs/$L.r$j" >>"$T/renewals"
	done
	mkcerts 0 &
	p=$!
	mkcerts 1 || { wait "$p"; return 1; }
	wait "$p" || return 1
	aux tree "$T/le-a" "$CA/int.pem" "$T/manifest-a" &&
		cp -a "$T/le-a" "$T/le-b" || return 1
	# B: renewals, new lineages, and certbot's deletions
	printf '%s\n' "${renewed[@]}" "${added[@]}" >"$T/changes"
	aux tree "$T/le-b" "$CA/int.pem" "$T/changes" || return 1
	for L in "${deleted[@]}"; do lineage_delete "$T/le-b" "$L" || return 1; done
	RENEWED=${#renewed[@]} DELETED=${#deleted[@]} ADDED=${#added[@]}
}
now_us
gen_start=$NOW
fixture || { t_fail "fixture: trees of $N lineages"; cat "$T/gen.err" >&2; exit 1; }
echo "# trees A and B generated in $(since "$gen_start"): $N lineages;" \
	"B renews $RENEWED, deletes $DELETED, adds $ADDED"
t_eq "tree A has $N lineages, tree B $((N - DELETED + ADDED))" \
	"$(ls -d "$T"/le-a/live/*/ | wc -l) $(ls -d "$T"/le-b/live/*/ | wc -l)" \
	"$N $((N - DELETED + ADDED))"

# What `postmap -F -q` must print for a renewed, a deleted and a new name.
lname L0 0			# in both trees, never renewed
lname LREN 1
lname LDEL 3
lname LNEW "$N"
for s in a b; do
	for L in "$LREN" "$LDEL" "$LNEW"; do
		if [ -d "$T/le-$s/live/$L" ]; then
			tree_expected_value "$T/le-$s" "$L" >"$T/q/$s.$L"
		else
			: >"$T/q/$s.$L"
		fi
	done
done

# --- one worker's outputs -------------------------------------------------------
use_worker() {
	W=$1 WD=$T/w$1
	OUT=$WD/out
	MAP=$OUT/pf/tls_sni DCF=$OUT/dc/99-snisync.conf ST=$OUT/state
	REC=$WD/reloads REF=$WD/ref
}
# run_ok CONF LOG [ARG...]: snisync -c CONF ARG... (default: resync).
run_ok() {
	local conf=$1 log=$2
	shift 2
	(($#)) || set -- resync
	timeout -k 5 120 "$SNISYNC" -c "$conf" "$@" >"$log" 2>&1
}
dump() { postmap -c "$PFC" -F -s "lmdb:$MAP" >"$1" 2>"$1.err"; }
q() { postmap -c "$PFC" -F -q "$1" "lmdb:$MAP"; }
doveconf_ok() { doveconf -xn -c "$WD/dovecot.conf" >/dev/null 2>"$WD/doveconf.err"; }
store_list() { (cd "$ST/served" && sha256sum -- *.pem) | awk '{ print $2, $1 }' | LC_ALL=C sort; }
# restore SIDE: the snapshot, hard-linked but for the state database
# (LMDB writes it in place: a copy).
restore() {
	rm -rf "$OUT" && cp -al "$WD/snap-$1" "$OUT" && rm -f "$ST/state.lmdb" &&
		cp -p "$WD/snap-$1/state/state.lmdb" "$ST/state.lmdb" && : >"$REC"
}
# snapshot SIDE: the outputs as they are now.
snapshot() {
	cp -al "$OUT" "$WD/snap-$1" && rm -f "$WD/snap-$1/state/state.lmdb"* &&
		cp -p "$ST/state.lmdb" "$WD/snap-$1/state/state.lmdb"
}
sums() { (cd "$WD/snap-$1" && find . -type f -exec sha256sum {} + | LC_ALL=C sort); }
# reloads_current: each service's last reload (in $REC) saw its current file.
reloads_current() {
	local pf dc
	pf=$(sha256sum <"$MAP.lmdb")
	dc=$(grep -o ' = <[^ ]*' "$DCF" | cut -c5- | LC_ALL=C sort -u | xargs -r cat "$DCF" | sha256sum)
	[ "$(grep '^postfix ' "$REC" | tail -1)" = "postfix ${pf%% *}" ] &&
		[ "$(grep '^dovecot ' "$REC" | tail -1)" = "dovecot ${dc%% *}" ]
}
# settle: waits until nothing a killed run started is left (a reload or
# check command outlives snisync; its command line names $WD).
settle() { while pgrep -f -- "$WD/" >/dev/null; do nap 0.005; done; }

# timed_ok CONF LOG [ARG...]: run_ok; its status in rc, its duration in DUR
# (us), its start in T0.
timed_ok() {
	local t0
	now_us
	t0=$NOW T0=$NOW
	run_ok "$@"
	rc=$?
	now_us
	DUR=$((NOW - t0))
}
declare -A DUR_AB DUR_BA DUR_NOOP
# wstart T0: us from T0 (us since the epoch) to the first served file
# written after it.
wstart() {
	find "$ST/served" -name '*.pem' -printf '%T@\n' | awk -v t0="$1" '
		{ t = $1 * 1000000 - t0; if (t > 0 && (m == "" || t < m)) m = t }
		END { printf "%d\n", m }'
}

# prepare W: the worker's configs, its references (checked against the
# trees) and its snapshots of A applied and of B applied (from A).
prepare() {
	local s S p="w$1:" rc
	use_worker "$1"
	mkdir -p "$REF" "$OUT/pf" "$OUT/dc" || return 1
	for s in a b; do
		tree_conf "$WD/conf-$s.json" "$T/le-$s" "$ST" "$MAP" "$DCF" \
			postfix_postconf="$PQ" \
			postfix_reload="[\"$T/rec\", \"postfix\", \"$MAP.lmdb\", \"$REC\"]" \
			dovecot_reload="[\"$T/rec\", \"dovecot\", \"$DCF\", \"$REC\", \"include\"]"
	done
	{
		dc_conf_version
		echo 'ssl = yes'
		dc_conf_ssl "$T/le-a/live/$L0/fullchain.pem" "$T/le-a/live/$L0/privkey.pem"
		echo "!include $DCF"
	} >"$WD/dovecot.conf"
	for s in a b; do
		S=${s^^}
		[ "$s" = a ] || restore a
		timed_ok "$WD/conf-$s.json" "$WD/run-$s.log"
		t_eq "$p resync of tree $S exits 0" "$rc" 0
		aux expect "$T/le-$s" "$T/names-$s" "$ST/served" "$REF/$s"
		dump "$REF/$s.got"
		t_check "$p tree $S: postmap -F -s prints each name's key and chain, read from the tree" \
			cmp -s "$REF/$s.got" "$REF/$s.dump"
		t_check "$p tree $S: the map source names the served file of each name's lineage" \
			cmp -s "$MAP" "$REF/$s.src"
		t_eq "$p tree $S: the include serves each name its pair, exact names first" \
			"$(aux dovecot "$DCF" "$REF/$s.want")" ""
		t_check "$p tree $S: doveconf -xn accepts the include" doveconf_ok
		t_check "$p tree $S: each service reloaded with its current files" reloads_current
		t_eq "$p tree $S: served/ holds exactly one file per lineage, its key then its full chain" \
			"$(store_list)" "$(cat "$REF/$s.store")"
		cp "$DCF" "$REF/$s.dc" && aux norm "$ST/state.lmdb" "$REF/$s.norm" &&
			snapshot "$s" && sums "$s" >"$WD/snap-$s.sums" ||
			return 1
	done
	DUR_AB[$W]=$DUR
	restore b
	timed_ok "$WD/conf-a.json" "$WD/run-ba.log"
	DUR_BA[$W]=$DUR
	dump "$WD/ba.dump"
	t_check "$p B -> A: exit 0; map, source, include and served files are A's again" \
		eval '[ "$rc" = 0 ] && cmp -s "$WD/ba.dump" "$REF/a.dump" &&
		cmp -s "$MAP" "$REF/a.src" && cmp -s "$DCF" "$REF/a.dc" &&
		[ "$(store_list)" = "$(cat "$REF/a.store")" ]'
	timed_ok "$WD/conf-a.json" "$WD/run-noop.log"
	DUR_NOOP[$W]=$DUR
	t_check "$p then a resync writes nothing" \
		grep -q 'nothing changed: .* nothing written, nothing reloaded' "$WD/run-noop.log"
}
for ((w = 1; w <= JOBS; w++)); do
	prepare "$w" || { t_fail "w$w: setup"; exit 1; }
done

# --- the kills --------------------------------------------------------------------
# fail_note TEXT: records a failed check with its kill instant; keeps a
# copy of the outputs of the first five (for KEEP=1).
fail_note() {
	nfail=$((nfail + 1))
	((${#FAILS[@]} < 20)) && FAILS+=("w$W run $k ($from->$to, SIGKILL $((delay / 1000)) ms after its start, a full run taking $((D / 1000)) ms; last exit status $rc): $*")
	((nfail <= 5)) && cp -a "$OUT" "$WD/fail-$k" 2>/dev/null
	return 0
}
# check_done FROM TO WHAT: a completed run left exactly TO's outputs.
check_done() {
	local out to=$2
	dump "$WD/d.dump"
	out=$(aux check "$OUT" "$REF/$1" "$REF/$2" "done")
	if ! cmp -s "$WD/d.dump" "$REF/$to.dump" || ! cmp -s "$MAP" "$REF/$to.src" ||
		! cmp -s "$DCF" "$REF/$to.dc" || [ -n "$(sed 1d <<<"$out")" ] ||
		[[ $out != *' state=new '* ]]; then
		bad_repair=$((bad_repair + 1))
		fail_note "$3 did not leave exactly ${to^^}'s outputs: $(tr '\n' ';' <<<"$out")"
	fi
	if [[ ${out%%$'\n'*} != *tmp=none ]]; then
		bad_tmp=$((bad_tmp + 1))
		fail_note "temp files survive $3: $(cd "$OUT" && find . -name '*.tmp.*' | tr '\n' ' ')"
	fi
	if ! reloads_current; then
		bad_reload=$((bad_reload + 1))
		fail_note "after $3 a service's last reload did not see its current file (reloads: $(tr '\n' ' ' <"$REC"))"
	fi
}

# repair CONF IDEM [ARG...]: the next run after a kill, nothing done by
# hand (snisync -c CONF ARG..., default: resync), must exit 0 and leave
# exactly the new side (check_done FROM TO); with IDEM 1, a resync after
# it must change nothing. Counts in the caller's nrepair, nidem,
# bad_repair, bad_idem.
repair() {
	local conf=$1 idem=$2
	shift 2
	nrepair=$((nrepair + 1))
	run_ok "$conf" "$WD/repair.log" "$@"
	rc=$?
	if [ "$rc" != 0 ]; then
		bad_repair=$((bad_repair + 1))
		fail_note "the repair exited $rc: $(grep -m1 error "$WD/repair.log")"
	fi
	check_done "$from" "$to" "the repair${*:+ ($*)}"
	[ "$idem" = 1 ] || return 0
	nidem=$((nidem + 1))
	if ! run_ok "$conf" "$WD/idem.log" ||
		! grep -q 'nothing changed: .* nothing written, nothing reloaded' "$WD/idem.log"; then
		bad_idem=$((bad_idem + 1))
		fail_note "a resync after the repair still changed something: $(tr '\n' ';' <"$WD/idem.log")"
	fi
}

# The kill loops' instants and tallies, in their variables: DD, WS and
# STREAK by direction (a full run's duration, its first served file
# write, the kills in a row), k (the run's number), TALLY, TMIN, TMAX.
# kill_random DIR CONF [ARG...]: snisync -c CONF ARG... (default: resync)
# SIGKILLed DELAY after its start (timeout -s KILL), DELAY random: one kill
# in three over the whole run, the others from shortly before its first
# served file write to its end; then what it started may finish. Sets
# delay (us), t0 (its start), rc; its stderr in $WD/kill.log.
kill_random() {
	local dir=$1 conf=$2 r lo frac D=${DD[$1]}
	shift 2
	(($#)) || set -- resync
	r=$((RANDOM << 15 | RANDOM))
	lo=$((WS[$dir] * 9 / 10))
	((k % 3 && lo < D)) || lo=0
	delay=$((lo + r % (D * 11 / 10 - lo)))
	printf -v frac '%06d' $((delay % 1000000))
	now_us
	t0=$NOW
	{ timeout -s KILL "$((delay / 1000000)).$frac" "$SNISYNC" \
		-c "$conf" "$@" >/dev/null 2>"$WD/kill.log"; } 2>/dev/null
	rc=$?
	now_us
	settle
}
# learn DIR T0: a run of DIR from T0 ended now: D and WS move halfway to
# its figures.
learn() {
	DD[$1]=$(((DD[$1] + NOW - $2) / 2)) STREAK[$1]=0
	WS[$1]=$(((WS[$1] + $(wstart "$2")) / 2))
}
# missed DIR: a kill landed; four in a row without a run that ended
# raise D by 5%.
missed() {
	if ((++STREAK[$1] >= 4)); then
		DD[$1]=$((DD[$1] * 21 / 20)) STREAK[$1]=0
	fi
}
# tally CLASS: one more kill left CLASS, delay in % of a full run (D).
tally() {
	local r=$((delay * 100 / D))
	TALLY[$1]=$((${TALLY[$1]:-0} + 1))
	((${TMIN[$1]:-999} <= r)) || TMIN[$1]=$r
	((${TMAX[$1]:--1} >= r)) || TMAX[$1]=$r
}
# print_tally TALLY TMIN TMAX (array names): a line a class, the most
# frequent first.
print_tally() {
	local -n _n=$1 _lo=$2 _hi=$3
	local c
	for c in "${!_n[@]}"; do
		printf '# %4d x %s (%d-%d %%)\n' "${_n[$c]}" "$c" "${_lo[$c]}" "${_hi[$c]}"
	done | sort -k2,2nr
}

# kill_loop W KILLS SEED: one worker; leaves its counts in wW/result.
kill_loop() {
	local out cls mside sside dside s L rc D k=0 from to delay t0
	local loop_start dir
	local -A DD WS STREAK
	local nkilled=0 nlate=0 nrepair=0 nidem=0 map_old=0 map_new=0 with_tmp=0
	local bad_map=0 bad_q=0 bad_src=0 bad_dc=0 bad_doveconf=0 bad_files=0
	local bad_repair=0 bad_tmp=0 bad_reload=0 bad_idem=0 nfail=0
	local -A TALLY=() TMIN=() TMAX=()
	local -a FAILS=()
	use_worker "$1"
	RANDOM=$3
	now_us
	loop_start=$NOW
	# D, the duration of a full run in each direction, and WS, the time of
	# its first served file write (the oldest one it wrote), measured once
	# while the other workers do the same, then kept up to date: a run that
	# ends before its kill gives both, four kills in a row without one
	# raise D by 5%.
	restore a && timed_ok "$WD/conf-b.json" "$WD/timed.log"
	DD[ab]=$DUR WS[ab]=$(wstart "$T0")
	restore b && timed_ok "$WD/conf-a.json" "$WD/timed.log"
	DD[ba]=$DUR WS[ba]=$(wstart "$T0")
	for ((k = 1; nkilled < $2 && k <= 3 * $2; k++)); do
		if ((k % 2)); then from=a to=b; else from=b to=a; fi
		dir=$from$to D=${DD[$dir]}
		restore "$from" || { fail_note "cannot restore snapshot $from"; break; }
		kill_random "$dir" "$WD/conf-$to.json"
		if [ "$rc" != 137 ]; then	# it finished first: a completed run
			learn "$dir" "$t0"
			nlate=$((nlate + 1))
			[ "$rc" = 0 ] || fail_note "exit status $rc: $(tail -1 "$WD/kill.log")"
			check_done "$from" "$to" "a run that finished before its kill"
			continue
		fi
		nkilled=$((nkilled + 1))
		missed "$dir"

		mside=bad
		if ! dump "$WD/k.dump"; then
			fail_note "postmap -F -s failed: $(head -1 "$WD/k.dump.err")"
		elif cmp -s "$WD/k.dump" "$REF/$from.dump"; then
			mside=old map_old=$((map_old + 1))
		elif cmp -s "$WD/k.dump" "$REF/$to.dump"; then
			mside=new map_new=$((map_new + 1))
		else
			fail_note "the map is neither the old nor the new: its dump differs from the old in $(diff "$REF/$from.dump" "$WD/k.dump" | grep -c '^[<>]') lines, from the new in $(diff "$REF/$to.dump" "$WD/k.dump" | grep -c '^[<>]')"
		fi
		if [ "$mside" = bad ]; then
			bad_map=$((bad_map + 1))
		else
			s=$from
			[ "$mside" = new ] && s=$to
			for L in "$LREN" "$LDEL" "$LNEW"; do
				if ! cmp -s <(q "$L") "$T/q/$s.$L"; then
					bad_q=$((bad_q + 1))
					fail_note "postmap -F -q $L disagrees with the $mside map"
				fi
			done
		fi
		sside=bad
		if cmp -s "$MAP" "$REF/$from.src"; then sside=old
		elif cmp -s "$MAP" "$REF/$to.src"; then sside=new
		else
			bad_src=$((bad_src + 1))
			fail_note "the map source is neither the old nor the new"
		fi
		dside=bad
		if cmp -s "$DCF" "$REF/$from.dc"; then dside=old
		elif cmp -s "$DCF" "$REF/$to.dc"; then dside=new
		else
			bad_dc=$((bad_dc + 1))
			fail_note "the include is neither the old nor the new"
		fi
		if ! doveconf_ok; then
			bad_doveconf=$((bad_doveconf + 1))
			fail_note "doveconf -xn rejects the include: $(head -1 "$WD/doveconf.err")"
		fi
		out=$(aux check "$OUT" \
			"$REF/$from" "$REF/$to" "kill")
		if [ -n "$(sed 1d <<<"$out")" ] ||
			[[ $out != *' state=old '* && $out != *' state=new '* ]]; then
			bad_files=$((bad_files + 1))
			fail_note "$(tr '\n' ';' <<<"$out")"
		fi
		cls="map=$mside source=$sside include=$dside ${out%%$'\n'*}"
		[[ $cls == *tmp=none ]] || with_tmp=$((with_tmp + 1))
		tally "$cls"

		# the repair: the next run, nothing done by hand
		((nkilled % REPAIR_EVERY == 0)) || continue
		repair "$WD/conf-$to.json" $(((nrepair + 1) % 10 == 0))
	done
	now_us
	echo "# w$W: full run A->B $((DUR_AB[$W] / 1000)) ms, B->A" \
		"$((DUR_BA[$W] / 1000)) ms, nothing to do $((DUR_NOOP[$W] / 1000)) ms" \
		"alone; under load A->B $((DD[ab] / 1000)) ms, B->A $((DD[ba] / 1000)) ms," \
		"first write after $((WS[ab] / 1000)) and $((WS[ba] / 1000)) ms;" \
		"$nkilled kills, $nlate runs finished before their kill, $nrepair" \
		"repairs in $(((NOW - loop_start) / 1000000)) s"
	declare -p nkilled nlate nrepair nidem map_old map_new with_tmp bad_map \
		bad_q bad_src bad_dc bad_doveconf bad_files bad_repair bad_tmp \
		bad_reload bad_idem TALLY TMIN TMAX FAILS >"$WD/result"
}

now_us
loop_start=$NOW
pids=()
for ((w = 1; w <= JOBS; w++)); do
	kill_loop "$w" $(((KILLS + JOBS - w) / JOBS)) $((SEED * JOBS + w)) &
	pids+=($!)
	t_atexit "[ -e '$T/w$w/result' ] || kill ${pids[-1]}"
done
for p in "${pids[@]}"; do wait "$p"; done

# sum the workers' counts
declare -A SUM ALLTALLY ALLMIN ALLMAX
ALLFAILS=()
collect() {
	local v c
	# shellcheck source=/dev/null
	. "$T/w$1/result" || return 1
	for v in nkilled nlate nrepair nidem map_old map_new with_tmp bad_map \
		bad_q bad_src bad_dc bad_doveconf bad_files bad_repair bad_tmp \
		bad_reload bad_idem; do
		SUM[$v]=$((${SUM[$v]:-0} + ${!v}))
	done
	for c in "${!TALLY[@]}"; do
		ALLTALLY[$c]=$((${ALLTALLY[$c]:-0} + TALLY[$c]))
		((${ALLMIN[$c]:-999} <= TMIN[$c])) || ALLMIN[$c]=${TMIN[$c]}
		((${ALLMAX[$c]:--1} >= TMAX[$c])) || ALLMAX[$c]=${TMAX[$c]}
	done
	ALLFAILS+=("${FAILS[@]}")
}
for ((w = 1; w <= JOBS; w++)); do
	collect "$w" || t_fail "w$w: no result"
done
echo "# ${SUM[nkilled]} kills, ${SUM[nlate]} runs finished before their kill," \
	"${SUM[nrepair]} repairs, ${SUM[nidem]} runs after a repair, in $(since "$loop_start")"
echo "# what the kills left (kill instant in % of a full run):"
print_tally ALLTALLY ALLMIN ALLMAX
t_eq "$KILLS kills landed in a running resync" "${SUM[nkilled]}" "$KILLS"
t_eq "kills landed before the map was replaced (${SUM[map_old]}) and after (${SUM[map_new]})" \
	"$((SUM[map_old] > 0 && SUM[map_new] > 0))" 1
t_eq "kills landed while temp files existed (${SUM[with_tmp]})" "$((SUM[with_tmp] > 0))" 1
t_eq "after every kill postmap -F -s printed the old or the new map, entry for entry" \
	"${SUM[bad_map]}" 0
t_eq "after every kill postmap -F -q of a renewed, a deleted and a new name agreed with it" \
	"${SUM[bad_q]}" 0
t_eq "after every kill the map source was the old or the new file" "${SUM[bad_src]}" 0
t_eq "after every kill the Dovecot include was the old or the new file" "${SUM[bad_dc]}" 0
t_eq "after every kill doveconf -xn accepted the Dovecot configuration" \
	"${SUM[bad_doveconf]}" 0
t_eq "after every kill each served file named by the include, the map source or the state existed, each served file held its lineage's old or new pair whole, the state database opened and held the old or the new state" \
	"${SUM[bad_files]}" 0
want=0
for ((w = 1; w <= JOBS; w++)); do
	want=$((want + (KILLS + JOBS - w) / JOBS / REPAIR_EVERY))
done
t_eq "a repair after every ${REPAIR_EVERY}th kill of each worker" "${SUM[nrepair]}" "$want"
t_eq "every repair, and every run the kill came too late for, exited 0 and left exactly the new map, source, include, served files and state" \
	"${SUM[bad_repair]}" 0
t_eq "no temp file survived a completed run" "${SUM[bad_tmp]}" 0
t_eq "after every completed run each service's last reload saw its current file" \
	"${SUM[bad_reload]}" 0
t_eq "a run after a repair changed nothing (${SUM[nidem]} runs)" "${SUM[bad_idem]}" 0
for f in "${ALLFAILS[@]}"; do echo "# $f"; done

# --- kills at chosen instants ---------------------------------------------------
# kill_when ARG... -- COND...: snisync ARG..., killed as soon as COND
# holds (polled every 0.5 ms; the run is killed after 10 s anyway); then
# its children may finish. Sets rc and delay (us); its stderr in
# $WD/kill.log.
kill_when() {
	local -a run=()
	local i=0 pid t0
	while [ "$1" != -- ]; do run+=("$1"); shift; done
	shift
	: >"$T/stamp"
	now_us
	t0=$NOW
	"$SNISYNC" "${run[@]}" >/dev/null 2>"$WD/kill.log" &
	pid=$!
	until "$@" || ! kill -0 "$pid" 2>/dev/null || ((++i > 20000)); do
		nap 0.0005
	done
	kill -9 "$pid" 2>/dev/null
	now_us
	delay=$((NOW - t0))
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	rm -f "$T/flag"
	settle
}
have() { compgen -G "$1" >/dev/null; }
renamed() { [ "$1" -nt "$T/stamp" ]; }	# replaced since the run started
side() { # FILE: old, new or neither (A's or B's reference)
	if cmp -s "$1" "$2.a"; then echo old
	elif cmp -s "$1" "$2.b"; then echo new
	else echo neither; fi
}
# chosen SLUG DESC KILLCONF REPAIRCONF COND...: kills a run A -> B when
# COND holds, says what the kill left, then the next run must leave
# exactly B's outputs, no temp file, and each service reloaded with its
# current file.
chosen() {
	local desc=$2 kconf=$3 rconf=$4 out
	local k=$1 from=a to=b D=${DUR_AB[1]} nfail=0 bad_repair=0 bad_tmp=0 bad_reload=0
	local -a FAILS=()
	shift 4
	restore a
	kill_when -c "$kconf" resync -- "$@"
	t_eq "kill $desc: killed" "$rc" 137
	dump "$WD/k.dump"
	for f in a b; do cp "$REF/$f.dump" "$WD/k.ref.$f"; done
	out=$(aux check "$OUT" "$REF/a" "$REF/b" "kill")
	echo "#   SIGKILL $((delay / 1000)) ms after the start; it left" \
		"map=$(side "$WD/k.dump" "$WD/k.ref") source=$(side "$MAP" "$WD/src.ref")" \
		"include=$(side "$DCF" "$WD/dc.ref") ${out%%$'\n'*}"
	run_ok "$rconf" "$WD/repair.log"
	rc=$?
	t_eq "... the next run exits 0" "$rc" 0
	check_done a b "the next run"
	t_eq "... and leaves exactly B's map, source, include, served files and state" "$bad_repair" 0
	t_eq "... and no temp file" "$bad_tmp" 0
	t_eq "... and each service's last reload saw its current file" "$bad_reload" 0
	for f in "${FAILS[@]}"; do echo "#   $f"; done
}
use_worker 1
for f in a b; do
	cp "$REF/$f.src" "$WD/src.ref.$f" && cp "$REF/$f.dc" "$WD/dc.ref.$f" || exit 1
done
tree_conf "$WD/conf-b-check.json" "$T/le-b" "$ST" "$MAP" "$DCF" \
	postfix_postconf="$PQ" \
	postfix_reload="[\"$T/rec\", \"postfix\", \"$MAP.lmdb\", \"$REC\"]" \
	dovecot_reload="[\"$T/rec\", \"dovecot\", \"$DCF\", \"$REC\", \"include\"]" \
	dovecot_check="[\"$T/block\", \"$T/mark\", \"$T/flag\"]"
tree_conf "$WD/conf-b-reload.json" "$T/le-b" "$ST" "$MAP" "$DCF" \
	postfix_postconf="$PQ" \
	postfix_reload="[\"$T/block\", \"$T/mark\", \"$T/flag\"]" \
	dovecot_reload="[\"$T/rec\", \"dovecot\", \"$DCF\", \"$REC\", \"include\"]"

chosen lmdb-temp "while the LMDB temp file is written" \
	"$WD/conf-b.json" "$WD/conf-b.json" have "$MAP.lmdb.tmp.*"
chosen map-renamed "as soon as the map is renamed into place" \
	"$WD/conf-b.json" "$WD/conf-b.json" renamed "$MAP.lmdb"
chosen include-renamed "as soon as the include is renamed into place" \
	"$WD/conf-b.json" "$WD/conf-b.json" renamed "$DCF"
rm -f "$T/mark" && : >"$T/flag"
chosen dovecot-check "during the Dovecot check command" \
	"$WD/conf-b-check.json" "$WD/conf-b-check.json" test -e "$T/mark"
rm -f "$T/mark" && : >"$T/flag"
chosen postfix-reload "during the Postfix reload command" \
	"$WD/conf-b-reload.json" "$WD/conf-b.json" test -e "$T/mark"

# --- nothing was written into a snapshot: every replacement was a rename --------
for ((w = 1; w <= JOBS; w++)); do
	use_worker "$w"
	for s in a b; do
		t_check "w$w: snapshot ${s^^} unchanged: no file was modified in place" \
			cmp -s "$WD/snap-$s.sums" <(sums "$s")
	done
done

# --- the renewal path: kills during `resync --lineage L` -----------------------
# Tree R, a copy of A, in which the lineages RIDX renew in turn (the same
# names, a new archive version). Worker r is the one killed; worker s runs
# each renewal cleanly first: what a clean run leaves, checked against the
# tree, is the new side of each kill.
renew_conf() {
	tree_conf "$WD/conf.json" "$T/le-r" "$ST" "$MAP" "$DCF" \
		postfix_postconf="$PQ" \
		postfix_reload="[\"$T/rec\", \"postfix\", \"$MAP.lmdb\", \"$REC\"]" \
		dovecot_reload="[\"$T/rec\", \"dovecot\", \"$DCF\", \"$REC\", \"include\"]"
}
RPATH='renewal path: 1 lineage renewing the names it serves alone'
renew_prepare() {
	local w pids=()
	cp -a "$T/le-a" "$T/le-r" || return 1
	for w in s r; do
		use_worker "$w"
		mkdir -p "$REF" "$OUT/pf" "$OUT/dc" && renew_conf || return 1
		run_ok "$WD/conf.json" "$WD/run.log" &
		pids+=($!)
	done
	wait "${pids[0]}" && wait "${pids[1]}"
	t_eq "renewal path: a resync of tree R in each of two workers exits 0" "$?" 0
	aux expect "$T/le-r" "$T/names-a" "$ST/served" "$REF/new" &&
		dump "$REF/new.got" && cp "$DCF" "$REF/new.dc" &&
		aux norm "$ST/state.lmdb" "$REF/new.norm" || return 1
	t_check "... postmap -F -s prints each name's key and chain, read from the tree" \
		cmp -s "$REF/new.got" "$REF/new.dump"
	cp "$MAP" "$WD/built" && postmap -c "$PFC" -F "lmdb:$WD/built" &&
		postmap -c "$PFC" -F -s "lmdb:$WD/built" >"$WD/built.dump"
	t_check "... the map is what postmap -F builds from its source" \
		cmp -s "$WD/built.dump" "$REF/new.got"
	t_check "... the map source names the served file of each name's lineage" \
		cmp -s "$MAP" "$REF/new.src"
	t_eq "... the include serves each name its pair" \
		"$(aux dovecot "$DCF" "$REF/new.want")" ""
	t_eq "... served/ holds each lineage's key then its full chain" \
		"$(store_list)" "$(cat "$REF/new.store")"
	t_check "... each service reloaded with its current files" reloads_current
}

# renew_loop: worker r, until RKILLS kills landed in a running
# `resync --lineage L` (2 * RKILLS runs and 5 s a kill at most): renew L,
# a clean run in worker s, then in worker r the same run, SIGKILLed at a
# random instant (kill_random), or (one in five each) as soon as the map is
# written (its mtime) or L's served temp file appears; the checks, the
# repair and its checks.
renew_loop() {
	local i L key cert out cls how path mside rc D delay t0 from=old to=new k
	local loop_start deadline rargs
	local -A DD WS STREAK TALLY=() TMIN=() TMAX=()
	local -a FAILS=()
	local nkilled=0 nlate=0 nrepair=0 nfull=0 nidem=0 ntemp=0 nmapk=0
	local map_old=0 map_new=0 npath=0 nleft=0 bad_clean=0 bad_path=0 bad_map=0
	local bad_src=0 bad_files=0 bad_repair=0 bad_tmp=0 bad_reload=0 bad_idem=0
	local nfail=0
	now_us
	loop_start=$NOW deadline=$((NOW + RKILLS * 5000000))
	for ((k = 1; nkilled < RKILLS && k <= RENEWALS && NOW < deadline; k++)); do
		use_worker r
		read -r L key cert < <(sed -n "${k}p" "$T/renewals")
		for i in dump store norm; do mv "$REF/new.$i" "$REF/old.$i" || break; done
		echo "$L $key $cert" >"$T/renew.1" &&
			aux tree "$T/le-r" "$CA/int.pem" "$T/renew.1" &&
			aux expect "$T/le-r" "$T/names-a" "$ST/served" "$REF/new" ||
			{ t_fail "renewal path: run $k: cannot renew $L"; return 1; }
		# the clean run: the new side, and how long a run takes
		use_worker s
		timed_ok "$WD/conf.json" "$WD/run.log" -v resync --lineage "$L"
		if ((k == 1)); then DD[r]=$DUR WS[r]=$(wstart "$T0"); else learn r "$T0"; fi
		dump "$WD/d.dump"
		if [ "$rc" != 0 ] || ! grep -q "$RPATH" "$WD/run.log" ||
			! cmp -s "$WD/d.dump" "$T/wr/ref/new.dump" ||
			[ "$(store_list)" != "$(cat "$T/wr/ref/new.store")" ]; then
			bad_clean=$((bad_clean + 1))
			fail_note "the clean run of $L (exit $rc) did not take the renewal path or did not serve the tree's pair: $(grep -m1 -e 'renewal path' -e error "$WD/run.log")"
		fi
		aux norm "$ST/state.lmdb" "$T/wr/ref/new.norm" ||
			{ t_fail "renewal path: run $k: the clean run left no state"; return 1; }

		use_worker r
		D=${DD[r]}
		if ((k % 5 == 1)); then
			how=map
			kill_when -c "$WD/conf.json" -v resync --lineage "$L" -- \
				renamed "$MAP.lmdb"
		elif ((k % 5 == 3)); then
			how=temp
			kill_when -c "$WD/conf.json" -v resync --lineage "$L" -- \
				have "$ST/staging/$L.pem.tmp.*"
		else
			how=random
			kill_random r "$WD/conf.json" -v resync --lineage "$L"
		fi
		if grep -q "$RPATH" "$WD/kill.log"; then
			path=renewal npath=$((npath + 1))
		elif grep -q 'renewal path not taken' "$WD/kill.log"; then
			path=whole bad_path=$((bad_path + 1))
			fail_note "$(grep -m1 'renewal path not taken' "$WD/kill.log")"
		else
			path=undecided
		fi
		if [ "$rc" != 137 ]; then	# it finished first: a completed run
			[ "$how" != random ] || learn r "$t0"
			nlate=$((nlate + 1))
			if [ "$rc" != 0 ]; then
				bad_repair=$((bad_repair + 1))
				fail_note "exit status $rc: $(tail -1 "$WD/kill.log")"
			fi
			check_done old new "a run of $L that finished before its kill"
			continue
		fi
		nkilled=$((nkilled + 1))
		case $how in
		random) missed r ;;
		temp) ntemp=$((ntemp + 1)) ;;
		map) nmapk=$((nmapk + 1)) ;;
		esac

		mside=bad
		if ! dump "$WD/k.dump"; then
			bad_map=$((bad_map + 1))
			fail_note "postmap -F -s failed: $(head -1 "$WD/k.dump.err")"
		else
			out=$(aux entries "$REF/old.dump" "$REF/new.dump" "$WD/k.dump" \
				"$T/names-a" "$L")
			mside=${out%%$'\n'*}
			if [ -n "$(sed 1d <<<"$out")" ] || [ "$mside" = bad ]; then
				bad_map=$((bad_map + 1))
				fail_note "the map after a kill during $L's renewal: $(tr '\n' ';' <<<"$out")"
			fi
		fi
		case $mside in old) map_old=$((map_old + 1)) ;; new | mixed) map_new=$((map_new + 1)) ;; esac
		if ! cmp -s "$MAP" "$REF/new.src" || ! cmp -s "$DCF" "$REF/new.dc"; then
			bad_src=$((bad_src + 1))
			fail_note "the map source or the include changed during $L's renewal"
		fi
		out=$(aux check "$OUT" "$REF/old" "$REF/new" "kill")
		if [ -n "$(sed 1d <<<"$out")" ] ||
			[[ $out != *' state=old '* && $out != *' state=new '* ]]; then
			bad_files=$((bad_files + 1))
			fail_note "$(tr '\n' ';' <<<"$out")"
		fi
		cls="kill=$how path=$path map=$mside ${out%%$'\n'*}"
		tally "$cls"

		# the repair: the next run, nothing done by hand
		rargs=(-v resync --lineage "$L")
		if ((k % 5 == 0)); then
			rargs=(-v resync) nfull=$((nfull + 1))
		elif [[ $cls == *tmp=*served* ]]; then
			nleft=$((nleft + 1))	# the --lineage run must remove it
		fi
		repair "$WD/conf.json" $((k % 5 == 4)) "${rargs[@]}"
	done
	now_us
	echo "# renewal path: $nkilled kills ($ntemp as soon as L's served temp file" \
		"appeared, $nmapk as soon as the map was written), $nlate runs" \
		"finished before their kill, $nrepair repairs ($nfull full), in" \
		"$(((NOW - loop_start) / 1000000)) s; a run took $((DD[r] / 1000)) ms," \
		"its served file written after $((WS[r] / 1000)) ms"
	echo "# what the kills left (kill instant in % of a run):"
	print_tally TALLY TMIN TMAX
	t_eq "renewal path: $RKILLS kills landed in a running resync --lineage" \
		"$nkilled" "$RKILLS"
	t_eq "renewal path: every clean resync --lineage of a renewal took the renewal path and served the tree's new pair, in the map and the served file ($((k - 1)) runs)" \
		"$bad_clean" 0
	t_eq "renewal path: every run killed or not that got as far as choosing took the renewal path ($npath of $((nkilled + nlate)))" \
		"$bad_path $((npath > 0))" "0 1"
	t_eq "renewal path: kills landed before the lineage's map entries changed ($map_old) and after ($map_new)" \
		"$((map_old > 0 && map_new > 0))" 1
	t_eq "renewal path: kills left the lineage's served temp file for a --lineage repair to remove ($nleft)" \
		"$((nleft > 0))" 1
	t_eq "renewal path: after every kill postmap -F -s printed each entry of the lineage's names old or new, every other entry unchanged" \
		"$bad_map" 0
	t_eq "renewal path: after every kill the map source and the include were unchanged" \
		"$bad_src" 0
	t_eq "renewal path: after every kill each served file held its lineage's old or new pair whole, each served file named by the include, the map source or the state existed, the state database opened and held the old or the new state" \
		"$bad_files" 0
	t_eq "renewal path: every repair (resync --lineage, one in five a full resync) and every run the kill came too late for exited 0 and left what the clean run left: map, source, include, served files, state" \
		"$bad_repair" 0
	t_eq "renewal path: no temp file survived a completed run, served ones included" \
		"$bad_tmp" 0
	t_eq "renewal path: after every completed run each service's last reload saw its current files" \
		"$bad_reload" 0
	t_eq "renewal path: a full resync after a --lineage repair changed nothing ($nidem runs)" \
		"$bad_idem" 0
	for f in "${FAILS[@]}"; do echo "# $f"; done
	RSUM="$nkilled kills and $nrepair repairs of the renewal path"
}
RSUM="no renewal path phase"
if renew_prepare; then
	renew_loop
else
	t_fail "renewal path: setup of tree R"
fi
echo "# total $(since "$T_START"): ${SUM[nkilled]} kills, ${SUM[nrepair]} repairs; $RSUM"
t_done
