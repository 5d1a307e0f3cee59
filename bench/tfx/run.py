"""`make bench-tfx`: the TFX 1.16 side of the benchmark (issue 6), in the TFX venv.

    PY=$(bash bench/tfx/setup.sh)
    $PY bench/tfx/run.py [--figures penguin_cold,import_tfx] [--repeats 3] [--out FILE]

Every figure times whole fresh processes (imports included), as the Lockgate side does:
penguin_pipeline.py / pupdates_pipeline.py / numeric_pipeline.py on fresh homes (pipeline root +
SQLite MLMD), and `python -c "import tfx.v1"`. Peak RSS is each child's own (os.wait4),
per-component seconds come from the MLMD executions of the run (creation to last update). Writes
bench/results/<date>-<host>-tfx.json by default, next to the Lockgate result bench/report.py
pairs it with; an existing file is updated figure by figure, so partial runs accumulate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = REPO / "bench" / "results"
PENGUIN_SCHEMA = REPO / "schemas" / "penguin" / "schema.pbtxt"
# The generated data sets at two sizes each: (data set, rows). Each has <data set>_pipeline.py.
SCALE_FIGURES = {
    "pupdates_100k": ("pupdates", 100_000),
    "pupdates_1m": ("pupdates", 1_000_000),
    "numeric_100k": ("numeric", 100_000),
    "numeric_1m": ("numeric", 1_000_000),
}
FIGURES = ("penguin_cold", "penguin_second", "penguin_cached", "import_tfx", *SCALE_FIGURES)
DEFAULT_FIGURES = ("penguin_cold", "penguin_cached", "import_tfx", *SCALE_FIGURES)
PACKAGES = ("tfx", "tensorflow", "tf-keras", "tensorflow-data-validation",
            "tensorflow-transform", "tensorflow-model-analysis", "tfx-bsl", "ml-metadata",
            "apache-beam", "pyarrow", "numpy", "pandas", "protobuf")
ROW_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")
BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@dataclass(frozen=True)
class ProcessRun:
    wall_s: float
    peak_rss_mb: float
    log: Path


@dataclass(frozen=True)
class PipelineRun:
    process: ProcessRun
    components: dict[str, float]
    states: dict[str, str]
    outcome: dict[str, bool]


# --- measuring ---------------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    """The caller's environment without Lockgate's, Airflow's or a venv's settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCKGATE_", "AIRFLOW")) and k != "VIRTUAL_ENV"}
    env["TF_USE_LEGACY_KERAS"] = "1"  # tf-keras, as Lockgate's launcher sets it
    return env


