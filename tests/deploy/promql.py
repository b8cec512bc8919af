"""promql.py - imported by tests/deploy/metrics.sh (not a test): the PromQL
expressions of the Grafana dashboard and the alert rules, the metric names
they use, the recording rules' names and the constant thresholds they set,
and the JSON-API panels (Infinity data source) with their fields.

Metric names are found by removing what is not one (strings, label matchers
{...}, ranges [...], by/without/on/ignoring label lists, numbers) and
keeping every identifier that is not a function, an aggregation or a keyword.
Grafana's interval variables are replaced so that Prometheus can run the
expression: $__rate_interval -> 1m, $__range -> 5m, $__interval -> 15s.
"""
import json
import re

import yaml

KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "inf", "nan",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "histogram_quantile",
    "absent", "absent_over_time", "clamp_min", "clamp_max", "clamp", "abs", "ceil", "floor", "round",
    "label_replace", "label_join", "vector", "scalar", "time", "timestamp", "changes", "resets",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "quantile_over_time", "sort", "sort_desc", "sgn", "exp", "ln", "log2", "log10",
}
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself for every target


def grafana_vars(expr):
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
            .replace("$__interval", "15s"))


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if word.lower() in KEYWORDS or word.startswith("$"):
            continue
        if e[m.start() - 1:m.start()] == "$":
            continue
        names.add(word)
    return names


def dashboard(path):
    """(prometheus targets [(panel title, expr)], infinity targets [(title, target)])."""
    d = json.load(open(path))
    prom, inf = [], []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                ds = (t.get("datasource") or p.get("datasource") or {}).get("type", "")
                if "expr" in t:
                    prom.append((p.get("title", "?"), t["expr"]))
                elif ds == "yesoreyeram-infinity-datasource":
                    inf.append((p.get("title", "?"), t))
                elif ds:
                    raise ValueError("panel %r: target of data source %r without a check" % (p.get("title"), ds))
    walk(d.get("panels", []))
    return prom, inf


def alert_exprs(path):
    return [(r.get("alert") or r.get("record"), r["expr"])
            for g in yaml.safe_load(open(path))["groups"] for r in g["rules"]]


def recorded(path):
    """Names of the recording rules of a rule file: series Prometheus makes
    from the rules (a configured threshold such as satisfy:online_rmse_margin),
    not the scorer."""
    return {r["record"] for g in yaml.safe_load(open(path))["groups"] for r in g["rules"]
            if "record" in r}


def constant(expr):
    """True for a literal vector(N): a threshold, which names no metric."""
    return re.fullmatch(r"\s*vector\(\s*[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?\s*\)\s*", expr) is not None


def exported(metrics_text):
    names = set()
    for line in metrics_text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def select(obj, path):
    """Infinity's dot selector ("candidate.rmse"); KeyError when absent."""
    for part in path.split("."):
        obj = obj[part]
    return obj
