from __future__ import annotations

from pipelines.config.envsubst import expand


def test_expansion_rules() -> None:
    missing: list[tuple[object, str]] = []
    env = {"A": "1", "EMPTY": ""}
    data = {"x": ["${A}", "${B:-two}", "$${A}", "${EMPTY:-d}", "${NOPE}"], "n": 3}
    out = expand(data, lambda path, name: missing.append((path, name)), env)
    assert out == {"x": ["1", "two", "${A}", "d", ""], "n": 3}
    assert missing == [(("x", 4), "NOPE")]


def test_lockgate_home_always_resolves(lockgate_home: object) -> None:
    out = expand("${LOCKGATE_HOME}/m.sqlite", lambda p, n: None, env={})
    assert out == f"{lockgate_home}/m.sqlite"


def test_a_whole_reference_to_null_is_null() -> None:
    data = {"span": "${SPAN:-null}", "tilde": "${T:-~}", "inside": "x-${SPAN:-null}",
            "pinned": "${PINNED:-null}"}
    out = expand(data, lambda p, n: None, env={"PINNED": "3"})
    assert out == {"span": None, "tilde": None, "inside": "x-null", "pinned": "3"}
