"""The settings schema is the one declaration: the signatures, TraceSettings and README follow."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest

import traced_http as traced
from flask_hooks import Tracing
from traced_http.settings import SETTINGS, UNSET, TraceSettings

ROOT = Path(__file__).resolve().parents[2]
OUTBOUND = [setting for setting in SETTINGS if setting.outbound]


def keyword_only(function):
    return {
        name: param
        for name, param in inspect.signature(function).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.parametrize(
    ("cls", "schema", "own"),
    [
        (Tracing, SETTINGS, ()),
        (traced.TracedSession, OUTBOUND, ("timeout", "retries")),
        (traced.TracingAdapter, OUTBOUND, ()),
    ],
)
def test_each_signature_lists_exactly_the_schemas_settings_that_apply(cls, schema, own):
    params = keyword_only(cls.__init__)
    for name in own:
        params.pop(name)

    assert list(params) == [setting.name for setting in schema]
    for setting in schema:
        assert params[setting.name].annotation == f"OrUnset[{setting.type}]", setting.name
        assert params[setting.name].default is UNSET, setting.name


def test_trace_settings_holds_the_outbound_settings_with_the_schemas_defaults():
    init_fields = [item for item in fields(TraceSettings) if item.init]

    assert [item.name for item in init_fields] == [setting.name for setting in OUTBOUND]
    for item, setting in zip(init_fields, OUTBOUND):
        assert (item.type, item.default) == (setting.type, setting.default), item.name


def test_the_adapter_passes_the_session_settings_on():
    session = traced.TracedSession(service="sdk", body_limit=10, redact_fields=["pin"])
    settings = session.get_adapter("https://x.example").settings_for(TraceSettings())

    assert (settings.service, settings.body_limit, tuple(settings.redact_fields)) == (
        "sdk",
        10,
        ("pin",),
    )


def test_the_readme_table_is_the_schema():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### Settings\n", 1)[1]
    table = re.search(r"^\| option \|.*?\n\n", section, flags=re.M | re.S)
    assert table, "the README's Settings section has a table"
    rows = table.group(0).strip().splitlines()[2:]

    assert rows == [
        f"| `{setting.name}` | {setting.shown} | {setting.doc} |" for setting in SETTINGS
    ]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_default_passes_its_own_check(setting):
    assert setting.check(setting.name, setting.default) == setting.default
