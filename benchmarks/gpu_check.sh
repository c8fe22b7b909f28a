#!/usr/bin/env bash
# GPU readiness check (issue 37): one command on a lent GPU machine, under 8 minutes.
#
# On a machine with an NVIDIA GPU and a CUDA build of jax already installed, and no network:
#   1. installs the wheels of .whl/ (made beforehand by benchmarks/gpu_wheels.sh: the
#      dependencies the machine lacks) into /tmp/site, and puts this checkout on PYTHONPATH, so
#      the machine's own jax, flax, optax, ... stay (gen_jax's setup.cfg pins are not applied);
#   2. prints nvidia-smi, the versions it runs with and jax.devices();
#   3. measures the matmul peak (float32 at jax's default precision, which is what gen-jax
#      bench reports and what the workloads run at; float32 'highest'; bfloat16) and times
#      W1-W9 with gen-jax bench's own per-workload code, each workload in a fresh process;
#   4. runs a fast test subset that needs neither ../shared nor several processes, in the
#      time left (failures are re-run once at float32 'highest' matmul precision, to tell
#      TF32 tolerance misses from real breakage);
#   5. with several devices, `gen-jax bench --scaling` over them;
#   6. writes $OUT/gpu_check.json and $OUT/gpu_check.md (plus gpu_bench.json/.md in gen-jax
#      bench's format, gpu_check.log, and gpu_scaling.json/.md when it ran).
#
#   bash benchmarks/gpu_check.sh          # on the GPU machine; $OUT is where results go
#
# Every stage runs under `timeout`, inside one deadline (GPU_CHECK_BUDGET_S), so a hang costs
# its stage, not the run. Overrides (defaults are the GPU run's; a CPU dry run shrinks them):
#   OUT                       results folder (default /tmp/gpu_check_out)
#   GPU_CHECK_PYTHON          interpreter (python3)
#   GPU_CHECK_BUDGET_S        deadline for the whole script, seconds (450)
#   GPU_CHECK_INSTALL         1: install .whl/*.whl into GPU_CHECK_SITE (/tmp/site); 0: don't
#   GPU_CHECK_TESTS           test paths ("tests/models tests/bijectors tests/nn tests/metrics
#                             tests/test_layers.py"); empty: no tests
#   GPU_CHECK_TEST_WORKERS    pytest-xdist workers (12)
#   GPU_CHECK_TEST_TIMEOUT_S  seconds kept for the tests after the bench (150; they get more
#                             when the bench ends early)
#   GPU_CHECK_WORKLOADS       workload ids (w1 w2 w3 w4 w5 w6-flow w6-vae w7-fd w7-prdc w8
#                             w8-sample w9); empty: no benchmark
#   GPU_CHECK_REPEATS / GPU_CHECK_WARMUP            timed repeats / warm-up calls (20 / 3)
#   GPU_CHECK_SLOW_REPEATS / GPU_CHECK_SLOW_WARMUP  for w7-fd and w8-sample (5 / 1)
#   GPU_CHECK_PEAK_N          matmul size for the peaks (8192)
#   GPU_CHECK_BENCH           driver (default: per-workload processes with a timeout each, a
#                             failure costs one workload) or cli (one `python -m gen_jax bench`
#                             call: a failing workload loses the whole report)
#   GPU_CHECK_SCALING         auto (when jax sees several devices), force (also on one: on CPU
#                             the command forces 2 host devices), off
#   GPU_CHECK_ALLOW_CPU       1: benchmark even when jax's backend is not a GPU (dry runs)
set -euo pipefail
export PYTHONUNBUFFERED=1

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
PY=${GPU_CHECK_PYTHON:-python3}
SITE=${GPU_CHECK_SITE:-/tmp/site}
BUDGET=${GPU_CHECK_BUDGET_S:-450}
TESTS=${GPU_CHECK_TESTS-tests/models tests/bijectors tests/nn tests/metrics tests/test_layers.py}
TEST_WORKERS=${GPU_CHECK_TEST_WORKERS:-12}
TEST_TIMEOUT=${GPU_CHECK_TEST_TIMEOUT_S:-150}
WORKLOADS=${GPU_CHECK_WORKLOADS-w1 w2 w3 w4 w5 w6-flow w6-vae w7-fd w7-prdc w8 w8-sample w9}
REPEATS=${GPU_CHECK_REPEATS:-20}
WARMUP=${GPU_CHECK_WARMUP:-3}
SLOW_REPEATS=${GPU_CHECK_SLOW_REPEATS:-5}
SLOW_WARMUP=${GPU_CHECK_SLOW_WARMUP:-1}
PEAK_N=${GPU_CHECK_PEAK_N:-8192}
BENCH_MODE=${GPU_CHECK_BENCH:-driver}
SCALING=${GPU_CHECK_SCALING:-auto}
ALLOW_CPU=${GPU_CHECK_ALLOW_CPU:-0}
START=$(date +%s)
exec > >(tee "$OUT/gpu_check.log") 2>&1
TEE_PID=$!

