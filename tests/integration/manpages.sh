# manpages.sh - snisync(8) and snisync.json(5) are clean under
# `mandoc -Tlint`, have the sections they need, and stay in step with the
# binary: every command and option its --help texts list is documented,
# every documented command and option exists; every configuration key the
# page documents is accepted with its documented type and range, and every
# key conf.c accepts is documented; the page's examples load; the status
# JSON schema and the metrics are the ones the binary writes; `make
# install` puts both pages in place.
. "$(dirname "$0")/../lib/common.sh"
. "$T_TOP/tests/lib/certs.sh"
. "$T_TOP/tests/lib/tree.sh"

P8=$T_TOP/docs/snisync.8
P5=$T_TOP/docs/snisync.json.5
t_tmpdir T

# ---- a small mdoc reader (python3), used by everything below ----
cat >"$T/mdoc.py" <<'PY'
import json, re, sys

def lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")

def unesc(s):
    return (s.replace("\\(dq", '"').replace("\\e", "\\")
             .replace("\\&", "").replace("\\-", "-"))

def section(ls, name):
    """The lines of .Sh NAME, without the .Sh line."""
    out, on = [], False
    for l in ls:
        if l.startswith(".Sh "):
            on = l[4:].strip() == name
            continue
        if on:
            out.append(l)
    return out

def literal_blocks(ls):
    """(index of .Bd line, [text lines]) for every .Bd -literal."""
    out, cur, start = [], None, 0
    for i, l in enumerate(ls):
        if l.startswith(".Bd -literal"):
            cur, start = [], i
        elif l.startswith(".Ed") and cur is not None:
            out.append((start, [unesc(x) for x in cur]))
            cur = None
        elif cur is not None:
            cur.append(l)
    return out

MACROS = set("Ar Brq Cm Dq Dv Em Ev Fl Ic Li No Ns Pa Pc Po Pq Ql Sx Va "
              "Xr".split())

def plain(chunk):
    """Rough text of mdoc lines: macro names dropped."""
    words = []
    for l in chunk:
        ws = l.split()
        if l.startswith("."):
            ws = [w for w in ws[1:] if w not in MACROS]
        words += [unesc(w) for w in ws]
    return " ".join(words)

def entries(ls, macro):
    """Entries of .It MACRO NAME in tag lists: (path, depth, body lines).
    path: the names of the enclosing .It MACRO entries, then NAME."""
    out, depth, stack = [], 0, {}
    cur = None
    for l in ls:
        if l.startswith(".Bl"):
            depth += 1
        elif l.startswith(".El"):
            stack = {d: v for d, v in stack.items() if d < depth}
            depth -= 1
            cur = None
            continue
        if l.startswith(".It"):
            m = re.match(r"\.It %s (\S+)" % macro, l)
            stack = {d: v for d, v in stack.items() if d < depth}
            if m:
                stack[depth] = m.group(1)
                path = [stack[d] for d in sorted(stack)]
                cur = (path, depth, [l])
                out.append(cur)
            else:
                stack[depth] = None
                cur = None
            continue
        if cur is not None:
            if l.startswith(".Bl"):
                cur = None
            else:
                cur[2].append(l)
    return [(p, d, b) for p, d, b in out if None not in p]

def entry_chunk(ls, head):
    """Lines of the .It entry whose line starts with head, up to the next
    .It of the same list or the end of that list."""
    depth, start, out = 0, None, []
    for l in ls:
        if start is None:
            if l.startswith(".Bl"):
                depth += 1
            elif l.startswith(".El"):
                depth -= 1
            elif l == head or l.startswith(head + " "):
                start = depth
                out.append(l)
                inner = 0
            continue
        if l.startswith(".Bl"):
            inner += 1
        elif l.startswith(".El"):
            if inner == 0:
                break
            inner -= 1
        elif l.startswith(".It") and inner == 0:
            break
        out.append(l)
    return out

