"""import-linter contract types of our own, used by ``[tool.importlinter]``.

import-linter sees modules, not names: it cannot tell ``from flask import
current_app`` (fine in a service) from ``from flask import request`` (only
the web layer may read the request). :class:`FlaskNamesContract` reads the
source of every module that imports flask and refuses the listed names
outside the allowed packages.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class _Use:
    module: str
    line: int
    name: str


class FlaskNamesContract(Contract):
    """Only ``allowed_importers`` may use ``names`` of the external ``package``.

    Options: ``package`` (e.g. ``flask``), ``names`` (e.g. ``request``,
    ``url_for``, ``flash``) and ``allowed_importers`` (packages whose
    modules may use them). Both ``from flask import request`` and
    ``flask.request`` count.
    """

    type_name = "flask_names"

    package = fields.StringField()
    names = fields.ListField(subfield=fields.StringField())
    allowed_importers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        """Parse every importer of ``package`` outside the allowed packages."""
        package = str(self.package)
        names = {str(n) for n in self.names}  # type: ignore[attr-defined]
        allowed = tuple(str(a) for a in self.allowed_importers)  # type: ignore[attr-defined]
        uses: list[_Use] = []
        for importer in sorted(graph.find_modules_that_directly_import(package)):
            if any(importer == a or importer.startswith(a + ".") for a in allowed):
                continue
            uses.extend(_uses_in(importer, package, names))
        return ContractCheck(kept=not uses, metadata={"uses": uses})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """One line per forbidden use, with its line number."""
        for use in check.metadata["uses"]:
            output.print_error(
                f"{use.module}:{use.line} uses {self.package}.{use.name}", bold=False
            )
            output.new_line()


def _uses_in(module: str, package: str, names: set[str]) -> list[_Use]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found: list[_Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            found += [
                _Use(module, node.lineno, a.name) for a in node.names if a.name in names
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == package
            and node.attr in names
        ):
            found.append(_Use(module, node.lineno, node.attr))
    return found
