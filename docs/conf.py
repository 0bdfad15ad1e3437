"""Sphinx configuration for the flask_paylinks docs."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

project = "flask_paylinks"
author = "flask_paylinks developers"
copyright = "2026, flask_paylinks developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
exclude_patterns = ["_build"]
intersphinx_mapping: dict[str, Any] = {}
nitpicky = False


class ConfigReference(SphinxDirective):
    """``.. paylinks-config::`` renders every key of ``config.DEFAULTS``."""

    def run(self) -> list[nodes.Node]:
        from flask_paylinks.config import DEFAULTS

        lines: list[str] = []
        for key, spec in DEFAULTS.items():
            lines += [
                f".. data:: {key}",
                "",
                f"   Default: ``{spec.default!r}``",
                "",
                f"   {spec.doc}",
                "",
            ]
        container = nodes.section()
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return list(container.children)


def setup(app: Sphinx) -> None:
    app.add_directive("paylinks-config", ConfigReference)