def cmd():
    op, path = sys.argv[1], sys.argv[2]
    ls = lines(path)
    if op == "sections":
        for l in ls:
            if l.startswith(".Sh "):
                print(l[4:].strip())
    elif op == "dt":
        print(next(l[4:] for l in ls if l.startswith(".Dt ")))
    elif op == "synopsis-cmds":
        for l in section(ls, "SYNOPSIS"):
            m = re.match(r"\.Cm (\S+)$", l)
            if m:
                print(m.group(1))
    elif op == "synopsis":
        # The SYNOPSIS lines of command argv[3], from .Cm to the next .Nm.
        on = False
        for l in section(ls, "SYNOPSIS"):
            if l.startswith(".Nm"):
                on = False
            if l == ".Cm " + sys.argv[3]:
                on = True
            if on:
                print(l)
    elif op == "entry":
        print("\n".join(entry_chunk(section(ls, "DESCRIPTION"),
                                    sys.argv[3])))
    elif op == "xrefs":
        for l in ls:
            for m in re.finditer(r"\.?Xr (\S+) (\d)", l):
                print(m.group(1), m.group(2))
    elif op == "keys":
        for p, d, b in entries(section(ls, "DESCRIPTION"), "Cm"):
            print(".".join(p))
    elif op == "cases":
        # One JSON line per documented key: its path, a kind read from the
        # start of its text, the range or values it documents.
        for p, d, b in entries(section(ls, "DESCRIPTION"), "Cm"):
            text = plain(b[1:])
            k = {"key": ".".join(p)}
            m = re.match(r"An integer from (\d+) to (\d+)(, or null)?", text)
            if m:
                k.update(kind="int-or-null" if m.group(3) else "int",
                         lo=int(m.group(1)), hi=int(m.group(2)))
            elif text.startswith("A path or null"):
                k["kind"] = "path-or-null"
            elif text.startswith("A path"):
                k["kind"] = "path"
            elif text.startswith("A command"):
                k["kind"] = "command"
            elif text.startswith("An array of host names"):
                k["kind"] = "names"
            elif text.startswith("An array of endpoints"):
                k["kind"] = "endpoints"
            elif text.startswith("An array of sources"):
                k["kind"] = "sources"
            elif text.startswith("A boolean"):
                k["kind"] = "bool"
            elif text.startswith("An object, or null"):
                k["kind"] = "object-or-null"
            elif text.startswith("An object"):
                k["kind"] = "object"
            elif b[1].startswith(".Dq "):
                vals = []
                for l in b[1:]:
                    if not l.startswith(".Dq "):
                        if l.startswith("default"):
                            break
                        continue
                    vals.append(l.split()[1])
                k.update(kind="enum", values=vals)
            else:
                k["kind"] = "unknown: " + text[:40]
            print(json.dumps(k))
    elif op == "defaults":
        # The literal block after "every key at its default".
        mark = next(i for i, l in enumerate(ls)
                    if "every key at its default" in l)
        for start, text in literal_blocks(ls):
            if start > mark:
                print("\n".join(text))
                break
    elif op == "examples":
        # Every JSON block of EXAMPLES (first line that is not a comment
        # starts with "{"), written to argv[3]/exN.json.
        n = 0
        for start, text in literal_blocks(section(ls, "EXAMPLES")):
            body = [t for t in text if t.strip() and
                    not t.lstrip().startswith("#")]
            if body and body[0].lstrip().startswith("{"):
                n += 1
                f = "%s/ex%d.json" % (sys.argv[3], n)
                with open(f, "w") as o:
                    o.write("\n".join(text) + "\n")
                print(f)
    elif op == "status-example":
        desc = section(ls, "DESCRIPTION")
        mark = desc.index(".Ss Status JSON")
        for start, text in literal_blocks(desc):
            if start > mark:
                print("\n".join(text))
                break
    elif op == "status-columns":
        chunk = entry_chunk(section(ls, "DESCRIPTION"), ".It Cm status")
        for l in chunk:
            m = re.match(r"\.It ([A-Z][A-Z ]*[A-Z])$", l)
            if m:
                print(m.group(1))
    elif op == "metrics":
        for p, d, b in entries(section(ls, "DESCRIPTION"), "Va"):
            kind = plain(b[1:]).split(":")[0].lower()
            print(p[-1], kind)

