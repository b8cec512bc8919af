#!/usr/bin/env bash
# commands.sh - every command that deploy/compose.yaml and deploy/k8s give to
# a satisfy binary exists and runs, and the pieces around them fit:
#   1. `docker-compose config` (or `docker compose config`) accepts both
#      profiles (demo, kafka), with and without the host-network override,
#      and its output (variables interpolated, files merged) is what is checked;
#   2. the Kubernetes manifests render (`kubectl kustomize deploy/k8s`);
#   3. every Compose service and Kubernetes container running the satisfy
#      image runs a satisfy binary (through satisfy-launch or directly) with
#      options its --help lists; then each profile's commands run for real on
#      this machine, paths under a scratch root: the demo's own satisfy-broker
#      command first and the others finding it through its bootstrap file as
#      in the containers, the kafka profile's and the pods' workers against a
#      satisfy-broker instead of Kafka; each must start (no usage error) and
#      stop cleanly on SIGTERM; the pods' scorer answers its probes' paths;
#   4. the topic job (create-topics.sh, Compose `topics` and the k8s Job) runs
#      with a recording stand-in for kafka-topics.sh: exactly the topics the
#      code uses, satisfy.models compacted with one partition and room for a
#      large release, satisfy.history compacted with the partitions of
#      satisfy.orders, retention.ms=-1 on the stream topics;
#   5. Kubernetes wiring: Services and the PDB select the pods, probes and the
#      scrape annotation use the port --http listens on, every ConfigMap,
#      volume and claim referred to exists, the image tag is the project
#      version and the pods run as the image's user.
# The apache/kafka image and a cluster are not available here: the Kafka
# broker itself is not run (tests/deploy/image_e2e.sh runs the demo profile).
source "$(dirname "$0")/lib.bash"

if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  skip "neither docker-compose nor docker compose is installed (scripts/install-deps.sh test)"
fi
if command -v kubectl >/dev/null 2>&1; then
  kustomize=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then
  kustomize=(kustomize build)
else
  skip "neither kubectl nor kustomize is installed (scripts/install-deps.sh test)"
fi
d="$src/deploy"

# ---- 1, 2. render -----------------------------------------------------------------
for profile in demo kafka; do
  (cd "$d" && env -u OLIST_DIR "${compose[@]}" -p satisfy-check --profile "$profile" config) \
    >"$work/compose-$profile.yaml" 2>"$work/compose-$profile.err" ||
    die "compose config --profile $profile: $(cat "$work/compose-$profile.err")"
done
(cd "$d" && env -u OLIST_DIR SATISFY_HTTP_BIND=127.0.0.1 "${compose[@]}" -p satisfy-check -f compose.yaml \
  -f compose.host.yaml --profile demo config) >"$work/compose-host.yaml" 2>"$work/compose-host.err" ||
  die "compose config with compose.host.yaml: $(cat "$work/compose-host.err")"
"${kustomize[@]}" "$d/k8s" >"$work/k8s.yaml" 2>"$work/k8s.err" || die "kustomize deploy/k8s: $(cat "$work/k8s.err")"
echo "rendered: compose (demo, kafka, host override) with ${compose[*]}, k8s with ${kustomize[*]}"

