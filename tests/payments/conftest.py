"""Fixtures of the payments service tests: host A's shop, as the checkout's.

The service is the checkout's; its tests use the same host and rows
(:mod:`tests.checkout.conftest`, :mod:`tests.factories`).
"""

from ..checkout.conftest import plans, received, shop, yoga  # noqa: F401  (fixtures)
