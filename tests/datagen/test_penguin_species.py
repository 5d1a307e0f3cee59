"""The shipped string-label penguin CSV is what ``lockgate datagen penguin-species`` writes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from pipelines.datagen.penguin import SPECIES_COLUMNS, write_species_csv
from tests.helpers import REPO

SHIPPED = REPO / "examples" / "penguin_species" / "data" / "penguins_species.csv"


def test_shipped_csv_is_the_datagen_output(tmp_path: Path) -> None:
    written = write_species_csv(tmp_path)
    assert written.read_text() == SHIPPED.read_text()


def test_labels_and_island_stay_strings_and_incomplete_rows_are_dropped() -> None:
    with SHIPPED.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(SPECIES_COLUMNS)
    # 344 penguins in the package data; the 2 never measured are dropped.
    assert len(rows) == 342
    assert Counter(r["species"] for r in rows) == {"Adelie": 151, "Gentoo": 123, "Chinstrap": 68}
    assert Counter(r["island"] for r in rows) == {"Biscoe": 167, "Dream": 124, "Torgersen": 51}
    assert all(r[c] not in ("", "NA") for r in rows for c in SPECIES_COLUMNS)
