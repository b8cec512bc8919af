#!/usr/bin/env bash
# systemd.sh - deploy/systemd and `make install`:
#   1. make install PREFIX=... SYSCONFDIR=... puts the five binaries, the
#      three units (paths filled in) and satisfy.env in place, and keeps an
#      existing satisfy.env; DESTDIR is honoured;
#   2. systemd-analyze verify passes on every unit, silently (a misspelt key
#      or a missing binary is output, hence a failure), and
#      systemd-analyze security rates each unit's hardening "OK" (<= 2.0);
#   3. the units run, as systemd would expand them (EnvironmentFile order,
#      %i %t %S, ${VAR} and $VAR): satisfy-broker's ExecStart, then its
#      ExecStartPost, which must write broker.env with the broker's address;
#      then satisfy-retrainer and satisfy-scorer@0 and @1 whose satisfy.env
#      names a dead broker, so they only work if broker.env overrides it;
#      each flag is checked against the binary's --help, the scorers answer
#      /healthz on their per-instance ports (scorer-1.env), the retrainer
#      writes its stats into the StateDirectory, and all stop cleanly on SIGTERM.
source "$(dirname "$0")/lib.bash"
command -v systemd-analyze >/dev/null || die "systemd-analyze missing: apt-get install systemd"
build="${SATISFY_BUILD_DIR:-$(dirname "$bin")}"

# ---- 1. make install ------------------------------------------------------------
prefix="$work/prefix" etc="$work/etc"
# -o build: install what this build made, never rebuild (an ASan tree stays one)
make -s -C "$src" -o build install BUILD="$build" PREFIX="$prefix" SYSCONFDIR="$etc" >"$work/install.log" 2>&1 ||
  die "make install failed: $(tail -5 "$work/install.log")"
for b in satisfy-broker satisfy-producer satisfy-scorer satisfy-retrainer satisfy-datagen; do
  [ -x "$prefix/bin/$b" ] || die "make install: $prefix/bin/$b missing"
done
units="$prefix/lib/systemd/system"
for u in satisfy-broker.service satisfy-retrainer.service satisfy-scorer@.service; do
  [ -f "$units/$u" ] || die "make install: $units/$u missing"
  grep -q '@[A-Z]*@' "$units/$u" && die "make install: $u still has a placeholder: $(grep '@[A-Z]*@' "$units/$u")"
  grep -q "^ExecStart=$prefix/bin/" "$units/$u" || die "make install: $u's ExecStart is not under $prefix/bin"
done
[ "$(stat -c %a "$etc/satisfy/satisfy.env")" = 600 ] || die "satisfy.env is not mode 0600"
echo "# kept" >>"$etc/satisfy/satisfy.env"
make -s -C "$src" -o build install BUILD="$build" PREFIX="$prefix" SYSCONFDIR="$etc" >>"$work/install.log" 2>&1 ||
  die "second make install failed"
tail -1 "$etc/satisfy/satisfy.env" | grep -q '^# kept$' || die "make install overwrote an existing satisfy.env"
make -s -C "$src" -o build install BUILD="$build" DESTDIR="$work/dest" PREFIX=/usr >>"$work/install.log" 2>&1 ||
  die "make install DESTDIR=... failed"
[ -x "$work/dest/usr/bin/satisfy-scorer" ] && [ -f "$work/dest/etc/satisfy/satisfy.env" ] &&
  grep -q '^ExecStart=/usr/bin/satisfy-scorer ' "$work/dest/usr/lib/systemd/system/satisfy-scorer@.service" ||
  die "make install DESTDIR=$work/dest PREFIX=/usr: files not where expected"
echo "make install: binaries, units and satisfy.env in place (PREFIX, SYSCONFDIR, DESTDIR)"

# ---- 2. systemd-analyze -------------------------------------------------------------
cp "$units/satisfy-scorer@.service" "$work/satisfy-scorer@0.service"
for u in "$units/satisfy-broker.service" "$units/satisfy-retrainer.service" "$work/satisfy-scorer@0.service"; do
  out=$(systemd-analyze verify "$u" 2>&1) || die "systemd-analyze verify $(basename "$u"): $out"
  [ -z "$out" ] || die "systemd-analyze verify $(basename "$u") complains: $out"
  sec=$(systemd-analyze security --offline=true --threshold=20 "$u" 2>&1) ||
    die "systemd-analyze security $(basename "$u"): exposure above 2.0: $(echo "$sec" | tail -1)"
  echo "verify ok, $(echo "$sec" | grep 'Overall exposure' | sed 's/^.*exposure level for //')"
done
# negative control: a misspelt key is reported
sed 's/^ProtectHome=yes/ProtectHomee=yes/' "$units/satisfy-retrainer.service" >"$work/satisfy-retrainer.service"
[ -n "$(systemd-analyze verify "$work/satisfy-retrainer.service" 2>&1)" ] ||
  die "negative control: systemd-analyze verify said nothing about ProtectHomee"

