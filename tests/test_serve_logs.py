"""`actlab-tui serve`'s log: one short line per record, never a traceback, never the token."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from actlab.tui.serve import OneLine, redact
from aiohttp.http_exceptions import BadStatusLine, LineTooLong
from test_serve import serving, wait_for_line

TOKEN = "Tok3n-sEcret_value"


def record(msg: str, *args: object, exc: BaseException | None = None, name: str = "x") -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def raised(exc: BaseException) -> BaseException:
    """`exc` with a traceback, as a logger gets it in an `except` block."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def formatted(rec: logging.LogRecord) -> str:
    handler = logging.StreamHandler()
    handler.addFilter(OneLine(TOKEN))
    assert handler.filter(rec)
    return logging.Formatter("%(message)s").format(rec)


def test_redact_removes_the_token_and_any_token_in_a_url() -> None:
    assert redact(f"GET /?token={TOKEN}&x=1 HTTP/1.1", TOKEN) == "GET /?token=…&x=1 HTTP/1.1"
    assert redact("GET /ws/Tok3n-sEcret_valuX?width=3 refused", TOKEN) == "GET /ws/…?width=3 refused"
    assert redact(f"bare {TOKEN}.", TOKEN) == "bare …."


def test_a_malformed_request_is_one_line_without_the_request() -> None:
    line = f"GET /?token={TOKEN} HTTP/1.1\r\nX: {'a' * 9000}".encode()
    exc = raised(LineTooLong(line, 8190))
    text = formatted(record("Error handling request from %s", "127.0.0.1", exc=exc, name="aiohttp.server"))
    assert text == "rejected a malformed request from 127.0.0.1: request line or header too large"
    exc = raised(BadStatusLine(f"GE\x01T /?token={TOKEN}"))
    text = formatted(record("Error handling request from %s", "::1", exc=exc, name="aiohttp.server"))
    assert text == "rejected a malformed request from ::1: bad request line"


def test_any_other_exception_is_named_not_traced() -> None:
    def failing(request_path: str) -> None:
        raise RuntimeError(f"boom in {request_path}\nsecond line")

    try:
        failing(f"/ws/{TOKEN}")
    except RuntimeError as exc:
        text = formatted(record("%s", exc, exc=exc))
    assert text == "boom in /ws/… second line (RuntimeError)"
    long = formatted(record("x" * 1000))
    assert len(long) <= 300 and "\n" not in long


# --- a real server -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[tuple[Path, str, int]]:
    """`actlab-tui serve` on a free loopback port: (its log, token, port)."""
    with serving(tmp_path_factory.mktemp("served-logs"), cache_dir) as (log, _url, token, port):
        yield log, token, port


def raw_request(port: int, request: bytes) -> bytes:
    """Send `request` as is and read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def after_start(log: Path) -> str:
    """The log past the two start lines (the first of which gives the user the token's URL)."""
    return log.read_text(errors="replace").split("\n", 2)[2]


def get_status(port: int, path: str) -> int:
    async def get() -> int:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
            await r.read()
            return r.status

    return asyncio.run(get())


@pytest.mark.parametrize("where", ["header", "request-line"])
def test_an_oversize_request_logs_one_line_and_the_server_goes_on(
    server: tuple[Path, str, int], where: str
) -> None:
    log, token, port = server
    big = "a" * 100_000
    path = f"/?token={token}" + (f"&pad={big}" if where == "request-line" else "")
    header = f"X-Big: {big}\r\n" if where == "header" else ""
    answer = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{header}\r\n".encode())
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    wait_for_line(
        log, r"rejected a malformed request from 127\.0\.0\.1: request line or header too large", 10, ""
    )
    assert get_status(port, f"/?token={token}") == 200  # still serving
    wait_for_line(log, r"127\.0\.0\.1 GET / 200", 10, "access line")
    text = after_start(log)
    assert "Traceback" not in text and "locals" not in text and token not in text
    assert max(len(line) for line in text.splitlines()) < 300


def test_access_lines_carry_no_token(server: tuple[Path, str, int]) -> None:
    log, token, port = server
    assert get_status(port, f"/?token={token}&fontsize=20") == 200
    assert get_status(port, f"/ws/{token[:-1]}x") == 403  # a near miss is not written either
    assert get_status(port, "/?token=wrong") == 403
    wait_for_line(log, r"127\.0\.0\.1 GET /ws/… 403 refused: missing or wrong token", 10, "refusal")
    wait_for_line(log, r"127\.0\.0\.1 GET / 403 refused: missing or wrong token", 10, "refusal")
    text = after_start(log)
    assert token not in text and token[:-1] not in text and "wrong" not in text.replace("or wrong token", "")


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Refused before the server announces an address it would not serve."""
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cli = str(Path(sys.executable).with_name("actlab-tui"))
        done = subprocess.run(
            [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no "serving the lab on ..." first
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--port {port}: cannot listen on 127.0.0.1:{port}" in lines[0]
