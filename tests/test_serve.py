"""`actlab-tui serve`: the app's command line, the token and Origin checks, a real browser."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from actlab.engine import RunConfig
from actlab.tui.app import create_app
from actlab.tui.cli import _BATCH_ONLY, cli, main
from actlab.tui.options import CONFIG_OPTIONS, build_config
from actlab.tui.serve import SERVED_FLAG, allowed_hosts, app_argv, app_command, is_loopback, refusal
from actlab.tui.widgets.controls import ControlsPanel

HOSTILE = "a b;touch PWNED1 $(touch PWNED2) `touch PWNED3` 'q' \"d\" \\ & | > x\nnext"


def parse(argv: list[str]) -> tuple[RunConfig, dict[str, Any]]:
    """What the app makes of its command line (after `python -m actlab.tui`)."""
    ctx = cli.make_context("actlab-tui", list(argv))
    return build_config(ctx.params["preset"], ctx.params), ctx.params


# --- the app's command line -----------------------------------------------------------------------


def every_setting_changed() -> RunConfig:
    return RunConfig(
        activations=("gelu", "relu"),
        depth=3,
        width=17,
        optimizer="adam",
        lr=0.1 + 0.2,  # a float whose shortest repr is long
        momentum=0.5,
        batch_size=33,
        epochs=7,
        max_iterations=99,
        init="kaiming_normal",
        sigma_w2=1.5,  # kept although only init gaussian reads it
        sigma_b2=0.05,
        weight_decay=1e-5,
        l1=2e-6,
        dropout=0.25,
        clip="l2",
        clip_threshold=0.5,
        loss="mse",
        input_scaling="raw",
        thresholds=(0.5, 0.75),
        eval_every=3,
        diagnostics_every=0,
        seed=5,
        validation=0.2,
        validation_seed=3,
        dataset="idx",
        data_dir=HOSTILE,
        cache_dir="-cache dir",
        fallback=False,
        device="cpu",
    ).validate()


@pytest.mark.parametrize(
    "config",
    [
        RunConfig(),
        build_config("deep", {}),
        build_config("seed", {"epochs": 2}),
        RunConfig(dataset="sample", data_dir="/somewhere"),  # a directory that --data-dir alone would
        every_setting_changed(),  # turn into dataset idx
    ],
    ids=["defaults", "preset-deep", "preset-seed", "sample-with-dir", "every-setting"],
)
def test_app_argv_gives_the_app_the_servers_settings(config: RunConfig) -> None:
    argv = app_argv(config, threads=3, open_dir="-runs/x;y", python="/py")
    assert argv[:4] == ["/py", "-m", "actlab.tui", SERVED_FLAG]
    got, params = parse(argv[3:])
    assert got == config
    assert params["threads"] == 3 and params["open_dir"] == "-runs/x;y" and params["served"] is True


def test_every_setting_and_root_option_is_passed_or_refused() -> None:
    changed = every_setting_changed()
    default = RunConfig()
    assert all(getattr(changed, name) != getattr(default, name) for _f, name, _kw in CONFIG_OPTIONS)
    assert len(app_argv(changed)) == 4 + len(CONFIG_OPTIONS)
    # a root option added later must be passed to the served app or refused by serve
    handled = {"threads", "open_dir", "served", "preset", *_BATCH_ONLY, *(n for _f, n, _kw in CONFIG_OPTIONS)}
    assert {p.name for p in cli.params} <= handled


def test_app_command_keeps_every_word_literal_in_a_shell(tmp_path: Path) -> None:
    """textual-serve runs the command with asyncio.create_subprocess_shell: so does this test."""
    odd_dir = tmp_path / "my env; $(touch PWNED4) 'x'"
    odd_dir.mkdir()
    python = odd_dir / "python"
    python.symlink_to(sys.executable)
    script = "import json, sys; print(json.dumps(sys.argv[1:]))"
    words = ["-c", script, f"--data-dir={HOSTILE}", HOSTILE, "", "-"]

    async def run() -> tuple[bytes, bytes, int | None]:
        proc = await asyncio.create_subprocess_shell(
            app_command([str(python), *words]),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        return out, err, proc.returncode

    out, err, code = asyncio.run(run())
    assert code == 0, err
    assert json.loads(out) == words[2:]
    assert not list(tmp_path.glob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def test_serve_refuses_batch_options_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--batch"], ["--json"], ["--out", "x"], ["--seeds", "3"], ["-q"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "serve", "--port", "1"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is for --batch runs" in err


# --- who may come in --------------------------------------------------------------------------------


def test_loopback_and_allowed_hosts() -> None:
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("::")
    local = allowed_hosts("localhost", 8000)
    assert local == {"localhost:8000", "127.0.0.1:8000", "[::1]:8000"}
    assert allowed_hosts("192.0.2.1", 80) == {"192.0.2.1:80", "192.0.2.1"}
    assert allowed_hosts("0.0.0.0", 8000) is None


@pytest.mark.parametrize(
    ("host", "origin", "path", "given", "refused"),
    [
        ("127.0.0.1:8000", None, "/", "T", None),
        ("localhost:8000", "http://localhost:8000", "/ws/T", "T", None),
        ("127.0.0.1:8000", None, "/", "", "missing or wrong token"),
        ("127.0.0.1:8000", None, "/", "T2", "missing or wrong token"),
        ("127.0.0.1:8000", None, "/ws", "", "missing or wrong token"),
        ("127.0.0.1:8000", "http://evil.example", "/ws/T", "T", "foreign origin"),
        ("127.0.0.1:8000", "http://localhost:8000", "/ws/T", "T", "foreign origin"),
        ("127.0.0.1:8000", "null", "/", "T", "foreign origin"),
        ("127.0.0.1:8000", "http://127.0.0.1:8001", "/static/js/textual.js", "", "foreign origin"),
        ("evil.example:8000", None, "/", "T", "unknown host"),  # DNS rebinding
        ("127.0.0.1:8000", None, "/static/js/textual.js", "", None),
        ("127.0.0.1:8000", None, "/download/0123abcd", "", None),
    ],
)
def test_refusal_rules(host: str, origin: str | None, path: str, given: str, refused: str | None) -> None:
    reason = refusal(
        host=host, origin=origin, path=path, given=given, token="T", hosts=allowed_hosts("localhost", 8000)
    )
    assert (reason is None) if refused is None else (reason is not None and reason.startswith(refused))


# --- the served form --------------------------------------------------------------------------------


def test_served_form_keeps_the_servers_folders(tmp_path: Path) -> None:
    launch = RunConfig(dataset="idx", data_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"))

    async def scenario() -> None:
        app = create_app(config=launch, save_runs=False, served=True)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            panel = app.screen.query_one(ControlsPanel)
            assert app.screen.query_one("#f-data_dir").disabled
            # a saved run's settings (as "open a run" puts them in the form) keep the folders
            panel.set_config(RunConfig(dataset="idx", data_dir="/etc", cache_dir="/tmp/elsewhere"))
            await pilot.pause()
            assert panel.config is not None
            assert (panel.config.data_dir, panel.config.cache_dir) == (launch.data_dir, launch.cache_dir)
            panel.locked = True
            panel.locked = False
            await pilot.pause()
            assert app.screen.query_one("#f-data_dir").disabled

    asyncio.run(scenario())


# --- a real server and a real browser ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """End a process started in its own session, and everything it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the app sessions the server started
    except ProcessLookupError:
        pass
    proc.wait(timeout=5)


