"""`actlab-tui serve`: the lab in a browser, behind a secret token and an Origin check.

textual-serve starts one app process per browser session by handing a command line to a
shell (`asyncio.create_subprocess_shell`), so every word of that line is quoted here and no
value the server was given can run anything. The app gets the server's settings and a hidden
`--served` flag, under which its form cannot change the data or cache folders.

A browser reaches the server only with the token printed at start (in the page URL, then in
the websocket path the page is given), and only from a page of this server (Origin check);
every other page open in the same browser is refused, as are requests naming another host
(DNS rebinding).

The server's log is one short line per record, never a traceback (textual-serve's handler
prints each frame's local variables, the raw request and its token among them) and never the
token: a request aiohttp cannot parse is one "rejected a malformed request" line.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import shlex
import socket
import sys
from typing import Any

import aiohttp_jinja2
from actlab.engine import RunConfig
from aiohttp import http_exceptions, web
from textual_serve.server import Server

from .options import CONFIG_OPTIONS

SERVED_FLAG = "--served"
WILDCARD_HOSTS = ("", "0.0.0.0", "::")
# Public files of textual-serve's page (script, styles, fonts), and downloads the app hands to
# the browser, named by a random key (uuid4) that only the session's page was told.
OPEN_PREFIXES = ("/static/", "/download/")
# A token, right or wrong, in a query string or a websocket path: a wrong one may be a typo of
# the right one, so neither is written to a log.
TOKEN_IN_URL = re.compile(r"(token=|/ws/)[^\s&#/?:\"'<>]*")
LOG_LINE_LIMIT = 300
log = logging.getLogger("actlab.serve")


def app_argv(
    config: RunConfig,
    *,
    threads: int | str | None = None,
    open_dir: str | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The command line of one served app: the server's settings, every one, as `--opt=value`
    words (a value starting with '-' stays a value)."""
    argv = [python, "-m", "actlab.tui", SERVED_FLAG]
    if threads is not None:
        argv.append(f"--threads={threads}")
    if open_dir is not None:
        argv.append(f"--open={open_dir}")
    default = RunConfig()
    for flags, name, kwargs in CONFIG_OPTIONS:
        value = getattr(config, name)
        # --data-dir alone implies --dataset idx, so the dataset is always said
        if value is None or (value == getattr(default, name) and name != "dataset"):
            continue
        if kwargs.get("is_flag"):  # --no-fallback: given when the setting is off
            argv.append(flags[0])
        elif isinstance(value, tuple):
            argv.append(f"{flags[0]}={','.join(str(v) for v in value)}")
        else:
            argv.append(f"{flags[0]}={value}")
    return argv


def app_command(argv: list[str]) -> str:
    """`argv` as one shell command line in which every word is literal. `exec`: the shell
    becomes the app, so the server's process handle is the app's."""
    return "exec " + " ".join(shlex.quote(word) for word in argv)


def is_loopback(host: str) -> bool:
    """True when `host` names this machine's loopback interface only."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers (`name:port`, lower case) the server answers; None when it listens on
    every interface, where any name may reach it and the token alone guards it."""
    if host in WILDCARD_HOSTS:
        return None
    names = {host.lower()}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "::1"}
    bracketed = {f"[{n}]" if ":" in n else n for n in names}
    hosts = {f"{n}:{port}" for n in bracketed}
    if port == 80:  # browsers leave the default port out
        hosts |= bracketed
    return frozenset(hosts)


def refusal(
    *, host: str, origin: str | None, path: str, given: str, token: str, hosts: frozenset[str] | None
) -> str | None:
    """Why a request is refused (None: let it through).

    host: the request's Host header; origin: its Origin header (browsers send one with every
    websocket and cross-site request); given: the token it carries, "" for none.
    """
    host = host.lower()
    if hosts is not None and host not in hosts:
        return f"unknown host {host!r}"
    if origin is not None and origin.lower() != f"http://{host}":
        return f"foreign origin {origin!r}"
    if path.startswith(OPEN_PREFIXES):
        return None
    if not secrets.compare_digest(given.encode(), token.encode()):
        return "missing or wrong token"
    return None


def redact(text: str, token: str) -> str:
    """`text` without `token` nor any other token a URL in it carries."""
    return TOKEN_IN_URL.sub(r"\1…", text.replace(token, "…") if token else text)


def malformed(exc: http_exceptions.HttpProcessingError) -> str:
    """What was wrong with a request aiohttp could not parse, in a few words that quote none of
    it (its own message quotes the offending line)."""
    if isinstance(exc, http_exceptions.LineTooLong):
        return "request line or header too large"
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return "unknown method"
    if isinstance(exc, http_exceptions.BadStatusLine):
        return "bad request line"
    if isinstance(exc, http_exceptions.InvalidHeader):
        return "bad header"
    if isinstance(exc, http_exceptions.InvalidURLError):
        return "bad URL"
    return f"{type(exc).__name__} (HTTP {exc.code})"


