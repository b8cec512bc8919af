#!/usr/bin/env bash
# avro_interop.sh - proves the wire bytes are standard Avro: codec_sample
# writes framed messages for every schema, and Debian's python3-avro (an
# independent implementation) decodes each body with the .avsc files from
# schemas/ after stripping the 5-byte Confluent header; every field must equal
# the codec's JSON view of the same event, and the header must carry the id
# catalog.json gives the schema.
source "$(dirname "$0")/common.bash"
SRC=${SATISFY_SOURCE_DIR:?SATISFY_SOURCE_DIR not set}
PY=/usr/bin/python3 # Debian's python, where python3-avro lives (not pyenv's)

"$PY" -c 'import avro.io, avro.schema' 2>/dev/null ||
    die "$PY cannot import avro; install python3-avro (scripts/install-deps.sh)"
"$bin/codec_sample" "$work" || die "codec_sample failed"

"$PY" - "$work" "$SRC/schemas" <<'PYEOF'
import datetime, io, json, math, os, sys
import avro.io, avro.schema

work, schemas = sys.argv[1], sys.argv[2]
catalog = json.load(open(os.path.join(schemas, "catalog.json")))
by_prefix = {"order": "OrderEvent", "review": "ReviewEvent",
             "prediction": "Prediction", "release": "ModelRelease", "alert": "Alert",
             "serving": "ServingState"}
entries = {e["name"]: e for e in catalog["schemas"]}
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

def norm(v):
    """Decoded Avro datum -> the JSON view's values (times in ms)."""
    if isinstance(v, datetime.datetime):
        return (v - epoch) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if isinstance(x, bytes):
                out[k + "_hex"] = x.hex()
            else:
                out[k] = norm(x)
        return out
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v

def diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: fields {sorted(set(a) ^ set(b))} differ"
        for k in a:
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} entries vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, bool) or isinstance(b, bool) or a != b:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return None
        return f"{path}: decoded {a!r}, expected {b!r}"
    return None

names = sorted(f[:-4] for f in os.listdir(work) if f.endswith(".bin"))
seen = set()
failed = 0
for name in names:
    kind = by_prefix[name.split("_")[0]]
    entry = entries[kind]
    schema = avro.schema.parse(open(os.path.join(schemas, entry["file"])).read())
    data = open(os.path.join(work, name + ".bin"), "rb").read()
    expected = json.load(open(os.path.join(work, name + ".json")))
    if len(data) < 5 or data[0] != 0 or int.from_bytes(data[1:5], "big") != entry["id"]:
        print(f"{name}: bad header {data[:5].hex()} (want 00 + id {entry['id']})")
        failed += 1
        continue
    body = io.BytesIO(data[5:])
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
    if body.tell() != len(data) - 5:
        print(f"{name}: {len(data) - 5 - body.tell()} bytes left after the record")
        failed += 1
        continue
    d = diff(norm(datum), expected)
    if d:
        print(f"{name}: {d}")
        failed += 1
        continue
    seen.add(kind)
    print(f"{name}: ok ({len(data)} bytes, {kind} id {entry['id']})")

missing = set(by_prefix.values()) - seen
if missing or failed or len(names) < 9:
    print(f"avro_interop: FAILED ({failed} mismatches, {len(names)} messages, "
          f"schemas not verified: {sorted(missing)})")
    sys.exit(1)
print(f"avro_interop: {len(names)} messages decoded by python3-avro and equal to the JSON view")
PYEOF
