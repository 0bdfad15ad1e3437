"""Fixtures of the links service tests: the dashboard's host and merchants.

The services are the dashboard's; their tests use the same host and owners
(:mod:`tests.dashboard.conftest`) and the rows of :mod:`tests.factories`.
"""

from ..dashboard.conftest import app, ctx  # noqa: F401  (fixtures)
