"""Planted secrets: real requests carry them everywhere users put secrets; no log line may.

Every secret here starts with the marker that ``tests/conftest.py`` scans for in every log
line of the whole run (``secret_scan``): a leak anywhere in the suite fails the session.
Each test also checks the lines written while it ran, so a leak is pinned to its test.
Values that are not secret carry ``visible-PLANTED`` and must be logged: that proves the
requests were traced and their fields written, not silently dropped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from loopback import closed_url

import traced_http as traced
from flask_hooks import Tracing
from traced_http.testing import events_of, serve_app

S = {
    name: f"s3cr3t-PLANTED-{name}"
    for name in (
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-auth",
        "api-key-header",
        "auth-token-header",
        "userinfo",
        "query-token",
        "query-password",
        "access-token",
        "form-password",
        "json-secret",
        "json-nested",
        "json-list",
        "json-big",
        "redirect",
        "location",
        "response-token",
        "response-nested",
        "error",
        "user-event",
        "trace-error",
    )
}
VISIBLE = "visible-PLANTED-ok"
# What the two services received (URL, headers, body), to prove the secrets travelled.
WIRE: list[str] = []
ON_THE_WIRE = (
    "authorization",
    "cookie",
    "proxy-auth",
    "api-key-header",
    "auth-token-header",
    "query-token",
    "query-password",
    "access-token",
    "form-password",
    "json-secret",
    "json-nested",
    "json-list",
    "redirect",
    "location",
)


def _record_wire() -> None:
    WIRE.append(f"{request.full_path}\n{request.headers}\n{request.get_data(as_text=True)}")


def _downstream() -> Flask:
    app = Flask("billing")
    Tracing(app)
    app.before_request(_record_wire)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        response = jsonify(
            access_token=S["response-token"],
            user=VISIBLE,
            nested={"session": {"refresh_token": S["response-nested"]}},
            grants=[{"password": S["response-nested"]}],
        )
        response.set_cookie("session", S["set-cookie"])
        return response

    @app.route("/echo", methods=["GET", "POST"])
    def echo() -> Any:
        return jsonify(ok=True, user=VISIBLE)

    @app.route("/big")
    def big() -> Any:
        return jsonify(padding="p" * 3000, tokens=["a", S["json-big"]], secret={"v": S["json-big"]})

    @app.route("/redirect")
    def bounce() -> Any:
        return redirect(f"/echo?access_token={S['location']}&user={VISIBLE}", code=302)

    return app


def _gateway(downstream: str, refused: str) -> Flask:
    app = Flask("gateway")
    Tracing(app)
    app.before_request(_record_wire)

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout() -> Any:
        host = downstream.split("//", 1)[1]
        # Userinfo becomes a Basic Authorization header: the header below goes separately.
        traced.get(f"http://user:{S['userinfo']}@{host}/echo?u={VISIBLE}", timeout=5)
        traced.get(
            downstream + "/login",
            params={"api_key": S["query-token"], "password": S["query-password"], "u": VISIBLE},
            headers={
                "Authorization": f"Bearer {S['authorization']}",
                "Cookie": f"session={S['cookie']}",
                "Proxy-Authorization": f"Basic {S['proxy-auth']}",
                "X-Api-Key": S["api-key-header"],
                "X-Auth-Token": S["auth-token-header"],
            },
            timeout=5,
        )
        traced.post(
            downstream + "/echo",
            data={"password": S["form-password"], "passwd": S["form-password"], "u": VISIBLE},
            timeout=5,
        )
        traced.post(
            downstream + "/echo",
            json={
                "user": VISIBLE,
                "credentials": {"client_secret": S["json-secret"]},
                "items": [{"apiKey": S["json-list"]}, {"deep": [{"access_token": S["json-list"]}]}],
                "padding": "p" * 3000,  # over the capture limit: a cut preview is logged
                "token": {"nested": S["json-nested"]},
            },
            timeout=5,
        )
        traced.get(downstream + "/redirect", params={"access_token": S["redirect"]}, timeout=5)
        traced.get(downstream + "/big", timeout=5)
        with contextlib.suppress(requests.ConnectionError):
            traced.get(refused + f"/x?token={S['error']}&u={VISIBLE}", timeout=1)
        traced.add_event("paid", {"user": VISIBLE, "card": {"secret": S["user-event"]}})
        return jsonify(ok=True, access_token=S["response-token"])

    return app


@pytest.fixture(scope="module")
def refused() -> str:
    return closed_url()


@pytest.fixture(scope="module")
def chain(refused: str) -> Iterator[str]:
    with serve_app(_downstream()) as downstream, serve_app(_gateway(downstream, refused)) as url:
        yield url


@pytest.fixture
def new_offending(secret_scan: Any) -> Iterator[list[str]]:
    """The offending lines written during this test (filled in after the test body)."""
    before = len(secret_scan.offending)
    found: list[str] = []
    yield found
    found.extend(secret_scan.offending[before:])


def _assert_no_leak(secret_scan: Any, before: int) -> None:
    leaked = secret_scan.offending[before:]
    assert not leaked, "planted secrets were logged:\n" + "\n".join(leaked)


@pytest.mark.parametrize("method", ["GET", "POST-json", "POST-form"])
def test_secrets_in_every_place_of_a_traced_chain_never_reach_a_log_line(
    method: str, chain: str, secret_scan: Any, trace_events: list[dict[str, Any]]
) -> None:
    before = len(secret_scan.offending)
    WIRE.clear()
    url = chain + "/checkout"
    params = {"access_token": S["access-token"], "Password": S["query-password"], "u": VISIBLE}
    headers = {
        "Authorization": f"Bearer {S['authorization']}",
        "Proxy-Authorization": f"Basic {S['proxy-auth']}",
        "X-Api-Key": S["api-key-header"],
        "Cookie": f"session={S['cookie']}; theme={VISIBLE}",
        "Referer": f"http://shop.test/cart?token={S['query-token']}&u={VISIBLE}",
    }
    if method == "GET":
        response = requests.get(url, params=params, headers=headers, timeout=10)
    elif method == "POST-json":
        body = {
            "user": VISIBLE,
            "payment": {"card": {"secret": S["json-secret"]}, "tokens": [S["json-list"]]},
            "list": [{"password": S["json-list"]}],
        }
        response = requests.post(url, params=params, json=body, headers=headers, timeout=10)
    else:
        form = {"password": S["form-password"], "api_key": S["form-password"], "u": VISIBLE}
        response = requests.post(url, params=params, data=form, headers=headers, timeout=10)

    assert response.status_code == 200
    wire = "\n".join(WIRE)
    assert [name for name in ON_THE_WIRE if S[name] not in wire] == []
    assert base64.b64encode(f"user:{S['userinfo']}".encode()).decode() in wire
    assert response.json()["access_token"] == S["response-token"]  # the caller gets it
    lines = json.dumps(trace_events)
    assert VISIBLE in lines  # the fields were written; only the secrets were hidden
    assert "[REDACTED]" in lines
    assert len(events_of(trace_events, "call")) >= 8
    assert len(events_of(trace_events, "end")) >= 8
    _assert_no_leak(secret_scan, before)


def test_secrets_in_a_failed_trace_block_are_not_logged(secret_scan: Any) -> None:
    before = len(secret_scan.offending)
    with pytest.raises(RuntimeError), traced.trace("job"):
        raise RuntimeError(f"failed calling /api?access_token={S['trace-error']}")
    _assert_no_leak(secret_scan, before)


def test_the_scan_sees_every_logger_even_with_the_events_handlers_replaced(
    secret_scan: Any,
) -> None:
    """The suite-wide scan is live: a canary marker logged both ways is caught."""
    canary = f"canary-PLANTED-{uuid.uuid4().hex}"
    before = len(secret_scan.offending)
    secret_scan.markers.append(canary)
    events_logger = logging.getLogger("traced_http")
    try:
        events_logger.handlers = [logging.NullHandler()]
        events_logger.propagate = False
        with traced.trace("canary"):
            traced.add_event("canary", {"note": canary})
        logging.getLogger("some.app").warning("app line %s", canary)
        caught = secret_scan.offending[before:]
    finally:
        secret_scan.markers.remove(canary)
        del secret_scan.offending[before:]
    assert len(caught) == 2
    assert any('"event_des": "canary"' in line for line in caught)
    assert any('"logger": "some.app"' in line for line in caught)