class OneLine(logging.Filter):
    """Turns every record into one short line without the token: an exception is named by its
    type only (its message and traceback may hold the request), and the message is cut."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            # aiohttp: "Error handling request from %s", the client's address
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            message = f"rejected a malformed request from {remote}: {malformed(exc)}"
        else:
            try:
                message = record.getMessage()
            except Exception:  # a record whose arguments do not fit its format
                message = str(record.msg)
            if exc is not None:
                message = f"{message} ({type(exc).__name__})"
        message = " ".join(redact(message, self.token).split())
        if len(message) > LOG_LINE_LIMIT:
            message = message[: LOG_LINE_LIMIT - 1] + "…"
        record.msg, record.args = message, ()
        record.exc_info = record.exc_text = record.stack_info = None
        return True


class LabServer(Server):
    """textual-serve's server with every request checked by `refusal`."""

    def __init__(self, argv: list[str], *, host: str, port: int, token: str | None = None) -> None:
        super().__init__(app_command(argv), host=host, port=port, title="actlab")
        self.token = token or secrets.token_urlsafe(32)
        self.hosts = allowed_hosts(host, port)

    @property
    def url(self) -> str:
        """The address to open, token included (this machine's name when listening on every
        interface; an IPv6 address in brackets)."""
        name = socket.gethostname() if self.host in WILDCARD_HOSTS else self.host
        name = f"[{name}]" if ":" in name else name
        return f"http://{name}:{self.port}/?token={self.token}"

    def initialize_logging(self) -> None:
        """One handler for every logger (aiohttp's, asyncio's, textual-serve's, ours), each
        record through `OneLine`. Replaces textual-serve's rich handler, whose tracebacks show
        every frame's local variables: the raw request, token included."""
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("actlab: %(message)s"))
        handler.addFilter(OneLine(self.token))
        root = logging.getLogger()
        for old in root.handlers[:]:
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        # aiohttp's access line is long (time, user agent) and lists every page asset: the guard
        # writes a short one instead
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        # the page's script appends "?width=..&height=.." to its websocket URL: the token goes
        # in the path
        app.router.add_get("/ws/{token}", self.handle_websocket, name="session")

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            reason = refusal(
                host=request.host,
                origin=request.headers.get("Origin"),
                path=request.path,
                given=request.match_info.get("token") or request.query.get("token", ""),
                token=self.token,
                hosts=self.hosts,
            )
            if reason is not None:
                log.info("%s %s %s 403 refused: %s", request.remote, request.method, request.path, reason)
                raise web.HTTPForbidden(text=f"actlab: refused: {reason}\n")
            response: web.StreamResponse = await handler(request)
            if not request.path.startswith(OPEN_PREFIXES):  # the page's assets would be noise
                # the path only, redacted by the handler's filter: a query may hold the token
                log.info("%s %s %s %d", request.remote, request.method, request.path, response.status)
            if not response.prepared:  # a websocket has sent its headers already
                response.headers["Referrer-Policy"] = "no-referrer"
                response.headers["Cache-Control"] = "no-store"
            return response

        app.middlewares.append(guard)
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # textual-serve's own type for its template's context (this overrides its handler)
        context: dict[str, Any] = await Server.handle_index.__wrapped__(self, request)  # type: ignore[attr-defined]
        # The websocket goes to the host the page came from (textual-serve names the bind
        # address, which a browser cannot reach when that is 0.0.0.0), token in the path.
        path = request.app.router["session"].url_for(token=self.token)
        context["app_websocket_url"] = f"ws://{request.host}{path}"
        return context

    async def on_startup(self, app: web.Application) -> None:
        print(f"actlab: serving the lab on {self.url}", flush=True)
        print("Open that address (the token in it is the key to the lab); Ctrl+C stops.", flush=True)


def check_port_free(host: str, port: int) -> None:
    """One line (ConfigError) when `host:port` cannot be listened on, before the server
    announces an address it would not serve (a port in use, an address not of this machine)."""
    from actlab.engine import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigError(f"--host {host}: not an address of this machine ({exc.strerror or exc})") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(address)
        except OSError as exc:
            why = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
            raise ConfigError(f"--port {port}: {why}; choose another --port") from None


def serve_lab(argv: list[str], host: str, port: int) -> None:
    """Serve the app `argv` starts until Ctrl+C."""
    check_port_free(host, port)
    LabServer(argv, host=host, port=port).serve()
