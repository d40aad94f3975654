"""Shared test set-up.

Markers (registered in pyproject.toml, enforced with --strict-markers):

* ``framework``   — needs torch, jax or keras. The core runs use ``-m "not framework"``.
* ``tensorboard`` — reads back with the ``tensorboard`` or ``tensorboardX`` package. Deselected
  in the run at the oldest supported protobuf. Any test that asks for the ``event_accumulator``
  fixture gets this marker automatically. Import tensorboard inside the test or fixture (or
  ``pytest.importorskip`` it), never unguarded at module top: the module must still be
  collectable where tensorboard is not installed.
* ``slow``        — takes more than a few seconds; still runs in ``tests/run.sh``.
* ``browser``     — drives headless Chromium (Debian's ``chromium``, through Playwright) against a
  real tensorboard server (tests/test_browser.py). Only the main job of tests/run.sh runs these
  (it installs Chromium); the other jobs deselect them with ``-m "not browser"``. Where
  Chromium is missing they skip, except under TBLOG_NO_IMPORT_SKIPS=1, where they fail.

A test module that needs an optional package imports it with ``pytest.importorskip`` (so the
core runs, which lack it, can still collect the module). In the main job of tests/run.sh,
where everything is installed, such a skip fails the run (TBLOG_NO_IMPORT_SKIPS=1).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

_TENSORBOARD_FIXTURES = {"event_accumulator", "tensorboard_server"}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the versions that differ between the runs of tests/run.sh."""
    try:
        from google.protobuf.internal import api_implementation

        impl = api_implementation.Type()
    except ImportError:
        impl = "?"
    deps = ", ".join(
        f"{d} {_version(d)}"
        for d in ("numpy", "crc32c", "tensorboard", "tensorboardX", "torch", "jax", "keras")
    )
    return [
        f"tblog: python {sys.version.split()[0]}, protobuf {_version('protobuf')} ({impl})",
        f"tblog: {deps}",
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that read back with tensorboard, before ``-m`` deselects by marker."""
    for item in items:
        if _TENSORBOARD_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.tensorboard)


_import_skips: list[str] = []


def _note_import_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    if report.skipped and "could not import" in reason:
        _import_skips.append(f"{report.nodeid}: {reason}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_import_skip(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_import_skip(report)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Two checks that tests/run.sh switches on through the environment.

    TBLOG_FAIL_IF_NONE_PASSED=1: a run in which no test passed fails (exit 5).
    TBLOG_NO_IMPORT_SKIPS=1 (the main job, where every optional package is installed):
    a test skipped by ``pytest.importorskip`` fails the run instead of hiding.
    """
    if exitstatus != 0 or session.config.option.collectonly:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write("\n")
            reporter.write_line(line, red=True)

    if os.environ.get("TBLOG_NO_IMPORT_SKIPS") == "1" and _import_skips:
        for line in _import_skips:
            say(f"tblog: skipped for a missing import where everything should be installed: {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    if os.environ.get("TBLOG_FAIL_IF_NONE_PASSED") == "1":
        passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
        if passed == 0:
            say("tblog: no test passed in this run; failing it")
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.fixture
def event_accumulator() -> Callable[[str | os.PathLike[str]], Any]:
    """Load a run directory with TensorBoard's own EventAccumulator, keeping every event.

    ``acc = event_accumulator(path)``; then ``acc.Scalars(tag)``, ``acc.Tensors(tag)``, …
    """
    from tensorboard.backend.event_processing import event_accumulator as ea

    def load(path: str | os.PathLike[str]) -> Any:
        acc = ea.EventAccumulator(
            os.fspath(path),
            size_guidance={
                ea.COMPRESSED_HISTOGRAMS: 0,
                ea.IMAGES: 0,
                ea.AUDIO: 0,
                ea.SCALARS: 0,
                ea.HISTOGRAMS: 0,
                ea.TENSORS: 0,
            },
        )
        acc.Reload()
        return acc

    return load


class TensorBoardServer:
    """A real ``tensorboard`` process on 127.0.0.1; ``server(path)`` is the body of a GET there.

    ``server.url`` is its base address, for a browser. ``server(path)`` returns the decoded JSON
    (or bytes) of an HTTP GET, e.g. ``server("/data/plugin/scalars/tags")``.
    """

    def __init__(self, logdir: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> None:
        import socket
        import subprocess

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                os.fspath(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--load_fast",
                "false",
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __call__(self, path: str) -> Any:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            body = response.read()
            if "json" in response.headers.get("Content-Type", ""):
                return json.loads(body)
            return body

    def wait_until_loaded(self, timeout: float = 60) -> None:
        """Wait until it serves and is done with its first load of the logdir."""
        import time
        import urllib.error

        deadline = time.monotonic() + timeout
        while True:
            try:
                if self("/data/runs"):
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tensorboard did not start on {self.url} (exit {self.process.poll()})")
            time.sleep(0.25)

    def stop(self) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def tensorboard_servers() -> Iterator[Callable[..., TensorBoardServer]]:
    """``start(logdir, cwd=None)`` starts a loaded :class:`TensorBoardServer`; all stop on exit.

    The ``tensorboard_server`` fixture, for tests that want a server of a wider scope.
    """
    servers: list[TensorBoardServer] = []

    def start(logdir: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> TensorBoardServer:
        server = TensorBoardServer(logdir, cwd)
        servers.append(server)
        server.wait_until_loaded()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def tensorboard_server() -> Iterator[Callable[..., TensorBoardServer]]:
    """Start real ``tensorboard`` servers on 127.0.0.1; ``get = tensorboard_server(logdir)``.

    ``get(path)`` returns the decoded JSON (or bytes) of an HTTP GET on the server, e.g.
    ``get("/data/plugin/scalars/tags")``; ``get.url`` is its address. Every server is stopped
    at the end of the test.
    """
    with tensorboard_servers() as start:
        yield start


class TensorBoardPlugin:
    """One TensorBoard plugin over a log directory, as ``tensorboard_plugin(...)`` builds it.

    ``plugin`` and ``context`` (``TBContext``; ``context.plugin_name_to_instance`` names every
    plugin built) for calling the plugin's methods; ``get``/``request`` for its HTTP routes.
    """

    def __init__(self, plugin: Any, context: Any) -> None:
        self.plugin = plugin
        self.context = context
        self.apps = plugin.get_plugin_apps()

    def request(
        self,
        route: str,
        query: str | dict[str, Any] | None = None,
        /,
        *,
        method: str = "GET",
        data: str | bytes | None = None,
        **params: Any,
    ) -> Any:
        """The werkzeug test response of ``route`` with ``query`` (a query string) or ``params``."""
        from werkzeug.test import Client

        if query is not None and params:
            raise TypeError("give the query as one string/dict or as keywords, not both")
        query_string = query if query is not None else params
        return Client(self.apps[route]).open(route, method=method, query_string=query_string, data=data)

    def get(
        self, route: str, query: str | dict[str, Any] | None = None, /, **params: Any
    ) -> tuple[int, bytes]:
        """``(status, body)`` of a GET of ``route``; ``get("/info", run="run")``."""
        response = self.request(route, query, **params)
        return response.status_code, response.get_data()


def tensorboard_plugin(
    plugin_class: type,
    logdir: str | os.PathLike[str],
    *,
    with_plugins: tuple[type, ...] = (),
    tensor_size_guidance: dict[str, int] | None = None,
) -> TensorBoardPlugin:
    """``plugin_class`` over ``logdir`` as TensorBoard builds it: multiplexer, data provider, context.

    ``with_plugins``: other plugin classes built over the same context first and listed in
    ``context.plugin_name_to_instance`` (e.g. the scalars plugin that custom_scalars asks for).
    Not a fixture: a test that uses it keeps its own ``@pytest.mark.tensorboard``.
    """
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin

    path = os.fspath(logdir)
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance=tensor_size_guidance)
    multiplexer.AddRunsFromDirectory(path)
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=path,
        multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, path),
    )
    context.plugin_name_to_instance = {}
    for other in with_plugins:
        instance = other(context)
        context.plugin_name_to_instance[instance.plugin_name] = instance
    plugin = plugin_class(context)
    context.plugin_name_to_instance[plugin.plugin_name] = plugin
    return TensorBoardPlugin(plugin, context)
