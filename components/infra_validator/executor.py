"""InfraValidator executor: run ``canary.py`` in a contained process and judge what it reports.

The parent never imports TensorFlow: it samples raw examples (TFRecord framing read with
numpy), starts the canary with ``subprocess`` in its own session, and watches it. Containment:

- time: ``startup_timeout_seconds`` until TensorFlow is imported, then ``timeout_seconds`` for
  loading the model and answering every request; past either, the process group is killed.
- memory: the kernel's peak RSS of the process (``VmHWM`` in /proc) is polled every 20 ms and
  the process group killed as soon as it exceeds ``max_memory_mb``. RLIMIT_AS is not used:
  TensorFlow reserves gigabytes of address space it never touches, so an address-space limit
  fails healthy models at import.
- crashes: a signal or non-zero exit is the verdict, with the tail of its stderr.

Every outcome is a verdict written to the InfraBlessing; only a broken setup (no examples, no
SavedModel) fails the node.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from components.evaluator.markers import BLESSING
from components.infra_validator import InfraValidatorParams
from components.infra_validator.markers import write_infra_blessing
from components.tfrecord import TFRecordError, read_records
from components.verdicts import refusal
from pipelines.sdk import Artifact, DataError, ExecutionContext, ExecutorResult, layout

CANARY = Path(__file__).with_name("canary.py")
LOG_FILE = "canary.log"
POLL_SECONDS = 0.02
STDERR_TAIL = 1500


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, InfraValidatorParams)
    model, examples = _required(ctx, "model"), _required(ctx, "examples")
    blessing = ctx.one("blessing")
    output = ctx.outputs["infra_blessing"]
    if params.require_blessing and blessing is not None:
        refused = refusal(BLESSING, blessing, model)
        if refused:
            # Completes rather than skips: under Airflow a skip would skip the Pusher without
            # running it, and the Pusher is where "not blessed" belongs.
            reason = f"not validated: the Evaluator did not bless model {model.id}: {refused}"
            ctx.log.info("not starting a canary of model %s: %s", model.id, refused)
            write_infra_blessing(output.path, False, {"model_id": model.id, "reason": reason,
                                                      "validated": False})
            output.properties.update({"blessed": 0, "model_id": model.id or -1})
            return ExecutorResult(message=f"not infra blessed: {reason}",
                                  properties={"blessed": 0})

    model_dir = model.path / layout.SERVING_MODEL_DIR
    if not (model_dir / "saved_model.pb").is_file():
        raise DataError(
            f"the Model artifact {model.id} has no serving SavedModel at {model_dir}; re-run "
            "the Trainer that produced it"
        )
    samples, distinct = sample_requests(examples, params.split, params.requests)
    ctx.progress(0, None, f"canary: serving {len(samples)} examples to model {model.id}")
    report = run_canary(model_dir, samples, params, output.path / LOG_FILE)
    verdict = judge(report, params)

    record = {
        "model_id": model.id,
        "reason": verdict or "",
        "validated": True,
        "requests": len(samples),
        "distinct_examples": distinct,
        "batch_size": params.batch_size,
        "split": params.split,
        **report.summary(),
        "limits": {
            "timeout_seconds": params.timeout_seconds,
            "max_latency_p50_ms": params.max_latency_p50_ms,
            "max_latency_p99_ms": params.max_latency_p99_ms,
            "max_memory_mb": params.max_memory_mb,
        },
    }
    if verdict:
        record["stderr_tail"] = report.stderr_tail
    write_infra_blessing(output.path, verdict is None, record)
    output.properties.update({"blessed": int(verdict is None), "model_id": model.id or -1})

    properties: dict[str, Any] = {
        "blessed": int(verdict is None),
        "canary_seconds": round(report.seconds, 2),
    }
    for key in ("latency_p50_ms", "latency_p99_ms", "peak_memory_mb"):
        value = record.get(key)
        if value is not None:
            properties[key] = value
    if verdict:
        ctx.log.warning("model %s is not infra blessed: %s", model.id, verdict)
        return ExecutorResult(message=f"not infra blessed: {verdict}", properties=properties)
    return ExecutorResult(
        message=(
            f"infra blessed: {len(samples)} examples answered in "
            f"{report.calls} request(s), p50 {record['latency_p50_ms']} ms, p99 "
            f"{record['latency_p99_ms']} ms, peak memory {record['peak_memory_mb']} MB, "
            f"model loaded in {report.load_seconds} s"
        ),
        properties=properties,
    )


@dataclass
class CanaryReport:
    """What the canary process reported and how it ended."""

    latencies_ms: list[float] = field(default_factory=list)
    warmup_ms: float | None = None
    load_seconds: float | None = None
    startup_rss_mb: float | None = None
    peak_rss_mb: float = 0.0
    done: bool = False
    error: dict[str, Any] | None = None
    killed: str | None = None  # why the parent killed it: timeout or memory
    returncode: int | None = None
    seconds: float = 0.0
    stderr_tail: str = ""
    phase: str = "startup"

    @property
    def calls(self) -> int:
        return len(self.latencies_ms)

    def summary(self) -> dict[str, Any]:
        return {
            "answered_requests": self.calls,
            "latency_p50_ms": _round(percentile(self.latencies_ms, 50)),
            "latency_p99_ms": _round(percentile(self.latencies_ms, 99)),
            "latency_max_ms": _round(max(self.latencies_ms, default=None)),
            "warmup_ms": _round(self.warmup_ms),
            "load_seconds": self.load_seconds,
            "startup_memory_mb": self.startup_rss_mb,
            "peak_memory_mb": round(self.peak_rss_mb, 1) if self.peak_rss_mb else None,
            "canary_seconds": round(self.seconds, 3),
            "returncode": self.returncode,
        }


def sample_requests(examples: Artifact, split: str, count: int) -> tuple[list[bytes], int]:
    """The first ``count`` serialized examples of ``split`` (cycled when it has fewer), and
    how many distinct examples that is. Reads only as many files as it needs."""
    splits = layout.split_names(examples)
    if split not in splits:
        raise DataError(
            f"the Examples artifact {examples.id} has no split '{split}' (it has "
            f"{', '.join(splits) or 'none'}); set the InfraValidator's split"
        )
    found: list[bytes] = []
    for path in layout.examples_files(examples, split):
        try:
            records, _ = read_records(Path(path))
        except TFRecordError as exc:
            raise DataError(f"{path} is not a valid TFRecord file ({exc})") from exc
        found.extend(records[: count - len(found)])
        if len(found) >= count:
            break
    if not found:
        raise DataError(
            f"split '{split}' of Examples artifact {examples.id} has no examples to send"
        )
    distinct = len(found)
    return [found[i % distinct] for i in range(count)], distinct


def run_canary(
    model_dir: Path, samples: list[bytes], params: InfraValidatorParams, log_path: Path
) -> CanaryReport:
    """Start the canary process, feed it ``samples`` and watch it until it ends or is killed."""
    report = CanaryReport()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lockgate-canary-") as work:
        requests_file = Path(work) / "requests.bin"
        requests_file.write_bytes(
            b"".join(struct.pack("<I", len(s)) + s for s in samples)
        )
        config = Path(work) / "config.json"
        config.write_text(json.dumps({
            "model_dir": str(model_dir), "signature": params.signature_name,
            "requests_file": str(requests_file), "batch_size": params.batch_size,
        }))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        with log_path.open("w+b") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(CANARY), str(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                cwd=work, env=env, start_new_session=True,
            )
            try:
                _watch(process, report, params, started)
            finally:
                _kill(process)
                report.returncode = process.wait()
                report.seconds = time.monotonic() - started
                stderr.seek(0, os.SEEK_END)
                stderr.seek(max(0, stderr.tell() - STDERR_TAIL))
                report.stderr_tail = stderr.read().decode("utf-8", "replace")
    return report


def _watch(
    process: subprocess.Popen[bytes], report: CanaryReport, params: InfraValidatorParams,
    started: float,
) -> None:
    assert process.stdout is not None
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=_read_events, args=(process.stdout, events), daemon=True).start()
    deadline = started + params.startup_timeout_seconds
    while True:
        report.peak_rss_mb = max(report.peak_rss_mb, _peak_rss_mb(process.pid))
        if params.max_memory_mb is not None and report.peak_rss_mb > params.max_memory_mb:
            report.killed = "memory"
            return
        if time.monotonic() > deadline:
            report.killed = "timeout"
            return
        try:
            event = events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if event is None:  # stdout closed: the process ended
            return
        kind = event.get("event")
        if kind == "ready":
            report.startup_rss_mb = event.get("rss_mb")
            report.phase = "load"
            deadline = time.monotonic() + params.timeout_seconds
        elif kind == "loaded":
            report.load_seconds = event.get("seconds")
            report.phase = "serve"
        elif kind == "request":
            if event["index"] < 0:
                report.warmup_ms = float(event["ms"])
            else:
                report.latencies_ms.append(float(event["ms"]))
        elif kind == "error":
            report.error = event
        elif kind == "done":  # all answered: what TensorFlow does on its way out is not judged
            report.done = True
            report.peak_rss_mb = max(report.peak_rss_mb, float(event.get("peak_rss_mb", 0)),
                                     _peak_rss_mb(process.pid))
            return


def _read_events(stream: IO[bytes], events: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        try:
            events.put(json.loads(line))
        except ValueError:
            continue  # something the model printed; not ours
    events.put(None)


def judge(report: CanaryReport, params: InfraValidatorParams) -> str | None:
    """None when the canary passed; otherwise why not, in one line for people."""
    if report.killed == "memory":
        return (f"the serving process used {report.peak_rss_mb:.0f} MB, above max_memory_mb "
                f"{params.max_memory_mb:g}, while {_doing(report)}; it was killed")
    if report.killed == "timeout":
        if report.phase == "startup":
            return (f"the serving process did not start within startup_timeout_seconds "
                    f"{params.startup_timeout_seconds:g} (importing TensorFlow); it was killed")
        return (f"timed out after timeout_seconds {params.timeout_seconds:g} while "
                f"{_doing(report)}; the model hangs or is far too slow, and was killed")
    if report.error is not None:
        error = report.error.get("error", "")
        if report.error.get("phase") == "load":
            return f"the model failed to load: {error}"
        index = int(report.error.get("request") or 0)
        which = "the warm-up request" if index < 0 else (
            f"request {index + 1} of {_planned(params)}")
        return f"the serving signature failed on {which}: {error}"
    if not report.done:
        code = report.returncode
        how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None
               and code < 0 else f"exited with code {code}")
        tail = report.stderr_tail.strip().splitlines()[-1:] or [""]
        return f"the serving process {how} while {_doing(report)}" + (
            f": {tail[0][:300]}" if tail[0] else "")
    problems = []
    for q, bound in ((50, params.max_latency_p50_ms), (99, params.max_latency_p99_ms)):
        latency = percentile(report.latencies_ms, q)
        if bound is not None and latency is not None and latency > bound:
            problems.append(f"p{q} latency {latency:.3g} ms > max_latency_p{q}_ms {bound:g}")
    if params.max_memory_mb is not None and report.peak_rss_mb > params.max_memory_mb:
        problems.append(f"peak memory {report.peak_rss_mb:.0f} MB > max_memory_mb "
                        f"{params.max_memory_mb:g}")
    return "; ".join(problems) or None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: a latency some request really had, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _planned(params: InfraValidatorParams) -> int:
    return math.ceil(params.requests / params.batch_size)


def _doing(report: CanaryReport) -> str:
    """Where the canary was, for a message: the phase, and the request it was on."""
    if report.phase == "startup":
        return "starting up (importing TensorFlow)"
    if report.phase == "load":
        return "loading the model"
    if report.warmup_ms is None:
        return "serving the warm-up request"
    return f"serving request {len(report.latencies_ms) + 1}"


def _peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of the process's resident memory, 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _kill(process: subprocess.Popen[bytes]) -> None:
    """The canary and anything it started: it runs in its own session."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"InfraValidator needs its '{name}' input, but none was resolved")
    return artifact


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
