"""cmdcheck.py - shared by the tests/deploy/*.sh tests (imported, not a test):
checks a command line from a deployment file (systemd unit, Compose service,
Kubernetes container) against the satisfy binary it runs, and runs it.

Statically: the options a binary accepts are read from its own --help (every
indented line that starts with an option; a following upper-case word, a
word with '|' or 'key=value' is the option's argument) and every option of
the command line must be one of them, spelt in full (getopt_long would take
an abbreviation; a deployment file should not), with its value.
Dynamically: run() starts the command for real against a live broker, with
absolute paths moved under a scratch root and --http on 127.0.0.1:0, and
watches it: a usage error (exit 2) or any early failure fails the check; a
worker still running after the grace time is stopped with SIGTERM and must
exit cleanly (0, or 130 for an interrupted producer).
"""
import os
import re
import shlex
import signal
import subprocess
import time

BINARIES = ("satisfy-broker", "satisfy-producer", "satisfy-scorer", "satisfy-retrainer",
            "satisfy-datagen")
LAUNCHER = "satisfy-launch"
_help_cache = {}


def _is_metavar(tok):
    tok = tok.rstrip(",")
    return bool(re.match(r"^[A-Z][A-Za-z0-9_.]*$", tok)) or "|" in tok or "=" in tok


