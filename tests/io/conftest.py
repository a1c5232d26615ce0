"""Fixtures of the io tests: a local HTTP server standing in for GitHub."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest


@pytest.fixture
def server(tmp_path, mlearn_dir):
    """An HTTP server on 127.0.0.1 serving a copy of Si and Li test files."""
    root = tmp_path / "www"
    for el in ("Si", "Li"):
        (root / "data" / el).mkdir(parents=True)
        shutil.copy(mlearn_dir / el / "test.json", root / "data" / el / "test.json")
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": _quiet}),
        directory=str(root),
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/data"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _quiet(*args):
    pass


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """No MATML_* settings from the environment; the test server is never proxied."""
    for name in ("MATML_DATA_DIR", "MATML_CACHE_DIR", "MATML_MLEARN_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
