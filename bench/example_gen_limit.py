"""Figure 6: ExampleGen against the floor of its own work on the same CSV.

The floor is the least any CSV-to-tf.Example step can do: ``pyarrow.csv.read_csv`` (multi-
threaded) and tfx-bsl's ``RecordBatchToExamplesEncoder`` over the whole table. ExampleGen does
that plus the content fingerprint, malformed-row checks, hash splits and the gzipped TFRecord
writes. Both run in this process after one untimed warm-up each, so imports are not in either.

    uv run --frozen python -m bench.example_gen_limit DATA_DIR [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import summary


def read_and_encode(csv_path: Path) -> int:
    """The floor: read the file into Arrow, encode every row as a serialized tf.Example."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv
    from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

    table = csv.read_csv(csv_path)
    # tf.Example holds int64, float and bytes lists only: the least conversion that allows.
    wanted = {pa.types.is_string: pa.binary(), pa.types.is_boolean: pa.int64(),
              pa.types.is_floating: pa.float32()}
    for i, field in enumerate(table.schema):
        target = next((t for test, t in wanted.items() if test(field.type)), None)
        if target is not None:
            table = table.set_column(i, field.name, table.column(i).cast(target))
    encoder = RecordBatchToExamplesEncoder()
    encoded = 0
    for batch in table.to_batches(max_chunksize=65_536):
        # The encoder takes list columns: each scalar becomes a one-element list.
        offsets = pa.array(np.arange(batch.num_rows + 1, dtype=np.int64))
        lists = [pa.LargeListArray.from_arrays(offsets, column) for column in batch.columns]
        encoded += len(encoder.encode(pa.RecordBatch.from_arrays(lists, batch.schema.names)))
    return encoded


def example_gen(csv_path: Path, out: Path) -> int:
    """The real ExampleGen executor on the file, writing into ``out``."""
    from pipelines.component import Artifact, ExecutionContext
    from pipelines.registry import spec_for

    spec = spec_for("ExampleGen")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    ctx = ExecutionContext(
        pipeline_name="bench", pipeline_root=out.parent, node_id="example_gen",
        run_id="bench", params=spec.params.model_validate({"input": str(csv_path)}),
        inputs={}, outputs={"examples": Artifact(type="Examples", uri=str(out))},
        beam_args=[], config_dir=csv_path.parent, log=logging.getLogger("bench.example_gen"),
    )
    from components.example_gen.executor import run

    result = run(ctx)
    return int(result.properties["rows"])


def measure(data_dir: Path, repeats: int) -> dict[str, Any]:
    [csv_path] = sorted(data_dir.glob("span-*/*.csv"))[-1:]
    timings: dict[str, list[float]] = {"example_gen_s": [], "read_encode_s": []}
    rows = 0
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-eg-") as tmp:
        out = Path(tmp) / "examples"
        example_gen(csv_path, out)  # warm-up: imports, page cache
        read_and_encode(csv_path)
        for _ in range(repeats):  # interleaved, so drift in the machine hits both alike
            started = time.perf_counter()
            rows = example_gen(csv_path, out)
            timings["example_gen_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            read_and_encode(csv_path)
            timings["read_encode_s"].append(time.perf_counter() - started)
    figure: dict[str, Any] = {"rows": rows, "file": str(csv_path),
                              "file_mb": round(csv_path.stat().st_size / 2**20, 1)}
    figure.update({name: summary(values) for name, values in timings.items()})
    figure["ratio"] = round(figure["example_gen_s"]["median"] / figure["read_encode_s"]["median"],
                            3)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a `lockgate datagen pupdates` output")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.data_dir, args.repeats), indent=2))


if __name__ == "__main__":
    main()
