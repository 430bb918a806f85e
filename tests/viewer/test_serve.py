"""`traced-http serve` run as a user runs it, on logs from a real failing chain."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from served import AMOUNTS, Served, serve, write_chain_logs
from viewer_logs import Chain, write_log


@pytest.fixture(scope="module")
def chain_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, str]]:
    folder = tmp_path_factory.mktemp("logs")
    return folder, write_chain_logs(folder)


@pytest.fixture(scope="module")
def served(chain_logs: tuple[Path, dict[int, str]]) -> Iterator[Served]:
    with serve(str(chain_logs[0])) as running:
        yield running


def listed(page: str) -> list[str]:
    return re.findall(r'href="/trace\?id=([0-9a-f]+)"', page)


def test_list_shows_every_trace_newest_first(
    served: Served, chain_logs: tuple[Path, dict[int, str]]
) -> None:
    status, page = served.get("/")
    ids = chain_logs[1]
    assert status == 200
    assert listed(page) == [ids[amount] for amount in reversed(AMOUNTS)]
    assert f"{len(AMOUNTS)} traces match" in page
    assert served.status()["files"] == 3  # gateway, orders, billing: the folder's files


@pytest.mark.parametrize(
    ("query", "amounts"),
    [
        ("status=failed", [500]),
        ("status=ok", [20, 50, 10]),
        ("status=5xx", [500]),
        ("slower=900", [50]),  # billing sleeps 1 s for 50
        ("q=card+declined", [500]),
        ("route=POST+/checkout&service=billing", [20, 50, 500, 10]),
        ("route=POST+/charge", [20, 50, 500, 10]),  # a route deep in the chain
        ("route=GET+/nothing", []),
        ("service=nobody", []),
    ],
)
def test_filters_narrow_the_list(
    served: Served, chain_logs: tuple[Path, dict[int, str]], query: str, amounts: list[int]
) -> None:
    status, page = served.get("/?" + query)
    assert status == 200
    assert listed(page) == [chain_logs[1][amount] for amount in amounts]


def test_since_filter_and_bad_filter_values(served: Served) -> None:
    assert len(listed(served.get("/?since=1h")[1])) == len(AMOUNTS)
    assert listed(served.get("/?since=2999-01-01")[1]) == []
    status, page = served.get("/?since=yesterday&slower=fast")
    assert status == 200 and listed(page) == []
    assert "since: not a time" in page and "slower than: give a number" in page


def test_trace_page_shows_the_root_cause(
    served: Served, chain_logs: tuple[Path, dict[int, str]]
) -> None:
    status, page = served.get("/trace?id=" + chain_logs[1][500])
    assert status == 200
    assert "billing: RuntimeError: card declined" in page
    assert page.count('class="badge because"') == 4  # orders and gateway, requests and calls
    assert 'href="/"' in page  # back to the list
    assert served.get("/trace?id=" + "0" * 32)[0] == 404
    assert served.get("/nothing")[0] == 404


def test_stats_per_route_with_a_chart(served: Served) -> None:
    status, page = served.get("/stats")
    assert status == 200
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    charge = next(row for row in rows if "POST /charge" in row)
    cells = re.findall(r'<td class="num">([^<]*)</td>', charge)
    assert cells[:2] == ["4", "25.0%"]  # one of four charges raised
    assert "<svg" in charge and "<rect" in charge


def test_answers_only_its_own_address(served: Served) -> None:
    assert served.get("/", host="evil.example")[0] == 403  # DNS rebinding
    assert served.get("/", host="localhost:1")[0] == 200
    assert served.get("/?" + "&".join(f"f{n}=1" for n in range(40)))[0] == 400


def test_follows_a_growing_file_and_stdin(tmp_path: Path) -> None:
    c = Chain()
    c.request("gateway", "GET", "/first", trace="a" * 32, start=0, duration=0.1)
    c.request("gateway", "GET", "/second", trace="b" * 32, start=1, duration=0.1)
    first, second = c.lines()[:2], c.lines()[2:]
    log = write_log(tmp_path / "grows.log", first)
    with serve(str(log)) as running:
        assert listed(running.get("/")[1]) == ["a" * 32]
        with log.open("a", encoding="utf-8") as out:
            out.write(second[0] + "\n" + second[1][:20])  # the last line not finished yet
            out.flush()
            running.wait_for(lambda: running.status()["events"] == 3, "the appended line")
            out.write(second[1][20:] + "\n")
        running.wait_for(lambda: running.status()["events"] == 4, "the finished line")
        assert listed(running.get("/")[1]) == ["b" * 32, "a" * 32]
        assert "GET /second" in running.get("/trace?id=" + "b" * 32)[1]

    with serve("-", stdin=subprocess.PIPE) as running:
        stdin = running.process.stdin
        assert stdin is not None
        stdin.write("\n".join(c.lines()) + "\n")
        stdin.flush()
        running.wait_for(lambda: running.status()["events"] == 4, "lines from stdin")
        assert "GET /first" in running.get("/trace?id=" + "a" * 32)[1]


EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>\u202eevil\x1b[2J"


def test_pages_escape_hostile_log_data(tmp_path: Path) -> None:
    c = Chain()
    trace = "c" * 32
    root = c.request(
        "gate" + EVIL,
        "GET",
        "/" + EVIL,
        trace=trace,
        start=0,
        duration=0.2,
        status=500,
        error={"type": "Boom" + EVIL, "message": EVIL},
    )
    c.call("gate", "GET", "http://x/" + EVIL, trace=trace, parent=root, start=0.1, duration=0.01)
    lines = c.lines()
    # A lone surrogate, as a JSON escape: valid JSON that UTF-8 cannot carry.
    lines.append(lines[0].replace("/</script>", "/\\ud800</script>", 1))
    log = write_log(tmp_path / "evil.log", lines)
    with serve(str(log)) as running:
        pages = [
            running.get("/"),
            running.get("/?q=" + quote(EVIL)),
            running.get("/stats"),
            running.get("/trace?id=" + trace),
        ]
    for status, page in pages:
        assert status == 200
        assert "<img" not in page and "alert(1)</script>" not in page
        assert "\u202e" not in page and "\x1b" not in page
        assert page.count("<script") <= 2  # the waterfall's data and code, nothing else
    assert "\\u202eevil\\x1b[2J" in pages[3][1]  # shown as visible escapes
    assert trace in pages[1][1]  # the text search found it
    data = re.search(r'<script type="application/json" id="span-data">(.*?)</script>', pages[3][1])
    assert data is not None
    spans = json.loads(data.group(1))
    assert spans[0]["path"] == "/" + EVIL  # the data itself arrives intact


def test_open_hands_the_url_to_the_browser(tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.log", Chain().lines())
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with the URL in place of %s.
    browser = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\""
    with serve("--open", str(log), env={"BROWSER": f"{browser} {opened} %s"}) as running:
        running.wait_for(lambda: opened.exists() and opened.read_text() != "", "the browser")
        assert opened.read_text() == running.url


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["missing.log"], "cannot read missing.log: no such file or folder"),
        (["nothing-*.log"], "no file matches nothing-*.log"),
    ],
)
def test_unreadable_inputs_are_refused_at_start(
    tmp_path: Path, inputs: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "traced_http", "serve", "--port", "0", *inputs],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"traced-http: {message}\n"