cmd()
PY
md() { python3 "$T/mdoc.py" "$@"; }

# ---- mandoc -Tlint ----
if ! command -v mandoc >/dev/null; then
	t_fail "mandoc is not installed (make deps installs it)"
	exit 1
fi
for p in "$P8" "$P5"; do
	n=$(basename "$p")
	out=$(cd "$T" && mandoc -Tlint -W warning "$p" 2>&1)
	t_eq "mandoc -Tlint -W warning $n prints nothing" "$out" ""
	# At the default level (style) mandoc also looks every .Xr up in this
	# host's manual database; those lines are about the host, not the page.
	all=$(cd "$T" && mandoc -Tlint "$p" 2>&1)
	host=$(printf '%s\n' "$all" | grep -cE \
		'referenced manual not found: Xr |outdated mandoc\.db lacks .* entry')
	rest=$(printf '%s\n' "$all" | grep -vE \
		'referenced manual not found: Xr |outdated mandoc\.db lacks .* entry' |
		grep -v '^$')
	t_eq "mandoc -Tlint $n prints nothing ($host lines about this host's manual database ignored)" \
		"$rest" ""
done
# The pages' references to each other resolve in docs/.
for p in "$P8" "$P5"; do
	while read -r name sec; do
		case $name in snisync*) ;; *) continue ;; esac
		t_check "$(basename "$p"): Xr $name $sec is docs/$name.$sec" \
			test -f "$T_TOP/docs/$name.$sec"
	done < <(md xrefs "$p" | sort -u)
done

# ---- sections ----
t_eq "snisync.8: .Dt" "$(md dt "$P8")" "SNISYNC 8"
t_eq "snisync.json.5: .Dt" "$(md dt "$P5")" "SNISYNC.JSON 5"
secs8=$(md sections "$P8")
for s in NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	t_check "snisync.8 has section $s" grep -qxF "$s" <<<"$secs8"
done
secs5=$(md sections "$P5")
for s in NAME DESCRIPTION FILES EXAMPLES "SEE ALSO"; do
	t_check "snisync.json.5 has section $s" grep -qxF "$s" <<<"$secs5"
done
t_check "snisync.8 has a Status JSON subsection" grep -qx '\.Ss Status JSON' "$P8"

# ---- commands and options: --help texts against snisync.8 ----
help=$("$SNISYNC" --help)
t_eq "snisync --help exits 0" "$?" 0
cmds=$(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' |
	sed -n 's/^  \([a-z][a-z-]*\).*/\1/p')
