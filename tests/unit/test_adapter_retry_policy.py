"""``retry_policy`` and ``TracingAdapter(max_retries=...)``: what a retry setting means."""

from __future__ import annotations

import pytest
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.adapter import retry_policy


class MyRetry(Retry):
    pass


@pytest.mark.parametrize(
    "make",
    [
        lambda n: traced.TracingAdapter(max_retries=n).max_retries,
        lambda n: traced.TracedSession(retries=n).get_adapter("http://x/").max_retries,
        retry_policy,
    ],
    ids=["TracingAdapter", "TracedSession", "retry_policy"],
)
def test_an_int_retries_idempotent_calls_on_gateway_errors_without_raising(make):
    policy = make(3)

    assert policy.total == 3
    assert set(policy.status_forcelist) == {502, 503, 504}
    assert policy.raise_on_status is False
    assert policy.is_retry("GET", 503)
    assert not policy.is_retry("POST", 503)
    assert not policy.is_retry("GET", 500)


@pytest.mark.parametrize("value", [0, None])
def test_zero_or_none_means_no_retry(value):
    policy = retry_policy(value)

    assert policy.total == 0
    assert not policy.is_retry("GET", 503)


def test_a_retry_object_keeps_its_settings_and_class():
    given = MyRetry(total=4, status_forcelist=[429], backoff_factor=0.5)

    policy = retry_policy(given)

    assert isinstance(policy, MyRetry)
    assert (policy.total, policy.status_forcelist, policy.backoff_factor) == (4, [429], 0.5)
    assert policy is not given
    assert retry_policy(policy) is policy


def test_increment_keeps_the_tracing_class():
    policy = retry_policy(Retry(total=2, status_forcelist=[503]))

    after = policy.increment("GET", "/x", error=None, response=None)

    assert type(after) is type(policy)
    assert after.total == 1
