"""The serving side of the canary, run as a script in its own process by the InfraValidator.

It imports only the standard library and TensorFlow (never Lockgate), so what it measures is
a bare model server: import TensorFlow, load the SavedModel, call the signature once to warm
up, then once per request, timing each. It reports on stdout as JSON lines, one event at a
time, so when it crashes or hangs the parent knows how far it got:

    {"event": "ready", "rss_mb": ...}            TensorFlow imported
    {"event": "loaded", "seconds": ...}          the SavedModel loaded
    {"event": "request", "index": i, "ms": ...}  request i answered (-1: the warm-up)
    {"event": "error", "phase": ..., "request": i, "error": "..."}
    {"event": "done", "peak_rss_mb": ...}

Usage: ``python canary.py CONFIG_JSON``, where the config names ``model_dir``, ``signature``,
``requests_file`` (length-prefixed serialized tf.Examples) and ``batch_size``.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def read_requests(path: str) -> list[bytes]:
    """Records written as a uint32 little-endian length followed by the bytes."""
    with open(path, "rb") as handle:
        data = handle.read()
    records, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        records.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return records


# Lines of a TensorFlow error that say where in the graph, not what went wrong.
TRACE_LINES = ("Graph execution error", "Detected at node", "File ", "<stack traces",
               "[[{{node")


def describe(exc: BaseException) -> str:
    """``Type: message``, trimmed to what a person needs (TF wraps it in graph traces)."""
    text = str(getattr(exc, "message", None) or exc)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(TRACE_LINES)]
    return f"{type(exc).__name__}: {' '.join(lines[:3])[:600]}"


def answered(outputs: Any, rows: int) -> str | None:
    """None when every output has one answer per example of the request; else what is wrong."""
    if not isinstance(outputs, dict) or not outputs:
        return f"the signature returned {type(outputs).__name__}, not a dict of tensors"
    for name, tensor in outputs.items():
        shape = tensor.shape
        if shape.rank == 0 or shape[0] != rows:
            return f"output '{name}' has shape {shape.as_list()} for a request of {rows} example(s)"
    return None


def main(config_path: str) -> int:
    with open(config_path) as handle:
        config = json.load(handle)
    import tensorflow as tf

    emit("ready", rss_mb=round(peak_rss_mb(), 1))
    started = time.monotonic()
    try:
        loaded = tf.saved_model.load(config["model_dir"])
        signature = loaded.signatures[config["signature"]]
        inputs = signature.structured_input_signature[1]
        strings = [name for name, spec in inputs.items() if spec.dtype == tf.string]
        if len(inputs) != 1 or len(strings) != 1:
            raise ValueError(
                f"signature '{config['signature']}' takes {sorted(inputs)}; it must take one "
                "string tensor of serialized tf.Examples"
            )
    except Exception as exc:
        emit("error", phase="load", request=None, error=describe(exc))
        return 1
    [input_name] = strings
    emit("loaded", seconds=round(time.monotonic() - started, 3))

    records = read_requests(config["requests_file"])
    size = int(config["batch_size"])
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    for index, batch in [(-1, batches[0]), *enumerate(batches)]:  # -1: the warm-up request
        tensor = tf.constant(batch, dtype=tf.string)
        begin = time.perf_counter()
        try:
            outputs = signature(**{input_name: tensor})
        except Exception as exc:
            emit("error", phase="serve", request=index, error=describe(exc))
            return 1
        ms = (time.perf_counter() - begin) * 1000
        problem = answered(outputs, len(batch))
        if problem:
            emit("error", phase="serve", request=index, error=problem)
            return 1
        emit("request", index=index, ms=round(ms, 4), rows=len(batch))
    emit("done", peak_rss_mb=round(peak_rss_mb(), 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