def help_options(bin_dir, program, sub=None):
    """{option: takes_value} and the options the usage line requires."""
    key = (bin_dir, program, sub)
    if key in _help_cache:
        return _help_cache[key]
    argv = [os.path.join(bin_dir, program)] + ([sub] if sub else []) + ["--help"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = p.stdout + p.stderr
    if p.returncode != 0 or "usage:" not in text:
        raise RuntimeError("%s: --help failed (status %d): %s" % (" ".join(argv), p.returncode, text[:200]))
    opts = {}
    for line in text.splitlines():
        if not re.match(r"^\s{2,}-", line):
            continue
        toks = line.split()
        i = 0
        while i < len(toks) and toks[i].startswith("-"):
            name = toks[i].rstrip(",")
            takes = i + 1 < len(toks) and not toks[i + 1].startswith("-") and _is_metavar(toks[i + 1])
            opts[name] = takes
            i += 2 if takes else 1
            if takes and not toks[i - 1].endswith(","):
                break
    usage = next(l for l in text.splitlines() if l.startswith("usage:"))
    required = set()
    depth = 0
    for tok in usage.split()[1:]:
        if depth == 0 and tok.startswith("--"):
            required.add(tok)
        depth += tok.count("[") - tok.count("]")
    _help_cache[key] = (opts, required)
    return opts, required


def resolve(argv, env=None):
    """The worker's own argv for a command line that may start with the
    launcher, as satisfy-launch builds it (brokers from env, -X words)."""
    env = env or {}
    if not argv:
        raise ValueError("empty command")
    if os.path.basename(argv[0]) != LAUNCHER:
        return list(argv)
    brokers = env.get("SATISFY_BROKERS") or ("<bootstrap of %s>" % env.get("SATISFY_BOOTSTRAP_FILE", "?"))
    extra = (env.get("SATISFY_KAFKA_OPTS", "") + " " + env.get("SATISFY_KAFKA_SECRET_OPTS", "")).split()
    return list(argv[1:]) + ["--brokers", brokers] + extra


def check(argv, bin_dir):
    """Problems of a worker command line (empty list when it is right)."""
    prog = os.path.basename(argv[0])
    if prog not in BINARIES:
        return ["%s is not a satisfy binary (%s)" % (argv[0], ", ".join(BINARIES))]
    args = list(argv[1:])
    sub = None
    if prog == "satisfy-retrainer":
        if not args or args[0] not in ("run", "train", "registry"):
            return ["satisfy-retrainer needs a command run/train/registry first: %s" % args[:1]]
        sub = args.pop(0)
        if sub == "registry" and args and args[0] in ("list", "show"):
            args.pop(0)
            if args and args[0].isdigit():
                args.pop(0)
    opts, required = help_options(bin_dir, prog, sub)
    errs, seen = [], set()
    i = 0
    while i < len(args):
        a = args[i]
        name, _, inline = a.partition("=") if a.startswith("--") else (a, "", "")
        if not a.startswith("-"):
            errs.append("%s: unexpected argument %r" % (prog, a))
            i += 1
            continue
        if name not in opts:
            errs.append("%s%s: unknown option %s (known: %s)" % (prog, " " + sub if sub else "", name,
                                                                 " ".join(sorted(opts))))
            i += 1
            continue
        seen.add(name)
        if opts[name] and not inline:
            if i + 1 >= len(args):
                errs.append("%s: %s needs a value" % (prog, name))
            i += 2
        else:
            i += 1
    for r in required - seen:
        if r in opts:
            errs.append("%s: required option %s missing" % (prog, r))
    return errs


def remap(argv, root, brokers=None):
    """argv for a local run: absolute paths under root, --http on 127.0.0.1:0,
    --brokers replaced when brokers is given."""
    out = []
    prev = None
    for a in argv:
        if prev == "--http":
            a = "127.0.0.1:0"
        elif prev == "--brokers" and brokers:
            a = brokers
        elif a.startswith("/") and prev is not None:
            a = root + a
        out.append(a)
        prev = a if a.startswith("-") else None
    return out


def remap_env(env, root):
    return {k: (root + v if v.startswith("/") and k.endswith("_FILE") else v) for k, v in env.items()}


class Proc:
    def __init__(self, name, argv, env, log_dir):
        self.name, self.argv = name, argv
        self.out = open(os.path.join(log_dir, name + ".out"), "w")
        self.err_path = os.path.join(log_dir, name + ".err")
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(argv, env=env, stdout=self.out, stderr=self.err,
                                  stdin=subprocess.DEVNULL)

    def tail(self, n=6):
        try:
            lines = [l for l in open(self.err_path).read().splitlines() if "CONFWARN" not in l]
            return "\n    ".join(lines[-n:])
        except OSError:
            return ""

    def http_port(self, timeout=15):
        """The port a scorer logged ('... on port N')."""
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(r"on port (\d+)", open(self.err_path).read())
            if m:
                return int(m.group(1))
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        return None


def start(name, argv, env, log_dir):
    return Proc(name, argv, env, log_dir)


def finish(procs, grace=4.0, stop_timeout=60):
    """Lets procs run for grace seconds, then stops them (SIGTERM); returns
    the problems: a usage error, a failure, an unclean stop."""
    errs = []
    end = time.time() + grace
    while time.time() < end and any(p.p.poll() is None for p in procs):
        time.sleep(0.1)
    running = [p for p in procs if p.p.poll() is None]
    for p in procs:
        if p not in running and p.p.returncode != 0:
            errs.append("%s exited with status %d before %.0f s: %s\n    %s" % (
                p.name, p.p.returncode, grace, " ".join(p.argv), p.tail()))
    # Workers first, brokers last, as Compose (depends_on), systemd (After=)
    # and an operator stop them: a broker stopped under a producer's final
    # flush would leave it waiting out its flush timeout for nothing.
    is_broker = lambda p: os.path.basename(resolve(p.argv)[0]) == "satisfy-broker"
    for phase in ([p for p in running if not is_broker(p)], [p for p in running if is_broker(p)]):
        errs += _stop(phase, stop_timeout)
    return errs


def _stop(running, stop_timeout):
    """SIGTERM to each of running, then waits for each; returns the problems."""
    errs = []
    for p in running:
        p.p.send_signal(signal.SIGTERM)
    for p in running:
        try:
            rc = p.p.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            p.p.kill()
            p.p.wait()
            errs.append("%s did not stop within %d s of SIGTERM: %s\n    %s" % (
                p.name, stop_timeout, " ".join(p.argv), p.tail(12)))
            continue
        ok = (0, 130) if os.path.basename(p.argv[0]) in ("satisfy-producer", LAUNCHER) else (0,)
        if rc not in ok:
            errs.append("%s: exit status %d after SIGTERM: %s\n    %s" % (p.name, rc, " ".join(p.argv), p.tail()))
    return errs


def split_systemd(line, env):
    """An ExecStart= line as systemd splits and expands it: quotes, then
    ${VAR} inside words and $VAR as a whole word split on blanks, $$ = $."""
    words = shlex.split(line)
    out = []
    for w in words:
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            out.extend(env.get(m.group(1), "").split())
            continue
        w = w.replace("$$", "\0")
        w = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda g: env.get(g.group(1), ""), w)
        out.append(w.replace("\0", "$"))
    return out


def read_env_file(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        env[k.strip()] = v.strip()
    return env