# ---- 3-5 ---------------------------------------------------------------------------
"$bin/satisfy-datagen" --orders 300 --seed 3 --out "$work/olist" >/dev/null 2>&1 || die "satisfy-datagen failed"
version=$(sed -n 's/^project(satisfy VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
PATH="$bin:$d/bin:$PATH" "$PY" - "$src" "$bin" "$work" "$version" <<'PYEOF' || die "deployment commands"
import os, re, shutil, subprocess, sys, time, urllib.request
import yaml
src, bin_dir, work, version = sys.argv[1:5]
sys.path.insert(0, src + "/tests/deploy")
import cmdcheck as cc

errs = []
probes_for = {}  # container -> [(path, accepted statuses)] of its HTTP probes
def fail(msg):
    errs.append(msg)
    print("  FAIL: " + msg)

def satisfy_image(img):
    return img.split("/")[-1].split(":")[0] == "satisfy"

def env_list(e):  # compose environment: dict or ["K=V"]
    if isinstance(e, dict):
        return {k: "" if v is None else str(v) for k, v in e.items()}
    return dict(x.split("=", 1) for x in (e or []))

# topics the code uses, from satisfy-broker --help ("creates the satisfy topics (...)")
helptext = subprocess.run([bin_dir + "/satisfy-broker", "--help"], capture_output=True, text=True).stdout
topics = set(re.findall(r"satisfy\.[a-z]+", helptext))
if len(topics) < 6:
    raise SystemExit("FAIL: satisfy-broker --help names only %s" % sorted(topics))

def run_topics_job(where, argv, env):
    """create-topics.sh with a stand-in for kafka-topics.sh that records each call."""
    if argv[:1] != ["sh"] or not argv[1].endswith("create-topics.sh"):
        fail("%s: runs %s, not sh create-topics.sh" % (where, argv))
        return
    rec = work + "/topics-%s.log" % re.sub(r"\W", "_", where)
    stub = work + "/kafka-topics.sh"
    with open(stub, "w") as f:
        f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >>%s\n' % rec)
    os.chmod(stub, 0o755)
    e = dict(os.environ, **env, KAFKA_TOPICS=stub)
    p = subprocess.run(["sh", src + "/deploy/k8s/create-topics.sh"], env=e, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail("%s: create-topics.sh exited %d: %s" % (where, p.returncode, p.stderr[-300:]))
        return
    known = {"--bootstrap-server", "--create", "--if-not-exists", "--topic", "--partitions",
             "--replication-factor", "--config", "--command-config"}
    made = {}
    for line in open(rec):
        a = line.split()
        bad = [x for x in a if x.startswith("--") and x not in known]
        if bad or "--create" not in a or "--if-not-exists" not in a:
            fail("%s: kafka-topics.sh %s" % (where, line.strip()))
            continue
        if a[a.index("--bootstrap-server") + 1] != env.get("SATISFY_BROKERS"):
            fail("%s: --bootstrap-server is not SATISFY_BROKERS" % where)
        t = a[a.index("--topic") + 1]
        cfg = dict(a[i + 1].split("=", 1) for i, x in enumerate(a) if x == "--config")
        made[t] = (int(a[a.index("--partitions") + 1]), cfg)
    if set(made) != topics:
        fail("%s: creates %s, the code uses %s" % (where, sorted(made), sorted(topics)))
    for t, (n, cfg) in made.items():
        if t == "satisfy.models":
            if n != 1 or cfg.get("cleanup.policy") != "compact" or int(cfg.get("max.message.bytes", 0)) < 4 << 20:
                fail("%s: satisfy.models needs 1 partition, compaction, max.message.bytes >= 4 MiB: %s %s" % (where, n, cfg))
        elif t == "satisfy.history":
            if cfg.get("cleanup.policy") != "compact" or n != made.get("satisfy.orders", (0,))[0]:
                fail("%s: satisfy.history needs compaction and the partitions of satisfy.orders: %s %s" % (where, n, cfg))
        elif cfg.get("retention.ms") != "-1" or n < 1:
            fail("%s: %s needs retention.ms=-1 (event-time timestamps): %s" % (where, t, cfg))
    print("  %s: create-topics.sh creates %s" % (where, ", ".join("%s(%d)" % (t, made[t][0]) for t in sorted(made))))

def run_group(name, cmds, broker_env=None):
    """cmds: [(label, argv, env)]; statically checked, then run together."""
    root = work + "/root-" + name
    os.makedirs(root, exist_ok=True)
    shutil.copytree(work + "/olist", root + "/data", dirs_exist_ok=True)
    procs = []
    for label, argv, env in cmds:
        prog = cc.resolve(argv, env)
        for e in cc.check(prog, bin_dir):
            fail("%s: %s" % (label, e))
        print("  %s: %s" % (label, " ".join(prog)))
    # run: brokers from the live satisfy-broker, paths under root
    live = cc.start(name + "-broker", [bin_dir + "/satisfy-broker", "--partitions", "2",
                                       "--bootstrap-file", root + "/live.bootstrap"], os.environ, work)
    for _ in range(100):
        if os.path.exists(root + "/live.bootstrap"):
            break
        time.sleep(0.1)
    bs = open(root + "/live.bootstrap").read().strip()
    order = sorted(cmds, key=lambda c: (os.path.basename(cc.resolve(c[1], c[2])[0]) != "satisfy-broker",
                                        os.path.basename(cc.resolve(c[1], c[2])[0]) != "satisfy-datagen"))
    for label, argv, env in order:
        e = cc.remap_env(env, root)
        if e.get("SATISFY_BROKERS"):
            e["SATISFY_BROKERS"] = bs
        run_env = dict(os.environ, **e)
        a = cc.remap(argv, root, brokers=bs)
        prog = os.path.basename(cc.resolve(argv, env)[0])
        for i, x in enumerate(a):  # parents of output paths
            if x.startswith(root) and a[i - 1] in ("--registry", "--stats-file", "--bootstrap-file", "--out", "--store"):
                os.makedirs(os.path.dirname(x), exist_ok=True)
        p = cc.start(re.sub(r"\W", "_", label), a, run_env, work)
        procs.append(p)
        if prog == "satisfy-datagen":  # the producer reads what it writes
            try:
                p.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        if prog == "satisfy-broker":
            time.sleep(0.5)
    # the scorers' probes
    for (label, argv, env), p in zip(order, procs):
        probes = probes_for.get(label)
        if probes:
            port = p.http_port()
            if not port:
                fail("%s: the scorer did not log its HTTP port: %s" % (label, p.tail()))
                continue
            for path, want in probes:
                try:
                    code = urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=3).status
                except urllib.error.HTTPError as h:
                    code = h.code
                except Exception as x:
                    code = str(x)
                if code not in want:
                    fail("%s: GET %s answered %s, want %s" % (label, path, code, want))
    for e in cc.finish(procs, grace=4.0, stop_timeout=60) + cc.finish([live], grace=0, stop_timeout=15):
        fail(e)

# ---- Compose -------------------------------------------------------------------------
def compose_services(path, profile):
    doc = yaml.safe_load(open(path))
    return {n: s for n, s in doc["services"].items() if profile in s.get("profiles", [profile])}

for profile in ("demo", "kafka"):
    svcs = compose_services(work + "/compose-%s.yaml" % profile, profile)
    cmds = []
    for n, s in sorted(svcs.items()):
        argv = [str(x) for x in (s.get("command") or [])]
        env = env_list(s.get("environment"))
        if satisfy_image(s["image"]):
            if s["image"] != "satisfy:latest":
                fail("compose %s: image %s" % (n, s["image"]))
            cmds.append(("compose %s/%s" % (profile, n), argv, env))
        elif n == "topics":
            run_topics_job("compose topics", argv, env)
    want = {"demo": {"broker", "datagen", "retrainer", "scorer-0", "scorer-1", "producer"},
            "kafka": {"kafka", "topics", "datagen", "kafka-retrainer", "kafka-scorer-0", "kafka-scorer-1", "kafka-producer"}}[profile]
    if set(svcs) != want:
        fail("compose profile %s has services %s, want %s" % (profile, sorted(svcs), sorted(want)))
    ids = [c[1][c[1].index("--instance-id") + 1] for c in cmds if "--instance-id" in c[1]]
    if len(ids) != 2 or len(set(ids)) != 2:
        fail("compose profile %s: two scorers with distinct --instance-id wanted, got %s" % (profile, ids))
    if profile == "kafka":
        k = svcs["kafka"]["environment"]
        for key, val in (("KAFKA_PROCESS_ROLES", "broker,controller"), ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
                         ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"), ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")):
            if str(k.get(key)) != val:
                fail("compose kafka: %s=%s, want %s (single-node KRaft with transactions)" % (key, k.get(key), val))
        if not svcs["kafka"]["image"].startswith("apache/kafka:"):
            fail("compose kafka: image %s is not the official apache/kafka" % svcs["kafka"]["image"])
        for n, s in svcs.items():
            if satisfy_image(s["image"]) and "--brokers" in s["command"] and s["command"][s["command"].index("--brokers") + 1] != "kafka:9092":
                fail("compose %s: --brokers is not kafka:9092" % n)
    state_vol = [v for s in svcs.values() for v in s.get("volumes", []) if str(v).split(":")[1:2] == ["/var/lib/satisfy"]]
    if not state_vol:
        fail("compose profile %s: no volume on /var/lib/satisfy for the retrainer" % profile)
    print("compose profile %s: %d satisfy commands" % (profile, len(cmds)))
    run_group("compose-" + profile, cmds)