def run_process(cmd: Sequence[str], log: Path, cwd: Path = REPO) -> ProcessRun:
    """Run ``cmd`` to completion, output to ``log``; wall time and this child's peak RSS.

    os.wait4 returns the rusage of exactly this child (and anything it waited for), the number
    GNU time's %M reports, without another process in between.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=child_env(), stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-40:])
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}; log {log}:\n{tail}")
    return ProcessRun(wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024, log=log)


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def latest_run(mlmd_path: Path) -> tuple[dict[str, float], dict[str, str], dict[str, bool]]:
    """Seconds and final state of each node's execution in the latest pipeline run in MLMD, and
    whether the newest model blessing and push say blessed / pushed.

    TFX registers an execution before its driver and executor run and updates it when the
    outputs are published, so creation to last update is the component's whole cost.
    """
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as mlmd_pb2

    config = mlmd_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(mlmd_path)
    config.sqlite.connection_mode = mlmd_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(config)
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        raise RuntimeError(f"no TFX pipeline run recorded in {mlmd_path}")
    latest = max(runs, key=lambda c: c.create_time_since_epoch)
    nodes = {c.id: c.name.split(".", 1)[-1] for c in store.get_contexts_by_type("node")}
    seconds, states = {}, {}
    for execution in store.get_executions_by_context(latest.id):
        node = next((nodes[c.id] for c in store.get_contexts_by_execution(execution.id)
                     if c.id in nodes), None)
        if node is None:
            continue
        seconds[node] = (execution.last_update_time_since_epoch
                         - execution.create_time_since_epoch) / 1000
        states[node] = mlmd_pb2.Execution.State.Name(execution.last_known_state)
    outcome = {}
    for flag, type_name in (("blessed", "ModelBlessing"), ("pushed", "PushedModel")):
        newest = max(store.get_artifacts_by_type(type_name), key=lambda a: a.id, default=None)
        value = newest.custom_properties.get(flag) if newest is not None else None
        outcome[flag] = bool(value is not None and value.int_value)
    return seconds, states, outcome


def figure(runs: Sequence[PipelineRun], **extra: Any) -> dict[str, Any]:
    nodes = [n for n in runs[0].components if all(n in r.components for r in runs)]
    return {
        "wall_s": summary([r.process.wall_s for r in runs]),
        "peak_rss_mb": summary([r.process.peak_rss_mb for r in runs], digits=1),
        "components": {n: summary([r.components[n] for r in runs]) for n in nodes},
        # The last run's execution states: CACHED everywhere proves a cached figure is one.
        "states": runs[-1].states,
        # Every run must bless and push, as Lockgate's does, or the two did different work.
        "blessed": [r.outcome["blessed"] for r in runs],
        "pushed": [r.outcome["pushed"] for r in runs],
        **extra,
    }


# --- the pipelines -----------------------------------------------------------------------------

class Bench:
    def __init__(self, work: Path, beam_args: list[str], log: Callable[[str], None]) -> None:
        self.work = work
        self.beam_args = beam_args
        self.log = log

    def pipeline(self, script: str, home: Path, label: str, *extra: str) -> PipelineRun:
        cmd = [sys.executable, str(HERE / script), "--home", str(home), *extra,
               *(f"--beam-arg={arg}" for arg in self.beam_args)]
        process = run_process(cmd, self.work / "logs" / f"{label}.log")
        return PipelineRun(process, *latest_run(home / "metadata.sqlite"))

    def fresh_home(self, name: str) -> Path:
        home = self.work / "homes" / name
        shutil.rmtree(home, ignore_errors=True)
        return home

    def penguin(self, repeats: int, wanted: set[str]) -> dict[str, Any]:
        """Per repeat, on one fresh home: the cold run; then (when a cached figure is wanted)
        the second run, in which TFX re-runs Evaluator and Pusher because the first run's model
        is now the blessed baseline; then the third run, which is fully cached."""
        cold, second, cached = [], [], []
        for i in range(repeats):
            home = self.fresh_home(f"penguin-{i}")
            cold.append(self.pipeline("penguin_pipeline.py", home, f"penguin-{i}-cold"))
            line = f"penguin {i + 1}/{repeats}: cold {cold[-1].process.wall_s:.1f}s"
            if wanted & {"penguin_second", "penguin_cached"}:
                second.append(self.pipeline("penguin_pipeline.py", home, f"penguin-{i}-second"))
                cached.append(self.pipeline("penguin_pipeline.py", home, f"penguin-{i}-cached"))
                line += (f", second {second[-1].process.wall_s:.1f}s, "
                         f"cached {cached[-1].process.wall_s:.1f}s")
            self.log(line)
            shutil.rmtree(home, ignore_errors=True)
        schema = (f"imported {PENGUIN_SCHEMA.relative_to(REPO)}" if PENGUIN_SCHEMA.is_file()
                  else "inferred by SchemaGen (the repo has no curated penguin schema yet)")
        out = {"penguin_cold": figure(cold, schema=schema)}
        if second:
            out["penguin_second"] = figure(second)
            out["penguin_cached"] = figure(cached)
        return out  # penguin_second too when measured: Lockgate reports it as well

    def import_tfx(self, repeats: int) -> dict[str, Any]:
        runs = [run_process([sys.executable, "-c", "import tfx.v1"],
                            self.work / "logs" / f"import-tfx-{i}.log") for i in range(repeats)]
        self.log(f"import tfx.v1: {', '.join(f'{r.wall_s:.1f}s' for r in runs)}")
        return {"wall_s": summary([r.wall_s for r in runs]),
                "peak_rss_mb": summary([r.peak_rss_mb for r in runs], digits=1),
                "components": {}}

    def scale(self, dataset: str, rows: int, repeats: int, data: Path) -> dict[str, Any]:
        """``<dataset>_pipeline.py`` on ``rows`` generated rows, each run on a fresh home."""
        runs = []
        for i in range(repeats):
            label = f"{dataset}-{rows}-{i}"
            home = self.fresh_home(label)
            runs.append(self.pipeline(f"{dataset}_pipeline.py", home, label, "--data", str(data)))
            self.log(f"{dataset} {rows:,} rows {i + 1}/{repeats}: "
                     f"{runs[-1].process.wall_s:.1f}s")
            shutil.rmtree(home, ignore_errors=True)
        fig = figure(runs, rows=rows, beam_args=self.beam_args,
                     schema=f"imported schemas/{dataset}/schema.pbtxt")
        # Throughput only where the work grows with the rows (the Trainer runs fixed steps).
        fig["rows_per_s"] = {node: round(rows / t["median"])
                             for node, t in fig["components"].items()
                             if node in ROW_COMPONENTS and t["median"] > 0}
        return fig


# --- data --------------------------------------------------------------------------------------

def datagen_data(dataset: str, rows: int, cache: Path,
                 log: Callable[[str], None]) -> tuple[Path, str]:
    """The generator's file (default seed, one span, as the Lockgate harness generates it) and a
    TFX-readable version of it; returns the latter's folder and the original file's sha256.

    The TFX version differs only in its header line, unquoted: CsvExampleGen splits the header
    on commas without unquoting it. pupdates' header is quoted, so TFX gets a copy; numeric's is
    plain, so TFX gets a hard link to the same file. The data rows are byte-identical, and the
    generators are deterministic, so the files are kept between runs.
    """
    raw, tfx_dir = cache / f"{dataset}-{rows}", cache / f"{dataset}-{rows}-tfx"
    done = tfx_dir / ".complete"
    if not done.is_file():
        shutil.rmtree(raw, ignore_errors=True)
        shutil.rmtree(tfx_dir, ignore_errors=True)
        log(f"generating {dataset} data, {rows:,} rows")
        uv = [shutil.which("uv")] if shutil.which("uv") else ["python3", "-m", "uv"]
        run_process([*uv, "run", "--frozen", "lockgate", "datagen", dataset,
                     "--rows", str(rows), "--out", str(raw)],
                    cache / f"datagen-{dataset}-{rows}.log")
        for source in sorted(raw.glob("span-*/*.csv")):
            target = tfx_dir / source.parent.name / source.name
            target.parent.mkdir(parents=True)
            with source.open("rb") as src:
                header = src.readline()
                if b'"' not in header:
                    os.link(source, target)
                    continue
                with target.open("wb") as dst:
                    dst.write(header.replace(b'"', b""))
                    shutil.copyfileobj(src, dst, 16 << 20)
        digest = hashlib.sha256()
        with next(raw.glob("span-*/*.csv")).open("rb") as f:
            while chunk := f.read(16 << 20):
                digest.update(chunk)
        done.write_text(digest.hexdigest())
    return tfx_dir, done.read_text().strip()


# --- the result file ---------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"host": socket.gethostname(), "cores": os.cpu_count(),
            "memory_gb": round(pages / 2**30, 1), "python": platform.python_version(),
            "platform": platform.platform()}


def versions() -> dict[str, str]:
    try:
        return {name: metadata.version(name) for name in PACKAGES}
    except metadata.PackageNotFoundError as exc:
        sys.exit(f"error: {exc.name} is not installed in {sys.executable}; run this script "
                 "with the TFX venv's python: PY=$(bash bench/tfx/setup.sh); $PY bench/tfx/run.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=",".join(DEFAULT_FIGURES),
                        help=f"comma-separated subset of {', '.join(FIGURES)} "
                        f"(default: {','.join(DEFAULT_FIGURES)})")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--repeats-1m", type=int,
                        help="runs of pupdates_1m and numeric_1m (default: --repeats; each "
                        "takes minutes)")
    parser.add_argument("--out", type=Path, help="default: bench/results/<date>-<host>-tfx.json")
    parser.add_argument("--work", type=Path,
                        help="scratch folder (default: $LOCKGATE_HOME/bench/tfx-work)")
    parser.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG",
                        help=f"Beam argument for every pipeline (default: {' '.join(BEAM_ARGS)})")
    args = parser.parse_args()
    wanted = [f for f in args.figures.split(",") if f]
    unknown = sorted(set(wanted) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}; choose from {', '.join(FIGURES)}")
    if args.repeats < 1 or (args.repeats_1m is not None and args.repeats_1m < 1):
        parser.error("repeats must be at least 1")

    def log(line: str) -> None:
        print(f"[bench-tfx {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    home = Path(os.environ.get("LOCKGATE_HOME") or REPO / ".lockgate")
    work = (args.work or home / "bench" / "tfx-work").resolve()
    out = args.out or RESULTS / f"{dt.date.today()}-{socket.gethostname()}-tfx.json"
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    result.update(system="tfx", started=dt.datetime.now().isoformat(timespec="seconds"),
                  machine=machine(), versions=versions(), repeats=args.repeats)
    result.setdefault("figures", {})
    result.setdefault("notes", {})
    bench = Bench(work, args.beam_args or BEAM_ARGS, log)

    def note_repeats(name: str, repeats: int) -> None:
        if repeats < 3:
            result["notes"][name] = (f"{repeats} run(s) only (--repeats/--repeats-1m); "
                                     "the issue asks for at least 3")
        else:
            result["notes"].pop(name, None)

    def save() -> None:
        result["updated"] = dt.datetime.now().isoformat(timespec="seconds")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")

    penguin = {f for f in wanted if f.startswith("penguin")}
    if penguin:
        log(f"figures {sorted(penguin)}")
        figures = bench.penguin(args.repeats, penguin)
        result["figures"].update(figures)
        for name in figures:
            note_repeats(name, args.repeats)
        save()
    if "import_tfx" in wanted:
        result["figures"]["import_tfx"] = bench.import_tfx(args.repeats)
        note_repeats("import_tfx", args.repeats)
        save()
    for name, (dataset, rows) in SCALE_FIGURES.items():
        if name not in wanted:
            continue
        repeats = args.repeats_1m if name.endswith("_1m") and args.repeats_1m else args.repeats
        data, sha256 = datagen_data(dataset, rows, work / "data", log)
        result["figures"][name] = {**bench.scale(dataset, rows, repeats, data),
                                   "data_sha256": sha256}
        note_repeats(name, repeats)
        save()
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
