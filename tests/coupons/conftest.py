"""Fixtures of the coupons service tests: the dashboard's host and merchants.

The services are the dashboard's; their tests use the same host, owners and
row factories (:mod:`tests.dashboard.conftest`).
"""

from ..dashboard.conftest import app, ctx  # noqa: F401  (fixtures)
