#!/usr/bin/env bash
# Build the separate venv with the real TFX 1.16 for the benchmark's TFX side (issue 6).
#
#   bash bench/tfx/setup.sh            # prints the venv's python on the last line
#
# The venv lives at $LOCKGATE_HOME/bench/tfx-venv (LOCKGATE_HOME defaults to <repo>/.lockgate),
# never in the project's .venv. It is built from the pinned bench/tfx/requirements.txt, so the
# TFX side is reproducible. Idempotent: a stamp records the requirements' hash and the
# interpreter; when both match, nothing is installed again.
#
# Python: 3.11 by default, the same interpreter version as Lockgate's own venv, so the two sides
# differ only in the framework. TFX 1.16 with apache-beam[gcp] 2.61 resolves on 3.11 to the same
# TF/TFDV/TFT/TFMA/tfx-bsl/pyarrow versions as uv.lock. Override with TFX_PYTHON (a version or a
# path, e.g. TFX_PYTHON=/root/.pyenv/versions/3.10.13/bin/python) if 3.11 ever stops resolving.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LOCKGATE_HOME="${LOCKGATE_HOME:-$REPO/.lockgate}"
VENV="$LOCKGATE_HOME/bench/tfx-venv"
PYTHON_REQUEST="${TFX_PYTHON:-3.11}"
REQUIREMENTS="$HERE/requirements.txt"
STAMP="$VENV/lockgate-bench-stamp"
VERSIONS="$VENV/lockgate-bench-versions.json"
UV="$(command -v uv 2>/dev/null || echo "python3 -m uv")"

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) python=$PYTHON_REQUEST bytecode"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
    echo "TFX venv up to date: $VENV" >&2
    echo "$VENV/bin/python"
    exit 0
fi

echo "building the TFX venv at $VENV (python $PYTHON_REQUEST)" >&2
mkdir -p "$(dirname "$VENV")"
rm -f "$STAMP"
# only-system: use an interpreter already on the machine (pyenv), never download one.
$UV venv --quiet --allow-existing --python-preference only-system --python "$PYTHON_REQUEST" "$VENV"
# sync, not install: the venv ends up with exactly the pinned set, whatever it held before.
# Bytecode now, so that the first timed `import tfx.v1` does not pay for compiling it.
$UV pip sync --quiet --compile-bytecode --python "$VENV/bin/python" "$REQUIREMENTS"

# Record what was installed (also embedded in every result JSON by run.py).
"$VENV/bin/python" - "$VERSIONS" <<'PY'
import json, platform, sys
from importlib import metadata

names = ["tfx", "tensorflow", "tf-keras", "tensorflow-data-validation", "tensorflow-transform",
         "tensorflow-model-analysis", "tfx-bsl", "ml-metadata", "apache-beam", "pyarrow",
         "numpy", "pandas", "protobuf"]
versions = {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}
with open(sys.argv[1], "w") as out:
    json.dump(versions, out, indent=2)
print(", ".join(f"{k} {v}" for k, v in versions.items()), file=sys.stderr)
PY
echo "$wanted" > "$STAMP"
echo "$VENV/bin/python"
