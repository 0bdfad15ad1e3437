"""axe-core in the browser tests: the engine the PyPI package ``axe-playwright-python``
ships (installed by the ``test`` extra), run on a Playwright page.

The script is evaluated through the DevTools protocol, not added as a
``<script>`` element, so pages keep their strict CSP while it runs.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

#: Impacts that fail a test; "minor" and "moderate" ones are reported only.
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core (WCAG 2.x A/AA and best-practice) violation on *page*."""
    page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
    )
    return list(result["violations"])


def assert_no_serious_violations(page: Any, where: str) -> list[str]:
    """Fail on a serious or critical violation; return the minor ones as text."""
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )
    return [f"{v['id']} ({v['impact']})" for v in violations]
