"""Performance comparisons of traced-http with bare Flask/requests and the alternatives.

Run everything with ``python -m benchmarks.run`` (``--quick`` for a smoke run); see
``README.bench.md`` for what each part measures. Not run by CI as timed tests.
"""