# the host-network override: every demo service on the host network, no published port,
# the scorers on 127.0.0.1
host = compose_services(work + "/compose-host.yaml", "demo")
for n, s in host.items():
    if s.get("network_mode") != "host" or s.get("ports"):
        fail("compose.host.yaml: %s is not on the host network without ports: %s %s" % (n, s.get("network_mode"), s.get("ports")))
    c = [str(x) for x in s.get("command") or []]
    if "--http" in c and not c[c.index("--http") + 1].startswith("127.0.0.1:"):
        fail("compose.host.yaml: %s --http %s is not on loopback" % (n, c[c.index("--http") + 1]))

# ---- Kubernetes ----------------------------------------------------------------------
docs = [x for x in yaml.safe_load_all(open(work + "/k8s.yaml")) if x]
by_kind = {}
for x in docs:
    by_kind.setdefault(x["kind"], {})[x["metadata"]["name"]] = x
cms = by_kind.get("ConfigMap", {})
dockerfile = open(src + "/deploy/Dockerfile").read()
uid = int(re.search(r"^USER (\d+)", dockerfile, re.M).group(1))

def k8s_env(c):
    env = {}
    for ef in c.get("envFrom", []):
        ref = ef.get("configMapRef") or ef.get("secretRef")
        if "configMapRef" in ef:
            if ref["name"] not in cms:
                fail("envFrom: ConfigMap %s does not exist" % ref["name"])
            else:
                env.update(cms[ref["name"]]["data"])
        elif not ref.get("optional"):
            fail("envFrom: Secret %s is not optional" % ref["name"])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = {"metadata.name": "%s-0"}.get(e["valueFrom"]["fieldRef"]["fieldPath"], "x")
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            r = e["valueFrom"]["configMapKeyRef"]
            env[e["name"]] = cms.get(r["name"], {}).get("data", {}).get(r["key"], "")
    return env

