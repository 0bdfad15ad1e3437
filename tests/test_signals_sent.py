"""Every signal the extension offers is sent by some code path.

A signal nobody sends is a promise a host cannot tell is empty: its
receivers would never run. Signals for unbuilt features are added with them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from blinker import NamedSignal

import flask_paylinks
from flask_paylinks import signals

PACKAGE = Path(flask_paylinks.__file__).parent


def _sent_signals() -> set[str]:
    """Names ``x`` in ``send_guarded(signals.x, ...)`` or ``signals.x.send(...)``."""
    sent: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "send":
                target = func.value
            elif (
                isinstance(func, ast.Attribute | ast.Name)
                and (func.attr if isinstance(func, ast.Attribute) else func.id)
                == "send_guarded"
                and node.args
            ):
                target = node.args[0]
            else:
                continue
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                sent.add(target.attr)
    return sent


def test_every_offered_signal_is_sent_somewhere() -> None:
    offered = {
        name for name, value in vars(signals).items() if isinstance(value, NamedSignal)
    }
    assert offered, "the signals module offers no signal"
    assert offered - _sent_signals() == set()
