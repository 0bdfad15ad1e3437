"""Small pieces of SQL the services share."""

from __future__ import annotations

#: The escape character of every pattern :func:`contains_pattern` makes.
LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A ``LIKE`` pattern (escape :data:`LIKE_ESCAPE`) of values containing *text*.

    ``%`` and ``_`` are taken literally. Control characters (NUL, which
    PostgreSQL refuses) are dropped: no stored value holds one.
    """
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"
