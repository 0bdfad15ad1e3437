"""Reading the dashboard's HTML in tests, with the standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"input", "img", "br", "hr", "meta", "link", "source", "col", "area", "wbr"}


@dataclass
class Element:
    """A start tag, its attributes and the text inside it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children_text: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        """An attribute, or *default*."""
        return self.attrs.get(name, default)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: (v if v is not None else "") for k, v in attrs})
        self.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(
            Element(tag, {k: (v if v is not None else "") for k, v in attrs})
        )

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                for element in self.open[index:]:
                    element.text = "".join(element.children_text)
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.children_text.append(data)


def parse(html: str | bytes) -> list[Element]:
    """Every element of *html*, in document order."""
    collector = _Collector()
    collector.feed(html.decode() if isinstance(html, bytes) else html)
    collector.close()
    for element in collector.open:
        element.text = "".join(element.children_text)
    return collector.elements


def by_id(html: str | bytes, element_id: str) -> Element:
    """The element with this id (AssertionError when there is none)."""
    found = [e for e in parse(html) if e.attrs.get("id") == element_id]
    assert found, f"no element with id {element_id!r}"
    return found[0]


def by_name(html: str | bytes, name: str) -> list[Element]:
    """Form controls named *name*."""
    return [e for e in parse(html) if e.attrs.get("name") == name]


def control(html: str | bytes, name: str) -> Element:
    """The one form control named *name*."""
    found = by_name(html, name)
    assert len(found) == 1, f"{len(found)} controls named {name!r}"
    return found[0]


def field_error(html: str | bytes, name: str) -> str:
    """The error text shown at the control *name*; asserts it is marked.

    The control must say ``aria-invalid="true"`` and point at its message
    with ``aria-describedby``.
    """
    elements = parse(html)
    controls = [e for e in elements if e.attrs.get("name") == name]
    assert controls, f"no control named {name!r}"
    marked = controls[0]
    assert marked.get("aria-invalid") == "true", f"{name} is not marked invalid"
    described = (marked.get("aria-describedby") or "").split()
    errors = [
        e
        for e in elements
        if e.attrs.get("id") in described and "pl-error" in e.get("class", "")
    ]
    assert errors, f"{name} does not point at an error message"
    return errors[0].text.replace("Error: ", "").strip()


def text(html: str | bytes) -> str:
    """The visible text of a page, whitespace collapsed."""
    elements = parse(html)
    body = [e for e in elements if e.tag == "body"]
    raw = body[0].text if body else " ".join(e.text for e in elements[:1])
    return " ".join(raw.split())