t_match "snisync --help lists commands ($(echo $cmds))" "$(echo $cmds)" 'resync'
for c in $cmds; do
	t_check "snisync.8: command $c is described (.It Cm $c)" \
		grep -qE "^\.It Cm $c( |\$)" "$P8"
	t_check "snisync.8: command $c is in the SYNOPSIS" \
		grep -qxF "$c" <<<"$(md synopsis-cmds "$P8")"
	chelp=$("$SNISYNC" "$c" --help 2>&1)
	t_eq "snisync $c --help exits 0" "$?" 0
	entry=$(md entry "$P8" ".It Cm $c")
	syn=$(md synopsis "$P8" "$c")
	for o in $(printf '%s\n' "$chelp" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		[ "$o" = --help ] && continue
		# mdoc: "Fl -json" prints --json.
		t_check "snisync.8: $c option $o has an item under $c" \
			grep -qE -- "^\.It (Fl .* , )?Fl ${o#-}( |\$)" <<<"$entry"
		t_check "snisync.8: $c option $o is in the SYNOPSIS" \
			grep -qE -- "Fl ${o#-}( |\$)" <<<"$syn"
	done
	for s in $(printf '%s\n' "$chelp" | sed -n 's/^ *-\([a-zA-Z]\), --.*/\1/p'); do
		[ "$s" = h ] && continue
		t_check "snisync.8: $c short option -$s has an item under $c" \
			grep -qE -- "^\.It Fl $s( |\$)" <<<"$entry"
	done
done
# The other way: what the page documents exists.
for c in $(md synopsis-cmds "$P8"); do
	chelp=$("$SNISYNC" "$c" --help 2>&1)
	t_eq "documented command $c exists (snisync $c --help exits 0)" "$?" 0
	for o in $(md synopsis "$P8" "$c" | grep -oE -- 'Fl -[a-z][a-z-]*' | sed 's/^Fl /-/'); do
		t_check "documented option $c $o is in snisync $c --help" \
			grep -qE -- "$o([^a-z-]|\$)" <<<"$chelp"
	done
done
# Global options.
opts=$(printf '%s\n' "$help" | sed -n '/^Options:/,/^$/p')
for pair in $(printf '%s\n' "$opts" | sed -n 's/^ *-\([a-zA-Z]\), \(--[a-z][a-z-]*\).*/\1\2/p'); do
	s=${pair%%--*}
	l=--${pair#*--}
	t_check "snisync.8: global option -$s, $l is described" \
		grep -qE -- "^\.It Fl $s( Ar [a-z]+)? , Fl ${l#-}( |\$)" "$P8"
done
t_match "snisync --help lists global options" "$opts" '--config'
# Exit statuses of the main usage text are all in EXIT STATUS.
for n in $(printf '%s\n' "$help" | sed -n '/^Exit status:/,$p' | sed -n 's/^  \([0-9]\)  .*/\1/p'); do
	t_check "snisync.8: exit status $n is described" \
		grep -qx "\.It $n" "$P8"
done

# ---- configuration keys: snisync.json.5 against the binary ----
mkdir -p "$T/le/live" "$T/cf"
keys_all=$(md keys "$P5")
# The keys of each object in "sources" are documented under it; they are
# no object keys of the file (not in the defaults, not tried alone).
keys=$(grep -v '^sources\.' <<<"$keys_all")
t_match "snisync.json.5 documents keys" "$(echo $keys)" 'letsencrypt_dir'
md defaults "$P5" >"$T/defaults.json"
python3 - "$T/defaults.json" >"$T/defaults.keys" <<'PY'
import json, sys
def walk(o, pre):
    for k, v in o.items():
        yield pre + k
        if isinstance(v, dict):
            yield from walk(v, pre + k + ".")
print("\n".join(sorted(walk(json.load(open(sys.argv[1])), ""))))
PY
t_eq "the all-defaults example parses as JSON" "$?" 0
t_eq "the all-defaults example holds exactly the documented keys" \
	"$(sort <<<"$keys" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/defaults.keys")"
# All keys at their documented defaults (the tree and state made private).
python3 - "$T/defaults.json" "$T/le" "$T/st" >"$T/cf/all.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["letsencrypt_dir"], c["state_dir"] = sys.argv[2], sys.argv[3]
print(json.dumps(c, indent=1))
PY
"$SNISYNC" -c "$T/cf/all.json" check >/dev/null 2>"$T/err"
rc=$?
t_check "every documented key at its documented default is accepted (check exits $rc, wanted anything but 3) $(head -c 300 "$T/err")" \
	test "$rc" != 3
# Every key conf.c compares against is documented (catches a key that is
# accepted but not documented).
src=$(grep -ohE 'strcmp\(k, "[a-z_0-9]+"\)' "$T_TOP/agent/conf.c" |
	sed 's/.*"\(.*\)".*/\1/' | sort -u)
t_check "conf.c: found the accepted keys ($(echo $src | wc -w))" \
	test "$(echo $src | wc -w)" -ge 10
leaves=$(sed 's/.*\.//' <<<"$keys_all" | sort -u)
for k in $src; do
	t_check "key \"$k\" accepted by conf.c is documented in snisync.json.5" \
		grep -qxF "$k" <<<"$leaves"
done
# A misspelled key is refused at every level, with file:line:column.
for base in '{"%s": 1}' '{"postfix": {"%s": 1}}' '{"dovecot": {"%s": 1}}' \
	'{"watch": {"%s": 1}}'; do
	printf "$base\n" "no_such_key" >"$T/cf/typo.json"
	"$SNISYNC" -c "$T/cf/typo.json" check >/dev/null 2>"$T/err"
	rc=$?
	t_eq "misspelled key in $(printf "$base" x) exits 3" "$rc" 3
	t_check "... reported as file:line:column" \
		grep -qE "typo\.json:[0-9]+:[0-9]+: unknown key" "$T/err"
done
# Each documented key with its documented type, range or values: what the
# page allows loads (exit not 3), what it rules out is a config error.
md cases "$P5" >"$T/cases"
python3 - "$T/cases" "$T/le" "$T/st" "$T/cf" >"$T/cases.run" <<'PY'
import json, sys
cases, le, st, out = sys.argv[1:5]
n = 0
def conf(key, value):
    c = {"letsencrypt_dir": le, "state_dir": st}
    parts = key.split(".")
    o = c
    for p in parts[:-1]:
        o = o.setdefault(p, {})
    o[parts[-1]] = value
    return c
for line in open(cases):
    k = json.loads(line)
    key, kind = k["key"], k["kind"]
    if key.startswith("sources."):
        continue
    if kind == "int":
        good = [k["lo"], k["hi"]]
        bad = [k["lo"] - 1, k["hi"] + 1, str(k["lo"])]
    elif kind == "int-or-null":
        good = [k["lo"], k["hi"], None]
        bad = [k["lo"] - 1, k["hi"] + 1, str(k["lo"])]
    elif kind == "path":
        good = [le if key == "letsencrypt_dir" else
                "/tmp/snisync-doc-test/a.b_c-d+e@f/x"]
        bad = ["relative/path", "/with space", "/a/../b", 1, None]
    elif kind == "path-or-null":
        good = [None, "/tmp/snisync-doc-test/x.prom"]
        bad = ["relative.prom", "/a b", 1]
    elif kind == "command":
        good = [["true"], None, []]
        bad = ["true", [""], [1]]
    elif kind == "bool":
        good = [True, False]
        bad = [1, "true", None]
    elif kind == "sources":
        good = [[], [{"type": t, "dir": "/tmp/snisync-doc-test/" + t}
                     for t in ("dehydrated", "lego", "acme.sh", "kubernetes")],
                [{"type": "lego", "dir": "/a", "name": "lego-2.x_y"},
                 {"type": "lego", "dir": "/b"}]]
        bad = [[{"type": "certbot", "dir": "/a"}], [{"type": "lego"}],
               [{"dir": "/a"}], [{"type": "lego", "dir": "rel"}],
               [{"type": "lego", "dir": "/a", "name": "Lego"}],
               [{"type": "lego", "dir": "/a"}, {"type": "lego", "dir": "/b"}],
               [{"type": "lego", "dir": "/a", "x": 1}], [1], {}, None]
    elif kind == "endpoints":
        good = [[], ["smtp:25", "tls:465", "imap:143", "pop3:110", "tls:65535"]]
        bad = [["smtps:465"], ["smtp:0"], ["smtp:65536"], ["smtp"], "smtp:25", [25], None]
    elif kind == "names":
        good = [[], ["mail.example.test", "*.Example.test"]]
        bad = [["bad name"], ["a..b"], "mail.example.test", [1], None]
    elif kind == "object-or-null":
        good = [None, {}]
        bad = [1, "x", []]
    elif kind == "object":
        good = [{}]
        bad = [None, 1, []]
    elif kind == "enum":
        good = k["values"]
        bad = ["9.9", 2.3, None]
    else:
        print("unknown\t%s\t%s\t-" % (key, kind))
        continue
    for want, vals in (("ok", good), ("bad", bad)):
        for v in vals:
            n += 1
            f = "%s/case%d.json" % (out, n)
            json.dump(conf(key, v), open(f, "w"))
            print("%s\t%s\t%s\t%s" % (want, key, json.dumps(v), f))
PY
t_check "documented keys all have a type the test understands" \
	test "$(grep -c '^unknown' "$T/cases.run")" = 0
grep '^unknown' "$T/cases.run" | sed 's/^/# /'
for key in $(cut -f2 "$T/cases.run" | grep -v '^$' | uniq); do
	bad=""
	n=0
	while IFS=$'\t' read -r want k v f; do
		[ "$k" = "$key" ] || continue
		[ "$want" = unknown ] && continue
		n=$((n + 1))
		"$SNISYNC" -c "$f" check >/dev/null 2>&1
		rc=$?
		if [ "$want" = ok ] && [ "$rc" = 3 ]; then
			bad="$bad refused $v;"
		elif [ "$want" = bad ] && [ "$rc" != 3 ]; then
			bad="$bad accepted $v (exit $rc);"
		fi
	done <"$T/cases.run"
	kind=$(grep -F "\"key\": \"$key\"" "$T/cases" | head -1)
	[ "$n" -gt 0 ] || bad="no case to try;"
	t_eq "$key: the binary takes what snisync.json.5 documents ($n cases: $kind)" \
		"$bad" ""
done
# The examples of snisync.json.5 load.
mkdir -p "$T/ex"
exs=$(md examples "$P5" "$T/ex")
t_check "snisync.json.5 has at least 3 JSON examples ($(echo $exs | wc -w))" \
	test "$(echo $exs | wc -w)" -ge 3
t_check "an example turns Postfix off" grep -q '"postfix": null' $exs
t_check "an example reloads through docker exec" \
	grep -qF '["docker", "exec", "postfix", "postfix", "reload"]' $exs
t_check "an example sets metrics_file" grep -q '"metrics_file": "/' $exs
for f in $exs; do
	"$SNISYNC" -c "$f" check >/dev/null 2>"$T/err"
	rc=$?
	t_check "example $(basename "$f") ($(grep -v '^#' "$f" | tr -d '\n' | tr -s ' ' | head -c 60)...) loads (check exits $rc, wanted anything but 3)" \
		test "$rc" != 3
	t_check "... with no error about the file" \
		eval "! grep -qF '$f' '$T/err'"
done

# ---- status and metrics: the documented schema is the one written ----
# Before the first sync.
cat >"$T/cf/run.json" <<EOF
{"letsencrypt_dir": "$T/le", "state_dir": "$T/st", "postfix": null,
 "dovecot": null, "metrics_file": "$T/prom/snisync.prom"}
EOF
mkdir -p "$T/prom"
out=$("$SNISYNC" -c "$T/cf/run.json" status 2>&1)
t_eq "status before the first sync exits 0 ($out)" "$?" 0
"$SNISYNC" -c "$T/cf/run.json" status --json >"$T/s0.json" 2>"$T/err"
t_eq "status --json before the first sync exits 0" "$?" 0
t_eq "status --json before the first sync: names and errors empty, last_sync null" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("names"), d.get("errors"), d.get("last_sync", "missing"))' "$T/s0.json" 2>&1)" \
	"[] [] None"