# ---- 3. run the units as systemd would ------------------------------------------------
hport=$(free_port)
hport1=$(free_port)
# the settings file as installed, with a dead broker and this test's ports
sed -e 's/^SATISFY_BROKERS=.*/SATISFY_BROKERS=127.0.0.1:1/' -e "s/^SATISFY_HTTP=.*/SATISFY_HTTP=127.0.0.1:$hport/" \
  -e 's/^SATISFY_BROKER_OPTS=.*/SATISFY_BROKER_OPTS=--partitions 4/' \
  -e 's/^SATISFY_RETRAINER_OPTS=.*/SATISFY_RETRAINER_OPTS=--retrain-every 2000 --min-reviews 500 --threads 1/' \
  "$etc/satisfy/satisfy.env" >"$work/satisfy.env.new" && mv "$work/satisfy.env.new" "$etc/satisfy/satisfy.env"
echo "SATISFY_HTTP=127.0.0.1:$hport1" >"$etc/satisfy/scorer-1.env"
mkdir -p "$work/run/satisfy-broker" "$work/state/satisfy" "$work/logs"

"$PY" - "$src/tests/deploy" "$bin" "$units" "$work" "$hport" "$hport1" <<'PYEOF' || die "the units do not run as installed"
import configparser, os, re, subprocess, sys, time, urllib.request
sys.path.insert(0, sys.argv[1])
import cmdcheck as cc
bin_dir, units, work, ports = sys.argv[2], sys.argv[3], sys.argv[4], (sys.argv[5], sys.argv[6])

def unit(name):
    # systemd allows repeated keys (EnvironmentFile=, SystemCallFilter=): keep all
    entries = []
    for line in open(os.path.join(units, name)):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line.rstrip("\n"))
        if m:
            entries.append((m.group(1), m.group(2)))
    return entries

def spec(s, inst):
    s = s.replace("%%", "\0").replace("%i", inst).replace("%t", work + "/run").replace("%S", work + "/state")
    if "%" in s:
        raise SystemExit("FAIL: unhandled specifier in %r" % s)
    return s.replace("\0", "%")

def environment(entries, inst):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k, v in entries:
        if k == "EnvironmentFile":
            optional = v.startswith("-")
            path = spec(v.lstrip("-"), inst)
            if os.path.exists(path):
                env.update(cc.read_env_file(path))
            elif not optional:
                raise SystemExit("FAIL: EnvironmentFile %s missing" % path)
        elif k == "Environment":
            a, _, b = v.partition("=")
            env[a] = b
    return env

def command(entries, key, inst, env):
    return [cc.split_systemd(spec(v, inst), env) for k, v in entries if k == key]

errs = []
def flags(name, argv):
    e = cc.check([os.path.basename(argv[0])] + argv[1:], bin_dir)
    errs.extend("%s: %s" % (name, x) for x in e)
    print("  %s: %s" % (name, " ".join(argv)))

# the broker, then its ExecStartPost
b = unit("satisfy-broker.service")
benv = environment(b, "")
[bargv] = command(b, "ExecStart", "", benv)
flags("satisfy-broker.service", bargv)
broker = cc.start("broker", bargv, benv, work + "/logs")
for post in command(b, "ExecStartPost", "", benv):
    rc = subprocess.run(post, env=benv, timeout=30).returncode
    if rc != 0:
        raise SystemExit("FAIL: satisfy-broker ExecStartPost exited %d: %s" % (rc, post))
bootstrap = open(work + "/logs/broker.out").readline().strip()
got = cc.read_env_file(work + "/run/satisfy-broker/broker.env")
if got.get("SATISFY_BROKERS") != bootstrap or not bootstrap.startswith("127.0.0.1:"):
    raise SystemExit("FAIL: broker.env %r does not name the broker %r" % (got, bootstrap))
print("  broker.env: SATISFY_BROKERS=%s" % bootstrap)

procs = []
r = unit("satisfy-retrainer.service")
renv = environment(r, "")
[rargv] = command(r, "ExecStart", "", renv)
flags("satisfy-retrainer.service", rargv)
procs.append(cc.start("retrainer", rargv, renv, work + "/logs"))
for inst in ("0", "1"):
    s = unit("satisfy-scorer@.service")
    senv = environment(s, inst)
    [sargv] = command(s, "ExecStart", inst, senv)
    flags("satisfy-scorer@%s.service" % inst, sargv)
    if "--brokers" not in sargv or sargv[sargv.index("--brokers") + 1] != bootstrap:
        errs.append("satisfy-scorer@%s does not take the embedded broker from broker.env" % inst)
    if sargv[sargv.index("--instance-id") + 1] != inst:
        errs.append("satisfy-scorer@%s: --instance-id is not the instance name" % inst)
    procs.append(cc.start("scorer-" + inst, sargv, senv, work + "/logs"))

# the scorers answer on their own ports; the retrainer writes its stats
for inst, port in zip(("0", "1"), ports):
    ok = False
    for _ in range(100):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=2) as resp:
                ok = resp.status == 200
                break
        except Exception:
            time.sleep(0.1)
    if not ok:
        errs.append("satisfy-scorer@%s: no /healthz on 127.0.0.1:%s" % (inst, port))
stats = work + "/state/satisfy/retrainer.json"
for _ in range(100):
    if os.path.exists(stats):
        break
    time.sleep(0.1)
else:
    errs.append("satisfy-retrainer: no %s (StateDirectory, %%S)" % stats)
errs += cc.finish(procs, grace=2.0, stop_timeout=90)
errs += cc.finish([broker], grace=0, stop_timeout=15)
for e in errs:
    print("  FAIL: " + e)
sys.exit(1 if errs else 0)
PYEOF
echo "systemd: units verified, hardened, and run as installed"
