"""The cache key is pure: equal inputs give equal keys, and every ingredient matters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.caching.cache_key import cache_key
from pipelines.caching.user_code import user_code_fingerprint

BASE: dict[str, Any] = {
    "component": "Transform",
    "version": "1",
    "params": {"module_file": "m.py", "analyze_splits": ["train"]},
    "inputs": {"examples": [(3, "aaa")], "schema": [(4, "bbb")]},
    "code_fingerprint": "c0de",
    "external_fingerprint": "",
}


def test_same_ingredients_same_key() -> None:
    reordered = {**BASE, "params": {"analyze_splits": ["train"], "module_file": "m.py"}}
    assert cache_key(**BASE) == cache_key(**reordered)
    assert len(cache_key(**BASE)) == 64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("component", "Trainer"),
        ("version", "2"),
        ("params", {"module_file": "m.py", "analyze_splits": ["eval"]}),
        ("inputs", {"examples": [(5, "aaa")], "schema": [(4, "bbb")]}),  # another artifact
        ("inputs", {"examples": [(3, "zzz")], "schema": [(4, "bbb")]}),  # changed content
        ("code_fingerprint", "beef"),
        ("external_fingerprint", "new-files"),
    ],
)
def test_every_ingredient_changes_the_key(field: str, value: object) -> None:
    assert cache_key(**{**BASE, field: value}) != cache_key(**BASE)


def test_user_code_covers_the_module_and_what_it_imports(tmp_path: Path) -> None:
    module = tmp_path / "preprocessing.py"
    module.write_text("import helpers\n\ndef preprocessing_fn(x): return helpers.scale(x)\n")
    (tmp_path / "helpers.py").write_text("def scale(x): return x\n")
    (tmp_path / "model.py").write_text("def run_fn(args): ...\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    before = user_code_fingerprint([module])
    (tmp_path / "notes.txt").write_text("still not code\n")
    (tmp_path / "model.py").write_text("def run_fn(args): return 1\n")
    assert user_code_fingerprint([module]) == before  # siblings it does not import
    (tmp_path / "helpers.py").write_text("def scale(x): return 2 * x\n")
    assert user_code_fingerprint([module]) != before