# One valid lineage, one with another lineage's key.
tree_leaf "$T/le" "$T/ca" good.example.test ec256 good.example.test \
	'*.good.example.test' || t_fail "fixture: good lineage"
certs_leaf "$T/ca" "$T/m" ec256 bad.example.test &&
	certs_leaf "$T/ca" "$T/o" ec256 other.example.test &&
	lineage_add "$T/le" bad.example.test "$T/o.key" "$T/m.crt" "$T/m.chain" ||
	t_fail "fixture: mismatched lineage"
"$SNISYNC" -c "$T/cf/run.json" resync >/dev/null 2>"$T/err"
t_eq "resync with a rejected lineage exits 1" "$?" 1
"$SNISYNC" -c "$T/cf/run.json" status >"$T/s1.txt" 2>&1
t_eq "status with a failing lineage exits 1, as documented" "$?" 1
cols=$(md status-columns "$P8" | tr '\n' '|')
hdr=$(grep -m1 'NAME' "$T/s1.txt")
t_match "status table header has the documented columns ($cols)" "$hdr" \
	"^$(md status-columns "$P8" | tr '\n' ' ' | sed 's/ $//; s/ /.*/g')"
"$SNISYNC" -c "$T/cf/run.json" status --json >"$T/s1.json" 2>"$T/err"
t_eq "status --json with a failing lineage exits 1" "$?" 1
md status-example "$P8" >"$T/status-doc.json"
cmp=$(python3 - "$T/status-doc.json" "$T/s1.json" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
try:
    got = json.load(open(sys.argv[2]))
except ValueError:
    print("top unreadable")
    sys.exit(0)
def keys(o):
    return sorted(o) if isinstance(o, dict) else type(o).__name__
out = []
def same(what, a, b):
    out.append("%s %s" % (what, "ok" if keys(a) == keys(b) else
               "differ: page %s, binary %s" % (keys(a), keys(b))))
same("top", doc, got)
same("names[]", doc["names"][0], (got.get("names") or [{}])[0])
same("errors[]", doc["errors"][0], (got.get("errors") or [{}])[0])
for s in ("postfix", "dovecot"):
    same("services." + s, doc["services"][s],
         got.get("services", {}).get(s, {}))
t = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
n = (got.get("names") or [{}])[0]
out.append("times %s" % ("ok" if all(isinstance(x, str) and t.match(x) for x in
           (got.get("generated_at"), got.get("last_sync"), n.get("not_after"),
            n.get("served_since"))) else "not RFC 3339 Z"))
out.append("schema %s" % got.get("schema"))
out.append("sorted %s" % ([x["name"] for x in got.get("names", [])] ==
           sorted(x["name"] for x in got.get("names", []))))
print("\n".join(out))
PY
)
while read -r what verdict; do
	case $what in
	schema) t_eq "status --json: schema" "$verdict" 1 ;;
	times) t_eq "status --json: times are UTC RFC 3339 with Z" "$verdict" ok ;;
	sorted) t_eq "status --json: names sorted" "$verdict" True ;;
	*) t_eq "status --json: $what members as in snisync.8 (Status JSON)" "$verdict" ok ;;
	esac
