"""What every Reflex event handler gets before its own code runs, whatever a browser sends:
arguments checked by type (one adapter for all, `ui.states.base`), and a tab whose states
belong to one session at a time (`TabOwnerGuard`).

The handler inventory is read from the app itself, so a handler added later is covered, and
one without precise annotations fails here."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import typing
from typing import Any

import pytest
import reflex as rx
from pydantic import ValidationError
from reflex.istate.data import RouterData

import pms_dashboard.pms_dashboard  # noqa: F401  (registers every page and state)
from pms_dashboard.ui.states.base import (
    MALFORMED,
    AppState,
    TabOwner,
    TabOwnerGuard,
    adapter_for,
    session_fingerprint,
)
from tests.conftest import TEST_PASSWORD, new_tenant
from tests.ui_harness import call, state_for, token_for, vars_text

# What a browser can put into an event's arguments (JSON), and then some.
CANDIDATES: list[Any] = [None, True, 0, 7, 1.5, "", "x", "2", [], ["a"], {}, {"a": "b"}, -1]


def _our_states() -> list[type[rx.State]]:
    out: list[type[rx.State]] = []
    todo = list(AppState.get_substates())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.get_substates())
    return sorted(out, key=lambda c: c.get_full_name())


HANDLERS = [
    (cls, name)
    for cls in _our_states()
    for name, handler in cls.event_handlers.items()
    if not name.startswith("_") and name != "setvar" and inspect.getmodule(handler.fn) is not None
    and handler.fn.__module__.startswith("pms_dashboard")
]  # fmt: skip


def _params(cls: type[rx.State], name: str) -> list[inspect.Parameter]:
    fn = inspect.unwrap(cls.event_handlers[name].fn)
    return list(inspect.signature(fn).parameters.values())[1:]


def test_the_inventory_covers_every_state_and_handler() -> None:
    states = {cls.__name__ for cls, _ in HANDLERS}
    expected = {"GoalsState", "GoalDetailState", "PeopleState", "CyclesState", "ReviewsState"}
    expected |= {"SettingsState", "SsoSettingsState", "ConsoleState", "SignInPageState"}
    assert expected <= states
    assert len(HANDLERS) > 90


@pytest.mark.parametrize(("cls", "name"), HANDLERS, ids=lambda v: getattr(v, "__name__", v))
def test_every_handler_is_checked_and_precisely_annotated(cls: type[rx.State], name: str) -> None:
    fn = cls.event_handlers[name].fn
    assert getattr(fn, "__pms_checked__", False), f"{cls.__name__}.{name} is not checked"
    hints = typing.get_type_hints(inspect.unwrap(fn))
    for p in _params(cls, name):
        assert p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD), f"{name}: *args/**kwargs"
        assert p.name in hints, f"{cls.__name__}.{name}({p.name}) has no annotation"
        assert hints[p.name] is not Any, f"{cls.__name__}.{name}({p.name}: Any) checks nothing"


def _wrong_values(hint: Any) -> list[Any]:
    adapter = adapter_for(hint)  # the handlers' own (`ui.states.base`)
    wrong = []
    for value in CANDIDATES:
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError:
            wrong.append(value)
    return wrong


@pytest.fixture(scope="module")
def admin_token() -> str:
    t = new_tenant()
    return token_for(t.slug, f"admin@{t.slug}.test", TEST_PASSWORD)


def _refused(state: rx.State, events: list[Any]) -> bool:
    shown = getattr(state, "error", None)
    return shown == MALFORMED or any(MALFORMED in repr(e) for e in events)


@pytest.mark.parametrize(("cls", "name"), HANDLERS, ids=lambda v: getattr(v, "__name__", v))
def test_wrongly_typed_missing_and_extra_arguments_are_refused_before_the_handler(
    cls: type[rx.State], name: str, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler = cls.event_handlers[name]
    params = _params(cls, name)
    hints = typing.get_type_hints(inspect.unwrap(handler.fn))
    good = ["x" if hints[p.name] is not dict else {} for p in params]
    attempts: list[tuple[tuple, dict]] = [((*good, "extra"), {}), ((), {"unexpected": 1})]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if required:
        attempts.append(((), {}))  # every required argument missing
    for i, p in enumerate(params):
        wrong = _wrong_values(hints[p.name])
        assert wrong, f"{name}({p.name}) accepts anything a browser sends"
        attempts += [((*good[:i], bad, *good[i + 1 :]), {}) for bad in wrong]
    for token in (admin_token, None):
        for args, kwargs in attempts:
            st = state_for(cls, token, "/")
            before = vars_text(st)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="pms_dashboard.ui.states.base"):
                events = call(st, handler, *args, **kwargs)
            assert _refused(st, events), (name, args, kwargs)
            assert "refused a malformed event" in caplog.text
            if isinstance(getattr(st, "error", None), str):
                assert vars_text(st) == before.replace("'error': ''", f"'error': {MALFORMED!r}")


# ------------------------------------------------------------------ one session per tab


def _route(root: rx.State, cookie: str) -> None:
    router = RouterData.from_router_data({"headers": {"cookie": cookie}, "pathname": "/goals"})
    todo = [root]
    while todo:
        s = todo.pop()
        s.router = router
        todo.extend(s.substates.values())


def _everything(root: rx.State) -> str:
    out, todo = [], [root]
    while todo:
        s = todo.pop()
        out.append(vars_text(s))
        todo.extend(s.substates.values())
    return "\n".join(out)


def test_a_new_session_in_the_tab_finds_every_state_reset_before_its_first_event() -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from pms_dashboard.ui.states.goals import GoalDetailState, GoalsState
    from pms_dashboard.ui.states.people import PeopleState

    goals = state_for(GoalsState, "token-of-globex-admin", "/goals")
    root = goals._get_root_state()
    guard = TabOwnerGuard()
    asyncio.run(guard.preprocess(None, root, None))  # the first session claims the tab
    # what Globex's pages left in the tab's states
    goals.rows = [{"title": "GLOBEX-SECRET goal"}]
    goals.user_name = "GLOBEX-SECRET Greta"
    people = root.get_substate(PeopleState.get_full_name().split(".")[1:])
    people.rows = [{"email": "GLOBEX-SECRET@globex.example"}]
    detail = root.get_substate(GoalDetailState.get_full_name().split(".")[1:])
    detail.check_ins = [{"note": "GLOBEX-SECRET note"}]
    console = root.get_substate(ConsoleState.get_full_name().split(".")[1:])
    console.admin_name = "GLOBEX-SECRET"
    asyncio.run(guard.preprocess(None, root, None))  # the same session: nothing is touched
    assert _everything(root).count("GLOBEX-SECRET") == 5

    for cookie in ("pms_session=token-of-acme-manager", ""):  # another session; signed out
        _route(root, cookie)
        root._clean()
        asyncio.run(guard.preprocess(None, root, None))
        assert "GLOBEX-SECRET" not in _everything(root)
        assert goals.rows == [] and goals.user_name == "" and people.rows == []
        assert "rows" in goals.dirty_vars  # the defaults are what the next delta sends
        goals.rows = [{"title": "GLOBEX-SECRET again"}]
    tab = root.get_substate(TabOwner.get_full_name().split(".")[1:])
    assert tab._owner == session_fingerprint("")


def test_the_fingerprint_tells_tenant_and_console_sessions_apart() -> None:
    prints = {
        session_fingerprint(c)
        for c in (
            None,
            "",
            "pms_session=a",
            "pms_session=b",
            "pms_console=a",
            "pms_session=a; pms_console=a",
            "other=1; pms_session=a",
        )
    }
    assert len(prints) == 5  # "" and None are both nobody; the other cookie changes nothing


def test_with_event_threads_a_plain_handler_leaves_the_loop_to_other_tabs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With PMS_EVENT_THREADS set, a handler waiting on the database does not hold up every
    other tab of the worker: Reflex runs a plain handler on its event loop, so `checked`
    hands it to an event thread. (Run on the loop, the handler below would wait for a
    release that never comes.)"""
    from pms_dashboard.settings import get_settings
    from pms_dashboard.ui.states import base
    from pms_dashboard.ui.states.base import checked

    monkeypatch.setenv("PMS_EVENT_THREADS", "2")
    monkeypatch.setattr(base, "_threads", None)
    get_settings.cache_clear()

    started, release = threading.Event(), threading.Event()
    ran_on: list[str] = []

    def handler(self: Any, n: int) -> int:
        ran_on.append(threading.current_thread().name)
        started.set()
        if not release.wait(5):
            raise AssertionError("the loop was blocked while the handler ran")
        return n * 2

    wrapped = checked(handler)
    assert inspect.iscoroutinefunction(wrapped)

    async def two_tabs() -> tuple[int, str]:
        first = asyncio.create_task(wrapped(object(), 21))
        while not started.is_set():
            await asyncio.sleep(0.005)
        other = await asyncio.sleep(0, result="served meanwhile")  # another tab's event
        release.set()
        return await first, other

    assert asyncio.run(two_tabs()) == (42, "served meanwhile")
    assert ran_on and ran_on[0].startswith("pms-event")
    # the arguments are still checked before the handler runs, on its thread too
    assert asyncio.run(wrapped(object(), "21")) is not None and ran_on == ran_on[:1]
    monkeypatch.undo()
    get_settings.cache_clear()


def test_by_default_a_plain_handler_runs_on_the_loop() -> None:
    """PMS_EVENT_THREADS=0 (the default): the handler runs where Reflex calls it."""
    from pms_dashboard.settings import get_settings
    from pms_dashboard.ui.states.base import checked

    assert get_settings().event_threads == 0
    ran_on: list[str] = []

    def handler(self: Any, n: int) -> int:
        ran_on.append(threading.current_thread().name)
        return n + 1

    assert asyncio.run(checked(handler)(object(), 1)) == 2
    assert ran_on == [threading.main_thread().name]
