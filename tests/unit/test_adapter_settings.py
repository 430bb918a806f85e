"""``TracingAdapter`` options over the active trace's settings."""

from __future__ import annotations

import gc

import pytest

import traced_http as traced
from traced_http.settings import TraceSettings


def test_unset_options_follow_the_base_settings():
    adapter = traced.TracingAdapter()
    base = TraceSettings(service="gw", propagate_to=["a.example"])

    assert adapter.settings_for(base) is base


def test_own_options_win_the_rest_follow_the_base():
    adapter = traced.TracingAdapter(propagate_headers=["X-Request-ID"])
    base = TraceSettings(service="gw", propagate_to=["a.example"], body_limit=10)

    merged = adapter.settings_for(base)

    assert tuple(merged.propagate_headers) == ("X-Request-ID",)
    assert (merged.service, tuple(merged.propagate_to), merged.body_limit) == (
        "gw",
        ("a.example",),
        10,
    )
    assert adapter.settings_for(base) is merged


def test_settings_of_an_app_that_is_gone_never_leak_into_another():
    # Apps (and their settings) come and go, in tests and app factories; a new one may
    # be allocated where the old one was.
    adapter = traced.TracingAdapter(propagate_headers=["X-Request-ID"])
    for n in range(50):
        base = TraceSettings(service=f"svc-{n}", propagate_to=[f"h{n}.example"])
        merged = adapter.settings_for(base)
        assert merged.service == f"svc-{n}"
        assert tuple(merged.propagate_to) == (f"h{n}.example",)
        del base, merged
        gc.collect()


def test_unknown_option_is_refused_at_once():
    with pytest.raises(TypeError, match="propagate_too"):
        traced.TracingAdapter(propagate_too=["a.example"])


def test_bad_option_value_is_refused_at_once():
    with pytest.raises(TypeError, match="propagate_to"):
        traced.TracingAdapter(propagate_to="a.example")


def test_positional_parameters_are_http_adapters():
    adapter = traced.TracingAdapter(20, 30, 2, True, service="sdk")

    assert (adapter._pool_connections, adapter._pool_maxsize, adapter._pool_block) == (
        20,
        30,
        True,
    )
    assert adapter.max_retries.total == 2
    assert adapter.settings_for(TraceSettings()).service == "sdk"


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="colour"):
        traced.TracingAdapter(20, 20, colour="red")
