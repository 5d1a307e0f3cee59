"""Prepare the Palmer penguins CSV the way TFX's penguin example does.

The source is the CSV bundled in the ``palmerpenguins`` package (no download). We keep the four
numeric measurements, encode the species as 0/1/2, and drop the rows where any measurement is
missing: two of the 344 penguins were never measured. The package's own loader imports
``pkg_resources``, which modern environments lack, so we read its data file directly.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

SPECIES = ("Adelie", "Chinstrap", "Gentoo")
FEATURES = ("culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g")
_SOURCE_COLUMNS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
FILE_NAME = "penguins_processed.csv"


def source_csv() -> Path:
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the palmerpenguins package is not installed; run `make demo`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "penguins.csv"


def processed_rows() -> list[list[str]]:
    rows = []
    with source_csv().open(newline="") as handle:
        for record in csv.DictReader(handle):
            values = [record[c] for c in _SOURCE_COLUMNS]
            if any(v in ("", "NA") for v in values):
                continue
            label = str(SPECIES.index(record["species"]))
            rows.append([label, *(str(float(v)) for v in values)])
    return rows


def write_processed_csv(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["species", *FEATURES])
        writer.writerows(processed_rows())
    return path


# The string-label variant (examples/penguin_species): species and island stay as the words
# the source uses, so the pipeline's own tf.Transform vocabulary, not this script, numbers them.
SPECIES_FILE_NAME = "penguins_species.csv"
SPECIES_COLUMNS = ("species", "island", *FEATURES)


def species_rows() -> list[list[str]]:
    """Rows with the string species label and island; rows missing any value are dropped."""
    rows = []
    with source_csv().open(newline="") as handle:
        for record in csv.DictReader(handle):
            values = [record["species"], record["island"], *(record[c] for c in _SOURCE_COLUMNS)]
            if any(v in ("", "NA") for v in values):
                continue
            rows.append([*values[:2], *(str(float(v)) for v in values[2:])])
    return rows


def write_species_csv(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPECIES_FILE_NAME
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SPECIES_COLUMNS)
        writer.writerows(species_rows())
    return path
