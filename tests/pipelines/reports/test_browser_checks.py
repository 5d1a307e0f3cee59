"""The browser checks themselves catch what they must: a script error and a network request."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.reports.browser import remote_references, render


def test_a_page_with_a_script_error_and_a_remote_image_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://example.invalid/x.png">'
                   "<script>missingFunction();</script><p id=ok>hi</p></body></html>")
    rendered = render(bad, tmp_path / "chromium")
    assert any("Uncaught ReferenceError" in line for line in rendered.console)
    assert rendered.requests == ["http://example.invalid/x.png"]
    assert remote_references(bad.read_text()) == ['src="http://']
    assert '<p id="ok">hi</p>' in rendered.dom


def test_a_clean_page_logs_and_fetches_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    good.write_text("<html><body><p id=ok>hi</p><script>document.getElementById('ok')"
                    ".textContent='ran';</script></body></html>")
    rendered = render(good, tmp_path / "chromium")
    assert rendered.console == []
    assert rendered.requests == []
    assert '<p id="ok">ran</p>' in rendered.dom
