"""Progress on stderr: shown while a large input is read, erased at the end."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from traced_http.otlp.offline import _Totals
from traced_http.viewer.progress import Progress
from traced_http.viewer.reader import ReadCounts, input_size


@pytest.fixture
def at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw on every update, with no wait first."""
    monkeypatch.setattr("traced_http.viewer.progress.DELAY", 0.0)
    monkeypatch.setattr("traced_http.viewer.progress.INTERVAL", 0.0)


@pytest.mark.usefixtures("at_once")
def test_progress_line_is_drawn_and_erased() -> None:
    stream = io.StringIO()
    progress = Progress(stream, total_bytes=4_000_000)
    progress.update(ReadCounts(lines=12_345, bytes_read=1_000_000))
    drawn = stream.getvalue()
    assert drawn.startswith("\r") and "1 MB, 12,345 lines" in drawn and drawn.endswith("25%\x1b[K")
    progress.finish()
    assert stream.getvalue()[len(drawn) :] == "\r\x1b[K"


@pytest.mark.parametrize(
    ("failed", "tail"), [(0, ", 1,234 spans sent"), (5, ", 1,234 spans sent, 5 failed")]
)
@pytest.mark.usefixtures("at_once")
def test_export_names_its_activity_and_adds_the_spans_sent(failed: int, tail: str) -> None:
    stream = io.StringIO()
    totals = _Totals()
    progress = Progress(stream, None, activity="exporting", suffix=totals.progress_tail)
    totals.delivered, totals.failed = 1_234, failed
    progress.update(ReadCounts(lines=3, bytes_read=2_000_000))
    assert stream.getvalue().startswith("\rexporting: 2 MB, 3 lines")
    assert stream.getvalue().endswith(tail + "\x1b[K")


def test_small_inputs_stay_quiet() -> None:
    stream = io.StringIO()
    progress = Progress(stream, total_bytes=10)
    progress.update(ReadCounts(lines=1, bytes_read=10))
    progress.finish()
    assert stream.getvalue() == ""


def test_percentage_only_when_the_size_is_known(tmp_path: Path) -> None:
    plain = tmp_path / "a.log"
    plain.write_bytes(b"x\n" * 10)
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(b"x\n" * 10))
    assert input_size([str(plain)]) == 20
    assert input_size([str(plain), str(packed)]) is None
    assert input_size(["-"]) is None