done <<<"$cmp"
# Metrics: the families written are the ones snisync.json.5 documents.
prom=$T/prom/snisync.prom
t_check "metrics_file written by resync" test -s "$prom"
t_eq "metrics_file mode" "$(stat -c %a "$prom" 2>/dev/null)" 644
docm=$(md metrics "$P5" | sort)
gotm=$(sed -n 's/^# TYPE \([^ ]*\) \([a-z]*\)$/\1 \2/p' "$prom" 2>/dev/null | sort)
t_check "snisync.json.5 documents metrics" test -n "$docm"
t_eq "metric families and types are the documented ones" \
	"$(echo $gotm)" "$(echo $docm)"

# ---- make install ----
make -s -C "$T_TOP" DESTDIR="$T/root" PREFIX=/usr install >/dev/null 2>"$T/make.err"
t_eq "make install succeeds ($(head -c 200 "$T/make.err"))" "$?" 0
t_check "installed: /usr/share/man/man8/snisync.8" \
	cmp -s "$P8" "$T/root/usr/share/man/man8/snisync.8"
t_check "installed: /usr/share/man/man5/snisync.json.5" \
	cmp -s "$P5" "$T/root/usr/share/man/man5/snisync.json.5"
t_eq "installed pages are mode 0644" \
	"$(stat -c %a "$T/root/usr/share/man/man8/snisync.8" "$T/root/usr/share/man/man5/snisync.json.5" 2>&1 | tr '\n' ' ')" \
	"644 644 "
make -s -C "$T_TOP" DESTDIR="$T/root" PREFIX=/usr uninstall >/dev/null 2>&1
t_check "make uninstall removes snisync.json.5" \
	test ! -e "$T/root/usr/share/man/man5/snisync.json.5"
t_check "make uninstall removes snisync.8" \
	test ! -e "$T/root/usr/share/man/man8/snisync.8"
t_done