def expand(argv, env):  # Kubernetes' $(VAR) in command and args
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]

def labels_match(sel, labels):
    return all(labels.get(k) == v for k, v in sel.items())

pods = []  # (kind/name, pod spec, labels, annotations)
for kind in ("StatefulSet", "Job"):
    for n, o in by_kind.get(kind, {}).items():
        t = o["spec"]["template"]
        pods.append(("%s/%s" % (kind, n), o, t["spec"], t["metadata"].get("labels", {}), t["metadata"].get("annotations", {})))
k8s_cmds = []
for where, o, spec, labels, ann in pods:
    if o["kind"] == "StatefulSet":
        if not labels_match(o["spec"]["selector"]["matchLabels"], labels):
            fail("%s: selector does not match its pods" % where)
        svc = by_kind.get("Service", {}).get(o["spec"]["serviceName"])
        if not svc or svc["spec"].get("clusterIP") != "None" or not labels_match(svc["spec"]["selector"], labels):
            fail("%s: serviceName %s is not a headless Service of its pods" % (where, o["spec"]["serviceName"]))
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    vols.update({v["metadata"]["name"]: v for v in o["spec"].get("volumeClaimTemplates", [])})
    for v in vols.values():
        if "configMap" in v and v["configMap"]["name"] not in cms:
            fail("%s: volume %s refers to ConfigMap %s, which does not exist" % (where, v["name"], v["configMap"]["name"]))
    for c in spec["containers"]:
        for m in c.get("volumeMounts", []):
            if m["name"] not in vols:
                fail("%s: volumeMount %s has no volume" % (where, m["name"]))
        env = k8s_env(c)
        env = {k: (v % o["metadata"]["name"] if "%s" in v else v) for k, v in env.items()}
        argv = expand([str(x) for x in c.get("command", []) + c.get("args", [])], env)
        if not satisfy_image(c["image"]):
            if c["image"].startswith("apache/kafka:"):
                run_topics_job(where, argv, env)
            else:
                fail("%s: unexpected image %s" % (where, c["image"]))
            continue
        if c["image"] != "satisfy:" + version:
            fail("%s: image %s, want satisfy:%s (the project version)" % (where, c["image"], version))
        sc = spec.get("securityContext", {})
        if sc.get("runAsUser") != uid or not sc.get("runAsNonRoot"):
            fail("%s: must run as the image's user %d (runAsNonRoot)" % (where, uid))
        if any("$(" in a for a in argv):
            fail("%s: unexpanded variable in %s" % (where, argv))
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        prog = cc.resolve(argv, env)
        if "--http" in prog:
            hp = int(prog[prog.index("--http") + 1].rsplit(":", 1)[1])
            if hp not in ports.values():
                fail("%s: --http port %d is not a containerPort %s" % (where, hp, ports))
            if ann.get("prometheus.io/scrape") != "true" or int(ann.get("prometheus.io/port", 0)) != hp:
                fail("%s: prometheus.io annotations %s do not scrape port %d" % (where, ann, hp))
            probes = []
            for kind_, want in (("readinessProbe", (200, 503)), ("livenessProbe", (200,))):
                pr = c.get(kind_, {}).get("httpGet")
                if not pr:
                    fail("%s: no %s" % (where, kind_))
                    continue
                port = ports.get(pr["port"], pr["port"])
                if port != hp:
                    fail("%s: %s on port %s, the scorer listens on %d" % (where, kind_, pr["port"], hp))
                probes.append((pr["path"], want))
            if [p for p, _ in probes] != ["/readyz", "/healthz"]:
                fail("%s: readiness must be /readyz, liveness /healthz: %s" % (where, probes))
            probes_for[where] = probes
            for sname, svc in by_kind.get("Service", {}).items():
                if labels_match(svc["spec"].get("selector", {}), labels):
                    for sp in svc["spec"].get("ports", []):
                        if sp.get("targetPort") not in ports and sp.get("targetPort") not in ports.values():
                            fail("Service %s: targetPort %s is not a port of %s" % (sname, sp.get("targetPort"), where))
            pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values()
                    if labels_match(p["spec"]["selector"]["matchLabels"], labels)]
            if not pdbs:
                fail("%s: no PodDisruptionBudget selects the scorers" % where)
            if "--instance-id" not in prog or prog[prog.index("--instance-id") + 1] != o["metadata"]["name"] + "-0":
                fail("%s: --instance-id must be the pod name" % where)
        if os.path.basename(prog[0]) == "satisfy-retrainer" and o["spec"].get("replicas") != 1:
            fail("%s: the retrainer must have exactly one replica" % where)
        res = c.get("resources", {})
        if not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
            fail("%s: memory request and limit wanted" % where)
        k8s_cmds.append((where, argv, env))
print("kubernetes: %d satisfy containers, %d objects" % (len(k8s_cmds), len(docs)))
run_group("k8s", k8s_cmds)
print("%d problem(s)" % len(errs))
sys.exit(1 if errs else 0)
PYEOF
echo "commands: every Compose service and Kubernetes container runs a real binary with real flags"
