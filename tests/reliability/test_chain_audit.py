"""The audit of the load test finds each kind of fault it claims to (it is not vacuous).

A clean two-request run, written as the three services would log it, has all figures
zero; each case breaks one thing and the figure that names it must count it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from chain_audit import FAULTS, SERVICES, audit_run
from load_driver import Answer, Sent

IDS = ("0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736")
Run = tuple[list[Answer], dict[str, list[dict[str, Any]]]]


def event(
    service: str,
    traceid: str,
    span: str,
    parent: str | None,
    index: int,
    des: str,
    **msg: Any,
) -> dict[str, Any]:
    return {
        "ts": "2026-06-02T07:31:26.757312Z",
        "service": service,
        "traceid": traceid,
        "span_id": span,
        "parent_id": parent,
        "trace_index": index,
        "event_des": des,
        "msg_dict": msg,
        "remarks": "",
    }


def clean_run() -> Run:
    answers: list[Answer] = []
    logs: dict[str, list[dict[str, Any]]] = {service: [] for service in SERVICES}
    for n, traceid in enumerate(IDS):
        spans = {name: f"{n}{name}".ljust(16, "0") for name in ("a", "ca", "b", "cb", "c")}
        hops = [
            {"service": s, "traceid": traceid, "before": traceid, "after": traceid}
            for s in SERVICES
        ]
        answers.append(Answer(Sent(n, "valid", traceid), 200, traceid, {"chain": hops}))
        start = {"request_data": {"n": str(n)}, "headers": {}}
        logs["A"] += [
            event("A", traceid, spans["a"], None, 1, "start", id_source="traceid", **start),
            event("A", traceid, spans["ca"], spans["a"], 2, "call"),
            event("A", traceid, spans["a"], None, 3, "end"),
        ]
        logs["B"] += [
            event(
                "B", traceid, spans["b"], spans["ca"], 1, "start", id_source="traceparent", **start
            ),
            event("B", traceid, spans["cb"], spans["b"], 2, "call"),
            event("B", traceid, spans["b"], spans["ca"], 3, "end"),
        ]
        logs["C"] += [
            event(
                "C", traceid, spans["c"], spans["cb"], 1, "start", id_source="traceparent", **start
            ),
            event("C", traceid, spans["c"], spans["cb"], 2, "end"),
        ]
    return answers, logs


def audit(run: Run, directory: Path, raw_line: str = "") -> dict[str, int]:
    answers, logs = run
    files = {}
    for service, events in logs.items():
        path = directory / f"{service}.events.1"
        lines = [json.dumps(e) for e in events] + (
            [raw_line] if raw_line and service == "B" else []
        )
        path.write_text("".join(line + "\n" for line in lines))
        files[service] = [path]
    return audit_run(answers, files).faults()


def test_a_clean_run_has_no_faults(tmp_path: Path) -> None:
    assert audit(clean_run(), tmp_path) == dict.fromkeys(FAULTS, 0)


def _drop_c_end(run: Run) -> None:
    run[1]["C"].pop()


def _repeat_b_start(run: Run) -> None:
    run[1]["B"].append(dict(run[1]["B"][0]))


def _b_end_in_other_chain(run: Run) -> None:
    run[1]["B"][2]["traceid"] = IDS[1]


def _c_start_without_caller(run: Run) -> None:
    run[1]["C"][0]["parent_id"] = "f" * 16


def _a_call_numbered_5(run: Run) -> None:
    run[1]["A"][1]["trace_index"] = 5


def _a_start_says_generated(run: Run) -> None:
    run[1]["A"][0]["msg_dict"]["id_source"] = "generated"


def _answer_500(run: Run) -> None:
    answer = run[0][0]
    run[0][0] = Answer(answer.sent, 500, answer.echoed, answer.body)


def _c_saw_another_id(run: Run) -> None:
    run[0][1].body["chain"][2]["after"] = IDS[0]


@pytest.mark.parametrize(
    ("figure", "breaks"),
    [
        ("lost", _drop_c_end),
        ("extra", _repeat_b_start),
        ("mixed", _b_end_in_other_chain),
        ("mixed", _c_saw_another_id),
        ("orphaned", _c_start_without_caller),
        ("gaps", _a_call_numbered_5),
        ("misread", _a_start_says_generated),
        ("failed", _answer_500),
    ],
)
def test_each_fault_is_counted(figure: str, breaks: Callable[[Run], None], tmp_path: Path) -> None:
    run = clean_run()
    breaks(run)
    assert audit(run, tmp_path)[figure] >= 1


def test_a_line_that_is_not_json_is_lost(tmp_path: Path) -> None:
    assert audit(clean_run(), tmp_path, raw_line='{"ts": "2026-06-02T07:3')["lost"] == 1


def test_an_invalid_id_in_a_log_is_counted(tmp_path: Path) -> None:
    assert audit(clean_run(), tmp_path, raw_line='{"note": "bad id\\twith spaces"}')["misread"] >= 1