def start_logged(argv: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (so `stop_group` ends all it starts), output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def wait_for_line(log: Path, pattern: str, timeout: float, what: str) -> re.Match[str]:
    """The first line of the file `log` (written by another process) that matches `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if m := re.search(pattern, text):
            return m
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s; {log.name} ends: {text[-800:]}")


@contextmanager
def serving(cwd: Path, cache_dir: Path) -> Iterator[tuple[Path, str, str, int]]:
    """`actlab-tui serve` on a free loopback port, run in `cwd`: (its log, url with token,
    token, port), stopped on leaving."""
    port = free_port()
    log = cwd / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    proc = start_logged(
        [sys.executable, "-m", "actlab.tui", "-a", "relu,tanh", "serve", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        log,
        cwd=cwd,
        env=env,
    )
    try:
        m = wait_for_line(log, r"(http://127\.0\.0\.1:\d+/\?token=([\w-]+))", 30, "URL")
        yield log, m.group(1), m.group(2), port
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[tuple[str, str, int]]:
    """`actlab-tui serve` on a free loopback port: (url with token, token, port)."""
    with serving(tmp_path_factory.mktemp("served"), cache_dir) as (_log, url, token, port):
        yield url, token, port


def test_requests_without_the_token_or_from_another_origin_are_refused(server: tuple[str, str, int]) -> None:
    url, token, port = server
    base = f"http://127.0.0.1:{port}"

    async def check() -> None:
        async with aiohttp.ClientSession() as http:

            async def status(path: str, **headers: str) -> int:
                async with http.get(base + path, headers=headers) as r:
                    return r.status

            async def ws_status(path: str, **headers: str) -> int:
                try:
                    async with http.ws_connect(base + path, headers=headers):
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

            assert await status("/") == 403
            assert await status("/?token=wrong") == 403
            assert await status(f"/?token={token}", Origin="http://evil.example") == 403
            assert await status(f"/?token={token}", Host=f"evil.example:{port}") == 403
            async with http.get(url) as r:
                assert r.status == 200 and f'"ws://127.0.0.1:{port}/ws/{token}"' in await r.text()
                assert r.headers["Referrer-Policy"] == "no-referrer"
            assert await ws_status("/ws") == 403
            assert await ws_status("/ws/wrong") == 403
            assert await ws_status(f"/ws/{token}", Origin="http://evil.example") == 403
            assert await ws_status(f"/ws?token={token}", Origin=f"http://localhost:{port}") == 403

    asyncio.run(check())


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not on PATH (CI must have it: .ci/run installs it)")
    pytest.skip("chromium is not on PATH: apt-get install chromium to run the browser test")


class Cdp:
    """A minimal Chrome DevTools Protocol client over one page session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.session: str | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.replies:
                self.replies.pop(data["id"]).set_result(data)
            elif "method" in data:
                await self.events.put(data)

    async def send(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        reply = self.replies[self.next_id] = asyncio.get_running_loop().create_future()
        await self.ws.send_json(message)
        data = await asyncio.wait_for(reply, 10)
        assert "error" not in data, data
        return dict(data.get("result", {}))


def test_browser_loads_app(server: tuple[str, str, int], tmp_path: Path) -> None:
    """Headless Chromium opens the token URL; the page's websocket reaches a live app whose
    footer offers Start. The terminal draws on a canvas (xterm.js WebGL), so the text is read
    from the websocket frames the browser received (CDP Network events)."""
    url, token, port = server
    log = tmp_path / "chromium.log"
    browser = start_logged(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--no-first-run",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",  # WebGL on the CPU, for xterm's renderer
            "--window-size=1280,800",
            "about:blank",
        ],
        log,
    )
    try:
        devtools = wait_for_line(log, r"DevTools listening on (ws://\S+)", 20, "DevTools")[1]

        async def drive() -> None:
            async with aiohttp.ClientSession() as http, http.ws_connect(devtools, max_msg_size=0) as ws:
                cdp = Cdp(ws)
                target = await cdp.send("Target.createTarget", url="about:blank")
                attached = await cdp.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
                cdp.session = attached["sessionId"]
                await cdp.send("Network.enable")
                await cdp.send("Page.navigate", url=url)
                received, sockets, statuses = "", [], []
                deadline = time.monotonic() + 40
                while "Start" not in received:
                    left = deadline - time.monotonic()
                    assert left > 0, f"no 'Start' from the app; {sockets} {statuses}: {received[-300:]!r}"
                    try:
                        event = await asyncio.wait_for(cdp.events.get(), left)
                    except TimeoutError:
                        continue
                    params = event.get("params", {})
                    if event["method"] == "Network.webSocketCreated":
                        sockets.append(params["url"])
                    elif event["method"] == "Network.webSocketHandshakeResponseReceived":
                        statuses.append(params["response"]["status"])
                    elif event["method"] == "Network.webSocketFrameReceived":
                        frame = params["response"]
                        payload = frame["payloadData"]
                        if frame["opcode"] == 2:
                            payload = base64.b64decode(payload).decode(errors="replace")
                        received += payload
                assert sockets and sockets[0].startswith(f"ws://127.0.0.1:{port}/ws/{token}?width=")
                assert statuses[0] == 101
                drawn = await cdp.send(
                    "Runtime.evaluate",
                    expression="document.body.classList.contains('-first-byte')"
                    " && !!document.querySelector('.xterm-screen canvas')",
                )
                assert drawn["result"]["value"] is True
                cdp.reader.cancel()

        asyncio.run(asyncio.wait_for(drive(), 50))
    finally:
        stop_group(browser)
