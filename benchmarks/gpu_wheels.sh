#!/usr/bin/env bash
# Prepares, on a CPU machine with network, the wheels that benchmarks/gpu_check.sh installs on a
# lent GPU machine (no network there; its python3 is CPython 3.12 with jax 0.11.2 + CUDA,
# flax, optax, chex, orbax-checkpoint, diffrax, equinox, lineax, scipy, scikit-learn,
# matplotlib, pytest, pytest-xdist, torch, ... already installed: see the device KINDS.md).
#
# It downloads, for CPython 3.12 on manylinux x86-64, exactly the packages that gen_jax, its
# tests and `gen-jax bench` import (or that those import) and that the GPU machine lacks, each
# pinned to the version installed in this checkout's .venv, into .whl/ (ignored by git through
# .git/info/exclude), and prints the total size. The run that uses them names ".whl" in its
# `carry`; the working tree plus .whl must stay under 64 MiB.
#
#   bash benchmarks/gpu_wheels.sh            # from anywhere; PYTHON=... picks the interpreter
#
# How the list was found (issue 37): every gen_jax module imported, plus the lazily imported
# libraries (tyro, ott, diffrax, tensorboardX, tensorflow_datasets, array_record, distrax,
# orbax, matplotlib, sklearn) and the collection of the tests; the distributions of the modules
# then loaded, less the GPU image's package list; plus the small declared dependencies of those
# that load lazily (gast, typeguard, termcolor, simple_parsing).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

# Missing on the GPU image (distribution names as pip spells them).
PACKAGES=(
  array_record        # tensorflow_datasets' record format (compiled)
  decorator           # tensorflow_probability
  distrax             # gen_jax.bijectors, the flows
  dm-tree             # tensorflow_probability, tensorflow_datasets (compiled)
  docstring_parser    # tyro
  gast                # tensorflow_probability (declared)
  immutabledict       # tensorflow_datasets
  jaxopt              # ott-jax
  ott-jax             # gen_jax.metrics (Sinkhorn)
  promise             # tensorflow_datasets (sdist only on PyPI: built into a wheel here)
  simple_parsing      # tensorflow_datasets (declared)
  tensorboardX        # gen_jax.train's TensorBoard writer
  tensorflow-datasets # gen_jax.data
  tensorflow-metadata # tensorflow_datasets
  termcolor           # tensorflow_datasets (declared)
  tfp-nightly         # distrax (tensorflow_probability.substrates.jax)
  toml                # tensorflow_datasets
  typeguard           # tyro
  tyro                # gen-jax train's command line
)

# Present on the GPU image, in a version we cannot know here: carried in .whl/if-older/, which
# gpu_check.sh installs only where the image's copy is older (tensorflow_metadata's generated
# code needs protobuf >= 6.31).
IF_OLDER=(protobuf)

# The versions installed here.
mapfile -t PINS < <("$PYTHON" - "${PACKAGES[@]}" <<'EOF'
import importlib.metadata as md
import sys

missing = []
for name in sys.argv[1:]:
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit(f"not installed in this environment: {missing}")
EOF
)
if [ "${#PINS[@]}" -ne "${#PACKAGES[@]}" ]; then
  echo "gpu_wheels.sh: install gen_jax's dependencies in $PYTHON's environment first" >&2
  exit 1
fi
mapfile -t OPTIONAL_PINS < <("$PYTHON" -c '
import importlib.metadata as md, sys
print("\n".join(f"{n}=={md.version(n)}" for n in sys.argv[1:]))' "${IF_OLDER[@]}")

EXCLUDE=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$EXCLUDE")"
grep -qxF '/.whl/' "$EXCLUDE" 2>/dev/null || echo '/.whl/' >>"$EXCLUDE"

rm -rf .whl
mkdir -p .whl/if-older
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312
          --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
          --platform manylinux1_x86_64)
for pin in "${PINS[@]}"; do
  if [ "${pin%%==*}" = promise ]; then  # no wheel on PyPI: build a pure-python one
    "$PYTHON" -m pip download -q --no-deps --no-binary :all: -d "$TMP" "$pin"
    "$PYTHON" -m pip wheel -q --no-deps -w .whl "$TMP"/promise-*.tar.gz
  else
    "$PYTHON" -m pip download -q --no-deps "${PLATFORM[@]}" -d .whl "$pin"
  fi
done
for pin in "${OPTIONAL_PINS[@]}"; do
  "$PYTHON" -m pip download -q --no-deps "${PLATFORM[@]}" -d .whl/if-older "$pin"
done

# One wheel per package, all of them installable by CPython 3.12 on x86-64 Linux.
"$PYTHON" - "${PINS[@]}" <<'EOF'
import pathlib
import re
import sys

wheels = sorted(pathlib.Path(".whl").glob("*.whl"))
optional = sorted(pathlib.Path(".whl/if-older").glob("*.whl"))
names = [re.sub(r"[-_.]+", "_", w.name.split("-")[0]).lower() for w in wheels]
want = {re.sub(r"[-_.]+", "_", p.split("==")[0]).lower() for p in sys.argv[1:]}
dupes = {n for n in names if names.count(n) > 1}
if dupes or set(names) != want:
    sys.exit(f"wheels {names} do not match the packages {sorted(want)} (duplicates {dupes})")
for w in wheels + optional:
    tags = w.name[:-4].split("-")[-3:]
    if not ((tags[0] in ("py3", "py2.py3", "cp312") or tags[1] == "abi3") and
            (tags[2] == "any" or "x86_64" in tags[2])):
        sys.exit(f"{w.name} is not for CPython 3.12 on x86-64 Linux")
EOF

find .whl -type f -name '*.whl' -printf '  %9s  %P\n' | sort -k2
WHEELS=$(find .whl -type f -name '*.whl' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
TREE=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null \
  | awk '$2 == "total" {s += $1} END {print s + 0}')
LIMIT=$((64 * 1024 * 1024))
awk -v n="$((${#PINS[@]} + ${#OPTIONAL_PINS[@]}))" -v w="$WHEELS" -v t="$TREE" 'BEGIN {
  m = 1048576
  printf "%d wheels, %.1f MiB; working tree that travels %.1f MiB; together %.1f of 64 MiB\n",
    n, w / m, t / m, (w + t) / m
}'
if [ $((WHEELS + TREE)) -ge $LIMIT ]; then
  echo "gpu_wheels.sh: .whl plus the working tree exceed 64 MiB" >&2
  exit 1
fi
