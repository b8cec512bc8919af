#!/usr/bin/env bash
# check.sh BUILD_DIR - builds every layering probe (tests/layering/CMakeLists.txt):
# "good" ones must build, "bad" ones must fail for the right reason (the
# header is not visible to that layer, or the symbol is not linked). Then the
# scorer binary must carry no CSV loader and no SQLite code.
set -uo pipefail
build=${1:?usage: check.sh BUILD_DIR}
fail=0
probe() { cmake --build "$build" --target "probe_$1" >"$build/layering_$1.log" 2>&1; }
for name in good_features_event good_events_codec; do
  if probe "$name"; then echo "ok: $name builds"; else
    echo "FAIL: $name does not build:"; tail -5 "$build/layering_$name.log"; fail=1; fi
done
for spec in "bad_features_olist:satisfy/olist.h: No such file" \
            "bad_features_lifecycle:satisfy/lifecycle.h: No such file" \
            "bad_events_store:satisfy/store.h: No such file" \
            "bad_model_codec:satisfy/codec.h: No such file" \
            "bad_kafka_model:satisfy/model.h: No such file" \
            "bad_events_sqlite:undefined reference to \`sqlite3_libversion_number'"; do
  name=${spec%%:*} want=${spec#*:}
  if probe "$name"; then echo "FAIL: $name builds: a layer reaches above itself"; fail=1
  elif grep -qF "$want" "$build/layering_$name.log"; then echo "ok: $name refused ($want)"
  else echo "FAIL: $name failed for another reason:"; tail -5 "$build/layering_$name.log"; fail=1; fi
done
scorer="$build/bin/satisfy-scorer"
if [ ! -x "$scorer" ]; then echo "FAIL: no $scorer"; fail=1
else
  bad=$(nm "$scorer" | grep -E ' [TtDdBbRr] (sf_dataset_|sf_csv_|csv_parse|sqlite3_|sf_store_|sf_registry_|sf_lifecycle_)' | head -5)
  if [ -n "$bad" ]; then echo "FAIL: satisfy-scorer links the CSV loader or SQLite:"; echo "$bad"; fail=1
  else echo "ok: satisfy-scorer carries no CSV loader, lifecycle builder or SQLite code"; fi
  needed=$(readelf -d "$scorer" | grep NEEDED | grep -E 'libsqlite3|libcsv' || true)
  if [ -n "$needed" ]; then echo "FAIL: satisfy-scorer loads $needed"; fail=1
  else echo "ok: satisfy-scorer needs neither libsqlite3 nor libcsv"; fi
fi
exit $fail
