"""``propagate_to`` patterns: which hosts may receive trace headers."""

from __future__ import annotations

import pytest

from traced_http.hosts import HostMatcher


@pytest.mark.parametrize(
    ("patterns", "url", "allowed"),
    [
        (None, "http://anything.example/x", True),
        ([], "http://api.internal/x", False),
        (["api.internal"], "http://api.internal/x", True),
        (["api.internal"], "https://API.Internal:8443/x", True),
        (["API.internal"], "http://api.internal/x", True),
        (["api.internal"], "http://api.internal.evil.example/x", False),
        (["api.internal"], "http://evil.example/api.internal", False),
        (["api.internal"], "http://api.internal@evil.example/", False),
        (["api.internal"], "http://sub.api.internal/x", False),
        (["*.corp.example"], "http://orders.corp.example/x", True),
        (["*.corp.example"], "http://a.b.corp.example/x", True),
        (["*.corp.example"], "http://corp.example/x", False),
        (["*.corp.example"], "http://evilcorp.example/x", False),
        (["billing:8080"], "http://billing:8080/x", True),
        (["billing:8080"], "http://billing:9090/x", False),
        (["billing:8080"], "http://billing/x", False),
        (["billing:443"], "https://billing/x", True),
        (["billing:80"], "http://billing/x", True),
        (["billing:80"], "https://billing/x", False),
        (["127.0.0.1"], "http://127.0.0.1:5000/x", True),
        (["[::1]"], "http://[::1]:5000/x", True),
        (["a.example", "*.b.example", "c.example:81"], "http://c.example:81/", True),
        (["a.example", "*.b.example", "c.example:81"], "http://x.b.example/", True),
        (["a.example"], "http://[bad/", False),
    ],
)
def test_host_patterns(patterns, url, allowed):
    assert HostMatcher(patterns).allows(url) is allowed


@pytest.mark.parametrize("pattern", ["", "  "])
def test_empty_pattern_is_refused(pattern):
    with pytest.raises(ValueError, match="propagate_to"):
        HostMatcher([pattern])


def test_a_bracketed_ipv6_host_with_a_port_matches():
    matcher = HostMatcher(["[::1]:8080"])
    assert matcher.allows("http://[::1]:8080/x")
    assert not matcher.allows("http://[::1]:9090/x")
