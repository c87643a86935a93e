"""How the application is put together."""

from __future__ import annotations

import inspect
from pathlib import Path

from starlette.applications import Starlette

from registry import config
from registry.app import build_app
from registry.middleware import RequestContext


def test_errors_are_answered_on_the_event_loop(tmp_path: Path) -> None:
    """Starlette runs a plain function exception handler in a worker thread: every 404 (clients
    probe each blob with HEAD before pushing it) would cost a thread hop."""
    app = build_app(config.load(None, {"server": {"data_dir": str(tmp_path)}}))
    assert isinstance(app, RequestContext) and isinstance(app.app, Starlette)
    handlers = app.app.exception_handlers
    assert handlers and all(inspect.iscoroutinefunction(handler) for handler in handlers.values())


def test_the_console_is_served_only_when_enabled(tmp_path: Path) -> None:
    def paths(overrides: dict[str, dict[str, object]]) -> set[str]:
        app = build_app(config.load(None, {"server": {"data_dir": str(tmp_path)}, **overrides}))
        assert isinstance(app, RequestContext) and isinstance(app.app, Starlette)
        return {getattr(route, "path", "") for route in app.app.routes}

    assert not any(path.startswith("/ui") for path in paths({}))
    assert {"/ui/repositories", "/ui/login"} <= paths({"ui": {"enabled": True}})
