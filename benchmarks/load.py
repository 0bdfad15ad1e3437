"""The benchmarks' HTTP client: fixed concurrency, one connection per request.

gunicorn's sync worker closes every connection, so each request opens its
own; the client is a few asyncio tasks, cheap next to the server they share
the machine with. :func:`drive` takes a function giving each request's
bytes in turn (``None`` when there are none left), so the same loop sends a
fixed GET or a stream of freshly signed POSTs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Tally:
    """What one :func:`drive` got back."""

    ok: int = 0
    failed: int = 0
    elapsed: float = 0.0
    #: ``"<status> <first line of the body>"`` of every answer, counted.
    answers: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Answers of 200 per second."""
        return self.ok / self.elapsed if self.elapsed else 0.0


def http_request(
    method: str,
    path: str,
    port: int,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """The bytes of one HTTP/1.1 request that closes its connection."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "User-Agent: paylinks-bench",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _answer(data: bytes) -> tuple[bool, str]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ", 2)
    code = status[1].decode(errors="replace") if len(status) > 1 else "?"
    first = body.split(b"\n", 1)[0][:60].decode(errors="replace").strip()
    return code == "200", f"{code} {first}".strip()


async def _worker(
    port: int,
    next_request: Callable[[], bytes | None],
    stop: float,
    tally: Tally,
    keep_answers: bool,
) -> None:
    while time.perf_counter() < stop:
        request = next_request()
        if request is None:
            return
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        data = await reader.read()
        writer.close()
        if keep_answers:
            ok, answer = _answer(data)
            tally.answers[answer] += 1
        else:
            ok = data.startswith(b"HTTP/1.1 200")
        if ok:
            tally.ok += 1
        else:
            tally.failed += 1


def drive(
    port: int,
    next_request: Callable[[], bytes | None],
    seconds: float,
    concurrency: int,
    *,
    keep_answers: bool = False,
) -> Tally:
    """Send ``next_request()`` from *concurrency* connections for *seconds*.

    Stops early once ``next_request`` returns ``None``. With *keep_answers*
    every answer's status and first body line is counted in the tally.
    """
    tally = Tally()

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _worker(port, next_request, stop, tally, keep_answers)
                for _ in range(concurrency)
            )
        )

    started = time.perf_counter()
    asyncio.run(run())
    tally.elapsed = time.perf_counter() - started
    return tally