left() { echo $((BUDGET - ($(date +%s) - START))); }
# cap_for CAP RESERVE: seconds a stage may take: at most CAP, leaving RESERVE for later stages.
cap_for() {
  local t=$(($(left) - $2))
  [ "$t" -gt "$1" ] && t=$1
  [ "$t" -lt 1 ] && t=1
  echo "$t"
}
# stage NAME CAP RESERVE CMD...: runs CMD under timeout (SIGINT first, SIGKILL 20 s later) and
# records its exit status and time; never fails the script.
stage() {
  local name=$1 cap rc t0
  cap=$(cap_for "$2" "$3")
  shift 3
  echo "=== $name (at most ${cap}s; $(left)s of the budget left) ==="
  t0=$(date +%s)
  set +e
  timeout -s INT -k 20 "$cap" "$@"
  rc=$?
  set -e
  printf '{"stage": "%s", "rc": %d, "seconds": %d, "limit_s": %d}\n' \
    "$name" "$rc" "$(($(date +%s) - t0))" "$cap" >>"$WORK/stages.jsonl"
  echo "=== $name: exit $rc after $(($(date +%s) - t0))s ==="
  return 0
}

# 1. The wheels, and gen_jax from this checkout. .whl/if-older/ holds packages the machine has
# in a version we cannot know beforehand: each is installed only where the machine's is older.
cat >"$WORK/older.py" <<'EOF'
import importlib.metadata as md
import os
import sys

from packaging.version import Version

name, version = os.path.basename(sys.argv[1]).split("-")[:2]
try:
    have = md.version(name)
except md.PackageNotFoundError:
    have = None
