"""Deterministic generator of the numeric data set: 30 float features and a binary label.

The benchmark's second shape (issue 17): where pupdates is strings, lists and a heavy-tailed
count, this is a wide table of floats with no missing cells and no slices, so the cost of every
component is the cost of numbers.

Each feature is ``loc + scale * draw``. The draws come in four kinds: standard normal
(f00-f09), lognormal (f10-f17, always positive), uniform with unit variance (f18-f23), and
normal draws correlated with one of f00-f05 (f24-f29). Locs and scales span three orders of
magnitude, so a model needs the features z-scored. The label is 1 when a fixed function of the
draws plus logistic noise is positive: linear in twelve of them (the lognormal ones through
their log), with one interaction and one square that a linear model cannot see. A little under
half of the rows are positive (48%); a linear model of the z-scored features labels 78% of them
right, a small network 80-81%, and the noise leaves no model more than 82%. The "world" (locs,
scales, weights) is fixed in this module, so every seed samples the same world; the seed only
picks the rows. The same arguments always give a byte-identical file.

Rows are generated in chunks of ``CHUNK_ROWS`` with numpy, each chunk from its own seed
(seed, chunk), and written with pyarrow.csv straight into the open file, so memory stays
bounded at 10M rows. Values are rounded to 4 decimals and written as float32. The header is
written plain, without quotes, so readers that split it on commas (TFX's CsvExampleGen) read
the file as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.datagen.pupdates import DatagenError

N_FEATURES = 30
FEATURES = tuple(f"f{i:02d}" for i in range(N_FEATURES))
LABEL = "label"
COLUMNS = ("id", *FEATURES, LABEL)
FILE_NAME = "numeric.csv"
SPAN_FOLDER = "span-1"  # one span, read by an ExampleGen input of span-{SPAN}/numeric.csv
CHUNK_ROWS = 250_000  # peak RSS ~400 MB, whatever the rows (1M rows: 250 MB of CSV in 5 s)
DECIMALS = 4

NORMAL = slice(0, 10)
LOGNORMAL = slice(10, 18)
UNIFORM = slice(18, 24)
CORRELATED = slice(24, 30)
# f24..f29 follow f00..f05 with these correlations.
_SOURCES = slice(0, 6)
_RHO = np.array([0.9, 0.8, -0.7, 0.6, 0.5, -0.9])

# The label's logit, over the unit-variance draws (a lognormal feature's normal draw, i.e. its
# log): weights of the linear part, an interaction, a centred square and a bias. The logit's
# spread (std 2.7) against the logistic noise (std 1.8) sets how learnable the label is.
_WEIGHTS = {0: 1.0, 1: -0.8, 2: 0.6, 3: 0.5, 10: 0.7, 11: -0.6, 12: 0.4, 18: 0.8, 19: -0.5,
            24: 0.6, 25: -0.4, 26: 0.3}
_INTERACTION = (4, 5, 0.8)  # 0.8 * f04 * f05
_SQUARE = (6, 0.5)  # 0.5 * (f06² - 1): zero mean, so it leaves the balance alone
_BIAS = -0.2  # 48% of the rows positive
_WORLD_SEED = 20240917  # fixes locs, scales and lognormal shapes, independently of --seed


def generate(out: Path, rows: int, seed: int = 0) -> Path:
    """Write ``<out>/span-1/numeric.csv`` with ``rows`` rows and return its path.

    Columns: ``id`` (1..rows), ``f00``..``f29`` (floats) and ``label`` (0 or 1).
    """
    _check_options(rows, seed)
    world = _World.build()
    path = Path(out) / SPAN_FOLDER / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        sink.write((",".join(COLUMNS) + "\n").encode())
        for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
            n = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng(np.random.SeedSequence([seed, chunk]))
            values, label = world.sample(rng, n)
            ids = start + 1 + np.arange(n, dtype=np.int64)
            table = pa.table(
                [pa.array(ids), *(pa.array(column) for column in values), pa.array(label)],
                names=list(COLUMNS),
            )
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    tmp.replace(path)  # a reader never sees a half-written file
    return path


def _check_options(rows: int, seed: int) -> None:
    problems = []
    if rows < 1:
        problems.append(f"--rows must be at least 1, got {rows}")
    if seed < 0:
        problems.append(f"--seed must be a non-negative integer, got {seed}")
    if problems:
        raise DatagenError("; ".join(problems))


@dataclass(frozen=True)
class _World:
    """The fixed parameters every seed samples from."""

    loc: np.ndarray  # per feature
    scale: np.ndarray  # per feature
    sigma: np.ndarray  # the lognormal features' shapes
    weights: np.ndarray  # the logit's linear part, per feature

    @classmethod
    def build(cls) -> _World:
        rng = np.random.default_rng(_WORLD_SEED)
        loc = np.round(rng.normal(0.0, 50.0, N_FEATURES), 1)
        loc[LOGNORMAL] = 0.0  # lognormal features stay positive
        scale = np.round(10.0 ** rng.uniform(-1.0, 2.0, N_FEATURES), 2)  # 0.1 to 100
        sigma = np.round(rng.uniform(0.4, 1.0, _width(LOGNORMAL)), 2)
        weights = np.zeros(N_FEATURES)
        weights[list(_WEIGHTS)] = list(_WEIGHTS.values())
        return cls(loc=loc, scale=scale, sigma=sigma, weights=weights)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows: float32 values as a (feature, row) array, and the 0/1 labels."""
        draws = rng.standard_normal((n, N_FEATURES))
        draws[:, UNIFORM] = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), (n, _width(UNIFORM)))
        draws[:, CORRELATED] = (_RHO * draws[:, _SOURCES]
                                + np.sqrt(1.0 - _RHO**2) * draws[:, CORRELATED])

        i, j, weight = _INTERACTION
        k, square = _SQUARE
        logit = (_BIAS + draws @ self.weights + weight * draws[:, i] * draws[:, j]
                 + square * (draws[:, k] ** 2 - 1.0))
        label = (logit + rng.logistic(size=n) > 0).astype(np.int64)

        shaped = draws.copy()
        shaped[:, LOGNORMAL] = np.exp(self.sigma * draws[:, LOGNORMAL])
        values = np.round(self.loc + self.scale * shaped, DECIMALS).astype(np.float32)
        # One contiguous row per feature: each becomes a pyarrow column without a strided copy.
        return np.ascontiguousarray(values.T), label


def _width(columns: slice) -> int:
    return int(columns.stop - columns.start)
