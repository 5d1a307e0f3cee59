"""Deterministic generator of Pooch Predictor posts: one CSV of dog posts per daily span.

Each row is one post: its hashtags, the dog's breed, the poster's country, follower count, the
hour it was posted, whether a filter was used, and the likes it got (the label). The "world"
(tag popularity, breed and country shares, how much each thing is worth in likes) is fixed in
this module, so every seed samples the same world; the seed only picks the posts. The same
arguments always give byte-identical files.

Likes are Poisson around exp(mu + noise), where mu grows with log(followers) (sub-linearly:
big accounts get a smaller share of their audience) and shifts with breed, hashtags, hour,
filter and country. Follower counts are lognormal, so likes have the heavy right tail of real
social data.

Rows are generated in chunks of ``CHUNK_ROWS`` with numpy, each chunk from its own seed
(seed, span, chunk), and written with pyarrow.csv straight into the open file, so memory stays
bounded at 10M rows. Missing cells and malformed rows come from separate random streams: turning
them on does not change the clean values of any other cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pipelines.errors import LockgateError

COLUMNS = (
    "post_id", "hashtags", "breed", "country", "follower_count", "hour", "has_filter", "likes",
)
NULLABLE_COLUMNS = ("hashtags", "breed", "country", "follower_count", "hour", "has_filter")
"""Columns ``missing_fraction`` may leave empty; the id and the label are always present."""
FILE_NAME = "posts.csv"
DRIFTS = ("none", "breed", "country")
CHUNK_ROWS = 1_000_000
MAX_TAGS = 6

# (breed, relative share, effect on log-likes). Shares are skewed like registration data.
_BREEDS: tuple[tuple[str, float, float], ...] = (
    ("Labrador Retriever", 14.0, 0.00),
    ("Golden Retriever", 10.0, 0.20),
    ("French Bulldog", 9.0, 0.25),
    ("German Shepherd", 7.0, -0.05),
    ("Mixed Breed", 7.0, -0.10),
    ("Poodle", 5.0, 0.05),
    ("Bulldog", 4.5, 0.10),
    ("Beagle", 4.0, 0.05),
    ("Dachshund", 4.0, 0.20),
    ("Pembroke Welsh Corgi", 3.5, 0.45),
    ("Rottweiler", 3.0, -0.15),
    ("German Shorthaired Pointer", 2.5, -0.20),
    ("Siberian Husky", 2.5, 0.30),
    ("Pug", 2.5, 0.35),
    ("Australian Shepherd", 2.0, 0.15),
    ("Yorkshire Terrier", 2.0, -0.05),
    ("Boxer", 1.8, -0.10),
    ("Cavalier King Charles Spaniel", 1.6, 0.10),
    ("Shih Tzu", 1.5, 0.00),
    ("Border Collie", 1.4, 0.15),
    ("Chihuahua", 1.3, -0.10),
    ("Bernese Mountain Dog", 1.2, 0.30),
    ("Pomeranian", 1.1, 0.25),
    ("Shiba Inu", 1.0, 0.50),
    ("Great Dane", 0.9, 0.10),
    ("Doberman Pinscher", 0.8, -0.15),
    ("Boston Terrier", 0.8, 0.05),
    ("Samoyed", 0.6, 0.45),
    ("Greyhound", 0.5, -0.05),
    ("Dalmatian", 0.4, 0.20),
)
# (ISO country code, share, effect on log-likes). The US dominates at 45%.
_COUNTRIES: tuple[tuple[str, float, float], ...] = (
    ("US", 45.0, 0.00),
    ("GB", 9.0, -0.05),
    ("BR", 7.0, 0.15),
    ("CA", 6.0, -0.05),
    ("DE", 5.0, -0.15),
    ("MX", 4.0, 0.10),
    ("AU", 4.0, 0.00),
    ("FR", 3.5, -0.10),
    ("IN", 3.0, 0.20),
    ("JP", 3.0, -0.20),
    ("ES", 2.5, 0.05),
    ("IT", 2.5, 0.00),
    ("PH", 2.0, 0.25),
    ("NL", 1.8, -0.10),
    ("KR", 1.7, -0.05),
)
_COUNTRY_WORDS = {
    "US": "usa", "GB": "london", "BR": "brasil", "CA": "canada", "DE": "germany", "MX": "mexico",
    "AU": "australia", "FR": "paris", "IN": "india", "JP": "japan", "ES": "spain",
    "IT": "italia", "PH": "manila", "NL": "amsterdam", "KR": "seoul",
}
# With drift, spans after the first move this much of the distribution per span onto one
# trending value (capped), far above sampling noise and the config's drift thresholds.
TRENDING = {"breed": "Shiba Inu", "country": "IN"}
DRIFT_PER_SPAN = 0.2
MAX_DRIFT = 0.8

# Posting hours (local time): quiet at night, a lunch bump, an evening peak.
_HOUR_SHARES = np.array([
    1.2, 0.7, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 3.4, 3.5, 4.0,
    4.8, 4.5, 4.0, 4.0, 4.3, 5.0, 6.2, 7.2, 7.6, 6.8, 4.8, 2.6,
])
# Number of hashtags on a post, 0 to MAX_TAGS.
_TAG_COUNT_SHARES = np.array([0.07, 0.12, 0.19, 0.22, 0.18, 0.13, 0.09])

_GENERIC_TAGS = (
    "dog", "dogsofinstagram", "puppy", "doggo", "dogs", "instadog", "puppylove", "dogstagram",
    "pupper", "cute", "goodboy", "dogoftheday", "goodgirl", "doglover", "petsofinstagram", "woof",
    "pooch", "floof", "furbaby", "instapuppy", "adoptdontshop", "rescuedog", "dogmom", "dogdad",
    "pawsome", "zoomies", "blep", "mlem", "boop", "sploot", "heckinpupper", "smilingdog",
    "sleepypuppy", "weeklyfluff", "dogwalk", "dogpark", "dogbeach", "fetch", "treats", "bathtime",
    "sundayfunday", "tbt", "photooftheday", "love", "instagood", "happy", "nofilter", "fluffy",
    "doggydaycare", "barkbox", "dogtraining", "puppytraining", "seniordog", "fosterdog", "adoptme",
    "dogfriendly", "hikingdog", "snowdog", "dogsofig", "doggostagram",
)
_TAG_PREFIXES = ("dog", "puppy", "pup", "doggo", "pet", "furry", "paw", "woof")
_TAG_SUFFIXES = (
    "life", "love", "gram", "daily", "style", "squad", "lovers", "world", "goals", "vibes",
    "fun", "friends", "family", "adventures", "mode", "time", "club",
)
# Tags the algorithm loves (or buries), as effects on log-likes.
_TAG_EFFECTS = {
    "zoomies": 0.6, "blep": 0.5, "sploot": 0.5, "mlem": 0.45, "boop": 0.4, "heckinpupper": 0.35,
    "weeklyfluff": 0.3, "smilingdog": 0.3, "adoptdontshop": 0.25, "rescuedog": 0.25,
    "instagood": -0.3, "photooftheday": -0.3, "love": -0.25, "happy": -0.2, "tbt": -0.2,
    "nofilter": 0.1, "barkbox": -0.15,
}
_TAG_ZIPF_EXPONENT = 1.05
_P_BREED_TAG = 0.35  # the first tag names the dog's breed
_P_COUNTRY_TAG = 0.10  # the second tag names the poster's country

_LOG_BASE_RATE = np.log(0.08)  # likes ~ 0.08 * followers^0.85 before the effects
_FOLLOWER_ELASTICITY = 0.85
_NOISE_SIGMA = 0.5
_P_FILTER = 0.35
_FILTER_EFFECT = 0.08
_BAD_FOLLOWER_TEXT = (b"12k", b"1.2M", b"n/a", b"lots", b"unknown", b"~500")
_WORLD_SEED = 20240419  # fixes the tag effects and popularity order, independently of --seed


class DatagenError(LockgateError, ValueError):
    """Invalid generator options."""


def generate(
    out: Path,
    *,
    rows: int,
    spans: int,
    seed: int,
    drift: str,
    missing_fraction: float,
    bad_row_fraction: float,
    start_date: date | None = None,
) -> list[Path]:
    """Write ``<out>/span-{N}/posts.csv`` for N = 1..spans, ``rows`` posts each; with
    ``start_date``, daily spans ``<out>/day=YYYY-MM-DD/posts.csv`` from that day on instead
    (the same posts, day N holding span N's), for inputs like ``day={YYYY}-{MM}-{DD}/posts.csv``.

    ``drift`` ("breed" or "country") shifts that column's distribution in every span after the
    first, progressively; ``missing_fraction`` empties that fraction of the cells of the
    nullable columns; ``bad_row_fraction`` makes that fraction of rows malformed (too few or
    too many fields, or text in follower_count). Returns the files written, in span order.
    """
    _check_options(rows, spans, seed, drift, missing_fraction, bad_row_fraction)
    world = _World.build()
    files = []
    for span in range(1, spans + 1):
        folder = (f"span-{span}" if start_date is None
                  else f"day={(start_date + timedelta(days=span - 1)).isoformat()}")
        path = Path(out) / folder / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        breed_p, country_p = world.span_distributions(span, drift)
        tmp = path.with_name(path.name + ".tmp")
        with pa.OSFile(str(tmp), "wb") as sink:
            for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
                n = min(CHUNK_ROWS, rows - start)
                data_rng, missing_rng, bad_rng = (
                    np.random.default_rng(s)
                    for s in np.random.SeedSequence([seed, span, chunk]).spawn(3)
                )
                posts = world.sample(data_rng, n, breed_p, country_p)
                posts["post_id"] = (span - 1) * rows + start + 1 + np.arange(n, dtype=np.int64)
                table = _to_table(world, posts, _missing_masks(missing_rng, n, missing_fraction))
                _write_chunk(sink, table, header=chunk == 0,
                             bad=_bad_rows(bad_rng, n, bad_row_fraction))
        tmp.replace(path)  # a reader never sees a half-written span
        files.append(path)
    return files


def _check_options(
    rows: int, spans: int, seed: int, drift: str, missing: float, bad: float
) -> None:
    problems = []
    if rows < 1:
        problems.append(f"--rows must be at least 1, got {rows}")
    if spans < 1:
        problems.append(f"--spans must be at least 1, got {spans}")
    if seed < 0:
        problems.append(f"--seed must be a non-negative integer, got {seed}")
    if drift not in DRIFTS:
        problems.append(f"--drift must be one of {', '.join(DRIFTS)}, got {drift!r}")
    for name, value in (("--missing-fraction", missing), ("--bad-row-fraction", bad)):
        if not 0.0 <= value < 1.0:
            problems.append(f"{name} must be in [0, 1), got {value}")
    if problems:
        raise DatagenError("; ".join(problems))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def hashtag_vocabulary() -> list[str]:
    """Every hashtag the generator uses, most popular first (popularity is Zipf over ranks)."""
    breed_tags = [
        f"#{_slug(name)}{suffix}"
        for suffix in ("", "sofinstagram", "puppy")
        for name, *_ in _BREEDS
    ]
    country_tags = [f"#dogsof{word}" for word in _COUNTRY_WORDS.values()]
    composed = [f"#{p}{s}" for p in _TAG_PREFIXES for s in _TAG_SUFFIXES]
    generic = [f"#{t}" for t in _GENERIC_TAGS]
    # The generic tags head the ranking; the rest are shuffled into a fixed long tail.
    tail = list(dict.fromkeys(breed_tags + country_tags + composed))
    tail = [t for t in tail if t not in generic]
    order = np.random.default_rng(_WORLD_SEED).permutation(len(tail))
    return generic + [tail[i] for i in order]


@dataclass(frozen=True)
class _World:
    """The fixed parameters every seed samples from."""

    tags: pa.Array
    tag_p: np.ndarray
    tag_effect: np.ndarray
    breed_tag: np.ndarray  # breed index -> tag index
    country_tag: np.ndarray  # country index -> tag index
    breeds: pa.Array
    breed_p: np.ndarray
    breed_effect: np.ndarray
    countries: pa.Array
    country_p: np.ndarray
    country_effect: np.ndarray

    @classmethod
    def build(cls) -> _World:
        vocab = hashtag_vocabulary()
        index = {tag: i for i, tag in enumerate(vocab)}
        ranks = np.arange(1, len(vocab) + 1, dtype=np.float64)
        tag_p = ranks**-_TAG_ZIPF_EXPONENT
        # Unnamed tags get small random effects; the named ones above override them.
        effect = np.random.default_rng(_WORLD_SEED + 1).normal(0.0, 0.08, len(vocab))
        for tag, value in _TAG_EFFECTS.items():
            effect[index[f"#{tag}"]] = value
        return cls(
            tags=pa.array(vocab, pa.string()),
            tag_p=tag_p / tag_p.sum(),
            tag_effect=effect,
            breed_tag=np.array([index[f"#{_slug(b)}"] for b, *_ in _BREEDS]),
            country_tag=np.array([index[f"#dogsof{_COUNTRY_WORDS[c]}"] for c, *_ in _COUNTRIES]),
            breeds=pa.array([b for b, *_ in _BREEDS], pa.string()),
            breed_p=_normalised([w for _, w, _ in _BREEDS]),
            breed_effect=np.array([e for *_, e in _BREEDS]),
            countries=pa.array([c for c, *_ in _COUNTRIES], pa.string()),
            country_p=_normalised([w for _, w, _ in _COUNTRIES]),
            country_effect=np.array([e for *_, e in _COUNTRIES]),
        )

    def span_distributions(self, span: int, drift: str) -> tuple[np.ndarray, np.ndarray]:
        """Breed and country shares in ``span``: with drift, mass moves onto a trending value."""
        breed_p, country_p = self.breed_p, self.country_p
        alpha = min(MAX_DRIFT, DRIFT_PER_SPAN * (span - 1))
        if drift == "breed" and alpha > 0:
            names = self.breeds.to_pylist()
            breed_p = _shift(breed_p, names.index(TRENDING["breed"]), alpha)
        elif drift == "country" and alpha > 0:
            codes = self.countries.to_pylist()
            country_p = _shift(country_p, codes.index(TRENDING["country"]), alpha)
        return breed_p, country_p

    def sample(
        self, rng: np.random.Generator, n: int, breed_p: np.ndarray, country_p: np.ndarray
    ) -> dict[str, Any]:
        """``n`` clean posts as numpy columns (hashtags as a tag-index matrix and a keep mask)."""
        breed = rng.choice(len(breed_p), size=n, p=breed_p)
        country = rng.choice(len(country_p), size=n, p=country_p)
        followers = np.minimum(
            np.rint(rng.lognormal(mean=np.log(600.0), sigma=1.7, size=n)), 2e8
        ).astype(np.int64)
        hour = rng.choice(24, size=n, p=_HOUR_SHARES / _HOUR_SHARES.sum())
        has_filter = (rng.random(n) < _P_FILTER).astype(np.int64)
        tags, keep = self._hashtags(rng, n, breed, country)

        n_tags = keep.sum(axis=1)
        tag_effect = np.where(keep, self.tag_effect[tags], 0.0).sum(axis=1)
        mu = (
            _LOG_BASE_RATE
            + _FOLLOWER_ELASTICITY * np.log1p(followers)
            + self.breed_effect[breed]
            + self.country_effect[country]
            + tag_effect / np.sqrt(np.maximum(n_tags, 1))
            + 0.25 * np.log1p(n_tags)  # more tags, more reach, with diminishing returns
            + 0.3 * np.cos(2 * np.pi * (hour - 20) / 24)  # evening posts do best
            + _FILTER_EFFECT * has_filter
        )
        likes = rng.poisson(np.exp(mu + rng.normal(0.0, _NOISE_SIGMA, n)))
        return {
            "tags": tags, "keep": keep, "breed": breed, "country": country,
            "follower_count": followers, "hour": hour.astype(np.int64),
            "has_filter": has_filter, "likes": likes.astype(np.int64),
        }

    def _hashtags(
        self, rng: np.random.Generator, n: int, breed: np.ndarray, country: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A (n, MAX_TAGS) matrix of tag indices and a mask of the ones a post really uses.

        Duplicates within a post are dropped, keeping the first occurrence's position, so a
        post has 0 to MAX_TAGS distinct tags.
        """
        count = rng.choice(MAX_TAGS + 1, size=n, p=_TAG_COUNT_SHARES)
        tags = rng.choice(len(self.tag_p), size=(n, MAX_TAGS), p=self.tag_p)
        tags[:, 0] = np.where(rng.random(n) < _P_BREED_TAG, self.breed_tag[breed], tags[:, 0])
        tags[:, 1] = np.where(
            rng.random(n) < _P_COUNTRY_TAG, self.country_tag[country], tags[:, 1]
        )
        used = np.arange(MAX_TAGS) < count[:, None]
        sentinel = len(self.tag_p)
        candidates = np.where(used, tags, sentinel)
        order = np.argsort(candidates, axis=1, kind="stable")
        ordered = np.take_along_axis(candidates, order, axis=1)
        first = np.ones_like(used)
        first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        keep = np.empty_like(used)
        np.put_along_axis(keep, order, first & (ordered != sentinel), axis=1)
        return tags, keep


def _normalised(weights: list[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return p / p.sum()


def _shift(p: np.ndarray, trending: int, alpha: float) -> np.ndarray:
    target = np.zeros_like(p)
    target[trending] = 1.0
    return (1 - alpha) * p + alpha * target


def _missing_masks(rng: np.random.Generator, n: int, fraction: float) -> dict[str, np.ndarray]:
    if fraction <= 0:
        return {}
    draws = rng.random((len(NULLABLE_COLUMNS), n))
    return {name: draws[i] < fraction for i, name in enumerate(NULLABLE_COLUMNS)}


def _bad_rows(rng: np.random.Generator, n: int, fraction: float) -> dict[int, int]:
    """Row index -> kind of damage (0: a field short, 1: a field extra, 2: text in followers)."""
    if fraction <= 0:
        return {}
    rows = np.flatnonzero(rng.random(n) < fraction)
    kinds = rng.integers(0, 3, size=len(rows))
    return dict(zip(rows.tolist(), kinds.tolist(), strict=True))


def _to_table(world: _World, posts: dict[str, Any], missing: dict[str, np.ndarray]) -> pa.Table:
    def mask(name: str) -> np.ndarray | None:
        return missing.get(name)

    keep, tags = posts["keep"], posts["tags"]
    offsets = np.zeros(len(keep) + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    tag_lists = pa.ListArray.from_arrays(pa.array(offsets), world.tags.take(pa.array(tags[keep])))
    hashtags = pc.binary_join(tag_lists, " ")
    if mask("hashtags") is not None:
        hashtags = pc.if_else(pa.array(mask("hashtags")), pa.scalar(None, pa.string()), hashtags)
    columns = {
        "post_id": pa.array(posts["post_id"]),
        "hashtags": hashtags,
        # Taking a null index gives a null cell.
        "breed": world.breeds.take(pa.array(posts["breed"], mask=mask("breed"))),
        "country": world.countries.take(pa.array(posts["country"], mask=mask("country"))),
        **{
            name: pa.array(posts[name], pa.int64(), mask=mask(name))
            for name in ("follower_count", "hour", "has_filter")
        },
        "likes": pa.array(posts["likes"]),
    }
    return pa.table([columns[c] for c in COLUMNS], names=list(COLUMNS))


def _write_chunk(
    sink: pa.NativeFile, table: pa.Table, *, header: bool, bad: dict[int, int]
) -> None:
    options = pacsv.WriteOptions(include_header=header)
    if not bad:
        pacsv.write_csv(table, sink, options)
        return
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(table, buffer, options)
    data = buffer.getvalue().to_pybytes()
    # Line starts, from a vectorised scan; only the damaged lines are touched in Python.
    starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1])
    first = 1 if header else 0
    pieces, done = [], 0
    for row, kind in sorted(bad.items()):
        begin, end = int(starts[first + row]), int(starts[first + row + 1]) - 1
        pieces += [data[done:begin], _damage(data[begin:end], kind, row)]
        done = end
    pieces.append(data[done:])
    sink.write(b"".join(pieces))


def _damage(line: bytes, kind: int, row: int) -> bytes:
    fields = line.split(b",")  # no field contains a comma: tags, breeds and codes have none
    if kind == 0:
        return b",".join(fields[:-1])
    if kind == 1:
        return line + b",oops"
    fields[COLUMNS.index("follower_count")] = _BAD_FOLLOWER_TEXT[row % len(_BAD_FOLLOWER_TEXT)]
    return b",".join(fields)