print(f"{name}: the machine has {have}, carried {version}")
sys.exit(0 if have is None or Version(have) < Version(version) else 1)
EOF
gpu_check_install() {
  if [ "${GPU_CHECK_INSTALL:-1}" != 1 ]; then
    echo "not installing wheels (GPU_CHECK_INSTALL=${GPU_CHECK_INSTALL})"
  elif compgen -G ".whl/*.whl" >/dev/null; then
    local extra=() w
    for w in .whl/if-older/*.whl; do
      if [ -e "$w" ] && "$PY" "$WORK/older.py" "$w"; then extra+=("$w"); fi
    done
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$SITE" .whl/*.whl "${extra[@]}"
    ls .whl "${extra[@]}"
  else
    echo "no .whl/*.whl: nothing to install (run benchmarks/gpu_wheels.sh and carry .whl)"
  fi
}
export -f gpu_check_install
export PY SITE WORK
stage install 120 $((BUDGET / 2)) bash -c gpu_check_install
export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"

# 2. The machine and the versions.
stage nvidia-smi 20 $((BUDGET / 2)) nvidia-smi
cat >"$WORK/env.py" <<'EOF'
import importlib.metadata as md
import json
import platform
import sys

versions = {}
for pkg in ("jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda13-pjrt", "jax-cuda12-plugin",
            "flax", "optax", "chex", "orbax-checkpoint", "distrax", "tfp-nightly", "diffrax",
            "equinox", "ott-jax", "tensorflow-datasets", "array_record", "tyro", "numpy",
            "scipy", "scikit-learn", "ml_dtypes", "protobuf", "pytest", "pytest-xdist",
            "pytest-timeout", "torch"):
    try:
        versions[pkg] = md.version(pkg)
    except md.PackageNotFoundError:
        pass
env = {"python": sys.version.split()[0], "executable": sys.executable,
       "platform": platform.platform(), "versions": versions}
try:
    import gen_jax
    env["gen_jax"] = {"version": gen_jax.__version__, "file": gen_jax.__file__}
    import gen_jax.bench  # noqa: F401  (the models, bijectors, distrax, TFP)
    import gen_jax.bijectors  # noqa: F401
except Exception as e:  # recorded: everything after this will fail the same way
    env["gen_jax_import_error"] = f"{type(e).__name__}: {e}"
import jax

env["backend"] = jax.default_backend()
env["devices"] = [str(d) for d in jax.devices()]
env["device_kind"] = jax.devices()[0].device_kind
env["device_count"] = jax.device_count()
stats = jax.devices()[0].memory_stats() or {}
env["device_memory_gib"] = (stats["bytes_limit"] / 2**30) if "bytes_limit" in stats else None
print(json.dumps(env, indent=2))
json.dump(env, open(sys.argv[1], "w"), indent=2)
EOF
stage environment 60 $((BUDGET / 2)) "$PY" "$WORK/env.py" "$WORK/env.json"
BACKEND=$("$PY" -c "import json; print(json.load(open('$WORK/env.json'))['backend'])" \
  2>/dev/null || echo unknown)
DEVICES=$("$PY" -c "import json; print(json.load(open('$WORK/env.json'))['device_count'])" \
  2>/dev/null || echo 0)
SCALING_RESERVE=0
if [ "$SCALING" = force ] || { [ "$SCALING" = auto ] && [ "$DEVICES" -gt 1 ]; }; then
  SCALING_RESERVE=90
fi
TESTS_RESERVE=0
[ -n "$TESTS" ] && TESTS_RESERVE=$((TEST_TIMEOUT + 20))
AFTER_BENCH=$((TESTS_RESERVE + SCALING_RESERVE + 15))  # kept for the stages after the bench

# 3. The peaks and the workloads first (the numbers are what this check is for); the tests
# after them get the time left over (at least TESTS_RESERVE).
cat >"$WORK/peaks.py" <<'EOF'
"""Peak matmul rates in one fresh process: float32 at jax's default precision (what gen-jax
bench measures), float32 at 'highest', bfloat16; n x n, median of 10 after a warm-up."""
import json
import sys

import jax
import jax.numpy as jnp

from gen_jax.bench._harness import compile_fresh, peak_matmul_flops

n = int(sys.argv[1])
compile_fresh()
out = {"n": n}
for key, dtype, precision in (("float32", jnp.float32, None),
                              ("float32_highest", jnp.float32, "highest"),
                              ("bfloat16", jnp.bfloat16, None)):
    with jax.default_matmul_precision(precision):
        out[key] = peak_matmul_flops(n, dtype=dtype) / 1e9
    print(f"peak {key}: {out[key]:.0f} GFLOP/s (n = {n})", flush=True)
    json.dump(out, open(sys.argv[2], "w"), indent=2)
EOF
cat >"$WORK/bench.py" <<'EOF'
"""gen-jax bench's per-workload measurement (gen_jax.bench._run.time_workload, each workload in
a fresh process, as run_benchmarks does) with a timeout per workload and a deadline, so one
failure or hang costs that workload only; the report is in gen-jax bench's format."""
import datetime
import json
import os
import subprocess
import sys
import time

from gen_jax.bench._harness import PACKAGE_ROOT
from gen_jax.bench._run import write_report

out, peaks_file, deadline = sys.argv[1], sys.argv[2], float(sys.argv[3])
repeats, warmup, slow_repeats, slow_warmup = map(int, sys.argv[4:8])
names = sys.argv[8:]
peaks = json.load(open(peaks_file)) if os.path.exists(peaks_file) else {}
peak = peaks.get("float32")
env = dict(os.environ)
env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
code = ("import json, sys; from gen_jax.bench._run import time_workload; "
        "print(json.dumps(time_workload(*json.loads(sys.argv[1]))))")
results, failures = {}, {}
for i, name in enumerate(names):
    r, w = (slow_repeats, slow_warmup) if name in ("w7-fd", "w8-sample") else (repeats, warmup)
    # what is left, shared fairly with the workloads still to come, but at least 90 s
    left = deadline - time.time()
    limit = min(left, max(90.0, 2 * left / (len(names) - i)))
    if limit < 20:
        failures[name] = "skipped: out of time"
        print(f"{name}: skipped, out of time", flush=True)
        continue
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, "-P", "-c", code, json.dumps([name, r, w])],
                              env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        failures[name] = f"timed out after {limit:.0f} s"
        print(f"{name}: timed out after {limit:.0f} s", flush=True)
        continue
    if proc.returncode != 0:
        failures[name] = f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"
        print(f"{name}: FAILED (exit {proc.returncode})\n{proc.stderr.strip()[-3000:]}",
              flush=True)
        continue
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    flops = res.pop("matmul_flops")
    achieved = flops / res["median_s"]
    res.update(matmul_gflop_per_call=flops / 1e9, achieved_gflops=achieved / 1e9,
               fraction_of_peak=achieved / (peak * 1e9) if peak else float("nan"),
               wall_s=time.time() - t0)
    results[name] = res
    print(f"{name}: {res['per_second']:.4g}/s median, first call {res['compile_s']:.1f} s, "
          f"{res['achieved_gflops']:.0f} GFLOP/s ({time.time() - t0:.0f} s)", flush=True)
from gen_jax.bench._harness import environment  # noqa: E402  (jax's backend starts here)

report = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
          "environment": environment(), "peak_matmul_gflops": peak or float("nan"),
          "peak_matmul_n": peaks.get("n"), "results": results, "failures": failures}
write_report(report, out)
EOF
if [ -n "$WORKLOADS" ]; then
  if [ "$BACKEND" != gpu ] && [ "$BACKEND" != cuda ] && [ "$ALLOW_CPU" != 1 ]; then
    echo "=== benchmarks skipped: jax's backend is '$BACKEND', not a GPU ==="
    echo '{"stage": "bench", "rc": null, "skipped": "backend not a GPU"}' >>"$WORK/stages.jsonl"
  else
    stage peaks 60 $((AFTER_BENCH + 60)) "$PY" "$WORK/peaks.py" "$PEAK_N" "$WORK/peaks.json"
    # shellcheck disable=SC2086
    if [ "$BENCH_MODE" = cli ]; then
      stage bench "$BUDGET" "$AFTER_BENCH" "$PY" -m gen_jax bench $WORKLOADS \
        --repeats "$REPEATS" --warmup "$WARMUP" --peak-n "$PEAK_N" --out "$OUT/gpu_bench.json"
    else  # bench.py stops starting workloads 15 s before the stage's own limit
      stage bench "$BUDGET" "$AFTER_BENCH" "$PY" "$WORK/bench.py" \
        "$OUT/gpu_bench.json" "$WORK/peaks.json" "$((START + BUDGET - AFTER_BENCH - 15))" \
        "$REPEATS" "$WARMUP" "$SLOW_REPEATS" "$SLOW_WARMUP" $WORKLOADS
    fi
  fi
fi

# 4. The fast tests: no multi-process runs; those that need ../shared/data or ../shared/models
# (which do not travel to the GPU machine) skip there by themselves.
# --dist load: the one xdist group (multiprocess) is deselected, and loadgroup with pytest
# >= 9.2 and xdist <= 3.8 is refused by tests/conftest.py.
if [ -n "$TESTS" ]; then
  TIMEOUT_OPT=()
  "$PY" -c "import pytest_timeout" 2>/dev/null && TIMEOUT_OPT=(--timeout=120)
  # at least TEST_TIMEOUT (kept free by the bench), more when the bench left time over, less 45 s
  # for a re-run of failures
  cap=$(($(left) - SCALING_RESERVE - 80))
  [ "$cap" -lt "$TEST_TIMEOUT" ] && cap=$TEST_TIMEOUT
  # shellcheck disable=SC2086
  XLA_PYTHON_CLIENT_PREALLOCATE=false stage tests "$cap" $((SCALING_RESERVE + 35)) \
    "$PY" -m pytest -p no:cacheprovider -o addopts= --rootdir "$REPO" -q -ra --strict-markers \
    -m "not slow and not multiprocess" -n "$TEST_WORKERS" --dist load --durations=10 \
    "${TIMEOUT_OPT[@]}" --junitxml="$WORK/tests.xml" $TESTS
  # Failures again, once, at float32 'highest' matmul precision (XLA's GPU default is TF32).
  sed -n 's/^\(FAILED\|ERROR\) \([^ ]*\).*/\2/p' "$OUT/gpu_check.log" | sort -u \
    >"$WORK/failed.txt"
  grep -E '^(FAILED|ERROR) ' "$OUT/gpu_check.log" | cut -c1-400 >"$WORK/failed_lines.txt" || true
  if [ -s "$WORK/failed.txt" ] && [ "$(wc -l <"$WORK/failed.txt")" -le 40 ] \
      && [ "$(left)" -gt $((SCALING_RESERVE + 50)) ]; then
    mapfile -t FAILED <"$WORK/failed.txt"
    JAX_DEFAULT_MATMUL_PRECISION=highest XLA_PYTHON_CLIENT_PREALLOCATE=false \
      stage tests-rerun-highest 45 $((SCALING_RESERVE + 15)) "$PY" -m pytest \
      -p no:cacheprovider -o addopts= --rootdir "$REPO" -q -ra -n 4 --dist load \
      "${TIMEOUT_OPT[@]}" --junitxml="$WORK/rerun.xml" "${FAILED[@]}"
  fi
fi

# 5. Several devices: the production step's data-parallel scaling over them.
if [ "$SCALING" = force ] || { [ "$SCALING" = auto ] && [ "$DEVICES" -gt 1 ]; }; then
  COUNTS="1"
  n=2
  while [ "$n" -le "$DEVICES" ]; do COUNTS="$COUNTS $n"; n=$((n * 2)); done
  [ "$DEVICES" -gt 1 ] && [ "${COUNTS##* }" != "$DEVICES" ] && COUNTS="$COUNTS $DEVICES"
  [ "$COUNTS" = 1 ] && COUNTS="1 2"  # forced on one device: 2 host devices (CPU only)
  # shellcheck disable=SC2086
  stage scaling 80 15 "$PY" -m gen_jax bench w4 --scaling $COUNTS --repeats 10 --warmup 2 \
    --out "$OUT/gpu_scaling.json"
else
  echo "=== scaling skipped: $DEVICES device(s) ==="
fi

# 6. The summary.
cat >"$WORK/summary.py" <<'EOF'
import json
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

work, out, log = sys.argv[1], sys.argv[2], sys.argv[3]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def junit(path):
    """Counts and the failed test ids of a junit xml file (None when absent)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites)
              for k in ("tests", "failures", "errors", "skipped")}
    counts["time_s"] = round(sum(float(s.get("time", 0)) for s in suites), 1)
    counts["passed"] = (counts["tests"] - counts["failures"] - counts["errors"]
                        - counts["skipped"])
    counts["failed_ids"] = [f"{c.get('classname')}::{c.get('name')}" for c in root.iter("testcase")
                            if c.find("failure") is not None or c.find("error") is not None]
    return counts


failed_lines = []
if os.path.exists(os.path.join(work, "failed_lines.txt")):
    failed_lines = open(os.path.join(work, "failed_lines.txt")).read().splitlines()
stages = []
for line in open(os.path.join(work, "stages.jsonl")) if os.path.exists(
        os.path.join(work, "stages.jsonl")) else []:
    stages.append(json.loads(line))
text = open(log, errors="replace").read()
summary_line = [m.strip("= ") for m in re.findall(
    r"^=*\s*\d+ (?:passed|failed|errors?|skipped|deselected)\b.*$", text, re.M)]
bench = load(os.path.join(out, "gpu_bench.json"))
peaks = load(os.path.join(work, "peaks.json")) or {}
if bench and not peaks and math.isfinite(bench.get("peak_matmul_gflops") or math.nan):
    peaks = {"float32": bench["peak_matmul_gflops"], "n": bench.get("peak_matmul_n")}
rows = []
for name, r in ((bench or {}).get("results") or {}).items():
    row = {"id": name, "workload": r["workload"], "per_second": r["per_second"],
           "per_second_min": r["per_second_min"], "per_second_max": r["per_second_max"],
           "unit": ("samples/s" if name in ("w6-flow", "w6-vae", "w8-sample") else
                    "evaluations/s" if name.startswith("w7") else "steps/s"), "first_call_s": r["compile_s"], "repeats": r["repeats"],
           "gflop_per_call": r["matmul_gflop_per_call"], "achieved_gflops": r["achieved_gflops"],
           "device_peak_mb": r.get("device_peak_mb")}
    for key in ("float32", "float32_highest", "bfloat16"):
        if peaks.get(key):
            row[f"fraction_of_{key}_peak"] = r["achieved_gflops"] / peaks[key]
    rows.append(row)
report = {
    "issue": 37,
    "environment": load(os.path.join(work, "env.json")),
    "stages": stages,
    "tests": {"junit": junit(os.path.join(work, "tests.xml")),
              "summary_lines": summary_line,
              "failed": failed_lines,
              "rerun_at_highest_precision": junit(os.path.join(work, "rerun.xml"))},
    "peak_matmul_gflops": peaks,
    "workloads": rows,
    "workload_failures": (bench or {}).get("failures", {}),
    "bench_environment": (bench or {}).get("environment"),
    "scaling": load(os.path.join(out, "gpu_scaling.json")),
}
with open(os.path.join(out, "gpu_check.json"), "w") as f:
    json.dump(report, f, indent=2, default=str)


def fmt(x, spec=".3g", unit=""):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec) + unit


env = report["environment"] or {}
v = env.get("versions", {})
md = ["# GPU check (issue 37)", "",
      f"Device: {env.get('device_kind', '?')} x {env.get('device_count', '?')} "
      f"(backend {env.get('backend', '?')}, "
      f"{fmt(env.get('device_memory_gib'), '.0f')} GiB for jax); Python {env.get('python', '?')}; "
      + ", ".join(f"{k} {v[k]}" for k in ("jax", "jaxlib", "jax-cuda13-plugin", "flax", "optax",
                                          "chex", "orbax-checkpoint", "distrax", "numpy")
                  if k in v) + ".", ""]
if env.get("gen_jax_import_error"):
    md += [f"**import gen_jax failed:** `{env['gen_jax_import_error']}`", ""]
md += ["| stage | exit | seconds | limit s |", "| --- | --- | --- | --- |"]
md += [f"| {s['stage']} | {s.get('rc')} | {s.get('seconds', '-')} | {s.get('limit_s', '-')} |"
       for s in stages]
t = report["tests"]["junit"]
md += ["", "## Tests", ""]
stopped = any(s["stage"] == "tests" and s.get("rc") in (124, 137) for s in stages)
if t:
    md.append(f"{t['passed']} passed, {t['failures']} failed, {t['errors']} errors, "
              f"{t['skipped']} skipped of {t['tests']} run ({t['time_s']} s)"
              + ("; stopped at the stage's time limit, the rest did not run." if stopped else "."))
else:
    md.append("No junit report (not run, or killed): " + "; ".join(summary_line or ["-"]))
md += [f"- `{line}`" for line in failed_lines[:40]]
rr = report["tests"]["rerun_at_highest_precision"]
if rr:
    md += ["", f"Failures re-run at float32 'highest' precision: {rr['passed']} passed, "
               f"{rr['failures'] + rr['errors']} still failing."]
    md += [f"- still failing: `{i}`" for i in rr["failed_ids"]]
md += ["", "## Benchmarks", ""]
if peaks:
    md.append("Measured matmul peak (n = %s, median of 10): float32 %s GFLOP/s (jax's default "
              "precision, what gen-jax bench reports), float32 'highest' %s, bfloat16 %s." % (
                  peaks.get("n"), fmt(peaks.get("float32"), ".0f"),
                  fmt(peaks.get("float32_highest"), ".0f"), fmt(peaks.get("bfloat16"), ".0f")))
md += ["", "| workload | per second (median) | min - max | first call s | GFLOP/call | "
           "GFLOP/s | % of f32 peak | % of bf16 peak | device peak MiB |",
       "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    f32, bf16 = r.get("fraction_of_float32_peak"), r.get("fraction_of_bfloat16_peak")
    md.append(f"| {r['workload']} ({r['unit']}) | {fmt(r['per_second'])} | "
              f"{fmt(r['per_second_min'])} - {fmt(r['per_second_max'])} | "
              f"{fmt(r['first_call_s'], '.1f')} | {fmt(r['gflop_per_call'])} | "
              f"{fmt(r['achieved_gflops'], '.0f')} | {fmt(f32 and 100 * f32, '.1f', '%')} | "
              f"{fmt(bf16 and 100 * bf16, '.1f', '%')} | {fmt(r['device_peak_mb'], '.0f')} |")
for name, why in report["workload_failures"].items():
    md.append(f"| {name} | not measured: {' '.join(why.split())[:300]} | | | | | | | |")
md += ["", "## Several devices", ""]
sc = report["scaling"]
if sc:
    for s in sc["scaling"]:
        md.append(f"{s['workload']}, per-device batch {s['per_device_batch']}:")
        md += [f"- {p['mode']}, {p['devices']} device(s): {p['examples_per_s']:.0f} examples/s, "
               f"efficiency {p['efficiency']:.2f}" for p in s["points"]]
else:
    md.append(f"Not run ({env.get('device_count', '?')} device(s)).")
with open(os.path.join(out, "gpu_check.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))
EOF
echo "=== summary ($(left)s of the budget left) ==="
timeout 60 "$PY" "$WORK/summary.py" "$WORK" "$OUT" "$OUT/gpu_check.log" \
  || echo "summary failed: see the log"
echo "=== done in $(($(date +%s) - START))s; files: $(ls "$OUT" | tr '\n' ' ') ==="
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null || true
