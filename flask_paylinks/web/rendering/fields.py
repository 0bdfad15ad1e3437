"""Drawing a form's ``<input>`` elements quickly, exactly as WTForms would.

WTForms draws each input through its widget, a ``dir()`` of the field's
flags and ``Markup.format`` per attribute: the largest part of rendering
the checkout page. :func:`input_tag` writes the same element (the same
attributes in the same order, escaped the same way) with plain string
operations; a field whose widget is not a plain ``<input>`` is still drawn
by WTForms.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape
from wtforms.widgets import Input
from wtforms.widgets.core import clean_key

#: What :func:`markupsafe.escape` would change; most values hold none of it.
_SPECIAL = re.compile(r"[&<>\"']")


def escaped(value: Any) -> str:
    """*value* escaped exactly as :func:`markupsafe.escape` does, faster when
    there is nothing to escape (no ``Markup`` object made)."""
    if type(value) is str and _SPECIAL.search(value) is None:
        return value
    return str(escape(value))


def _attribute(key: str, value: Any) -> str:
    if value is True:
        return f" {key}"
    if value is False or value is None:
        return ""
    return f' {key}="{escaped(value)}"'


def input_tag(
    field: Any,
    *,
    described: str = "",
    invalid: Any = False,
    value: Any = None,
    id: str | None = None,
) -> Markup:
    """*field* as an ``<input>``, marked for assistive tech.

    *described* names the ids of its hint and error (``aria-describedby``),
    *invalid* (when truthy, e.g. the error message) sets
    ``aria-invalid="true"``, *value* replaces the field's own value (e.g. the
    terms digest) and *id* its id. Everything else (name, type, the field's
    ``render_kw``, the ``required`` or ``maxlength`` its validators flag)
    comes from the field, as WTForms draws it.
    """
    widget = field.widget
    if type(widget).__call__ is not Input.__call__ or getattr(field, "_datalist", None):
        kwargs: dict[str, Any] = {}
        if described:
            kwargs["aria_describedby"] = described
        if invalid:
            kwargs["aria_invalid"] = "true"
        if value is not None:
            kwargs["value"] = value
        if id is not None:
            kwargs["id"] = id
        drawn: Markup = field(**kwargs)
        return drawn
    attrs: dict[str, Any] = {"id": field.id if id is None else id, "name": field.name}
    render_kw = field.render_kw
    if render_kw:
        for key, given in render_kw.items():
            attrs[clean_key(key)] = given
    attrs.setdefault("type", widget.input_type)
    if value is not None:
        attrs["value"] = value
    elif "value" not in attrs:
        attrs["value"] = field._value()
    if described:
        attrs["aria-describedby"] = described
    if invalid:
        attrs["aria-invalid"] = "true"
    flags = field.flags
    for key in widget.validation_attrs:
        if key not in attrs:
            flag = getattr(flags, key, None)
            if flag is not None:
                attrs[key] = flag() if callable(flag) else flag
    tag = "".join(_attribute(key, attrs[key]) for key in sorted(attrs))
    # Every value is escaped by _attribute; names are the developer's, as in WTForms.
    return Markup(f"<input{tag}>")  # noqa: S704


def field_tag(field: Any, hint: str | None = None, class_: str = "") -> Markup:
    """*field* with its label, hint and first error, marked for assistive tech.

    The checkout's ``field`` macro, in Python: the page draws 11 of these,
    and a Jinja macro call costs more than the markup it writes.
    """
    error = field.errors[0] if field.errors else None
    fid = escaped(field.id)
    described = " ".join(
        ([f"{field.id}-hint"] if hint else [])
        + ([f"{field.id}-error"] if error else [])
    )
    classes = (
        "pl-field" + (f" {class_}" if class_ else "") + (" pl-invalid" if error else "")
    )
    parts = [
        f'<div class="{escaped(classes)}">\n<label for="{fid}">',
        escaped(field.label.text),
        "</label>",
    ]
    if hint:
        parts.append(f'<p class="pl-hint" id="{fid}-hint">{escaped(hint)}</p>')
    parts.append("\n")
    parts.append(input_tag(field, described=described, invalid=error))
    if error:
        parts.append(f'<p class="pl-error" id="{fid}-error">{escaped(error)}</p>')
    parts.append("\n</div>")
    # Every text above is escaped; the tags are ours.
    return Markup("".join(parts))  # noqa: S704
