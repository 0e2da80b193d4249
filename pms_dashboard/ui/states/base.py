"""The base of every state of ours: what no browser can get around, whatever it sends.

Two guarantees live here, in one place, instead of in each handler:

* **Arguments are checked by type before a handler runs.** Every public event handler of a
  subclass is wrapped when the class is made: the browser's arguments are bound to the
  handler's signature and validated against its annotations (pydantic, strict: JSON gives
  real numbers, booleans and objects, so nothing needs coercing from text). Missing, extra or
  wrongly typed arguments (a list where a form belongs, null where a name belongs) never reach
  the handler: the person sees one generic message, the log gets a warning, nothing changes.
  Every handler parameter therefore needs a precise annotation (tests hold it).

* **A helper may end the handler.** A handler runs inside helpers such as the one
  signed-in transaction of `ui.states.session`; when that must stop the handler (no valid
  session: back to sign-in; a refusal: its words on the page), it raises `EndEvent`, and
  the wrapper returns what it carries.

* **A tab's state belongs to one session.** Reflex keeps state per browser tab (its client
  token), not per signed-in person, so whatever one person's pages put into vars would still be
  there for the next person signing in to the same tab. `TabOwnerGuard` (a Reflex middleware,
  run on every event before its handler and before hydration) compares a fingerprint of the
  request's session cookies with the one that filled the state (the backend-only var of
  `TabOwner`) and, on any difference, resets every state of ours to its defaults first. So
  no var of one session is ever sent to another, even to a client that reuses a tab's token.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import inspect
import logging
import typing
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVarTuple, Unpack, cast

import reflex as rx
from pydantic import InstanceOf, TypeAdapter, ValidationError
from reflex.event import EventCallback
from reflex.middleware import Middleware
from reflex.state import BaseState

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.settings import get_settings

logger = logging.getLogger(__name__)

MALFORMED = "That request could not be handled. Reload the page and try again."

Args = TypeVarTuple("Args")


def event(fn: Callable[[Any, Unpack[Args]], Any]) -> EventCallback[*Args]:
    """`rx.event`, typed as Reflex means it: on the class, a handler called with its
    arguments (mypy reads `rx.event` itself as the namespace class, not callable)."""
    return cast(EventCallback[*Args], rx.event(fn))


def background_event(fn: Callable[[Any], Coroutine[Any, Any, Any]]) -> EventCallback[()]:
    """`rx.event(background=True)`, typed like `event`: a long-running handler that takes
    the tab's state only inside `async with self` blocks, so other events run meanwhile."""
    return cast(EventCallback[()], rx.event(background=True)(fn))


class MalformedEvent(Exception):
    """The browser's arguments do not fit the handler's signature."""


class EndEvent(Exception):
    """Ends the running handler at once, returning `result` (a redirect, a toast, or None)
    for it: how a helper the handler runs in (the signed-in transaction of
    `ui.states.session`) answers for the handler when it must not go on."""

    def __init__(self, result: Any = None) -> None:
        super().__init__("the event handler ended early")
        self.result = result


def adapter_for(hint: Any) -> TypeAdapter[Any]:
    """The validator of a handler parameter annotated `hint`. Uploaded files (Reflex's
    upload route passes `list[rx.UploadFile]`, built on the server, never by the browser)
    are checked by class: their fields (an open file) have no schema to check them by."""
    if hint == list[rx.UploadFile]:
        return TypeAdapter(list[InstanceOf[rx.UploadFile]])
    return TypeAdapter(hint)


def _adapters(fn: Callable[..., Any]) -> dict[str, TypeAdapter[Any]]:
    """One validator per annotated parameter of `fn` (built on first use: the annotations are
    strings until the module that defines them has finished loading)."""
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]  # not self
    return {p.name: adapter_for(hints[p.name]) for p in params if p.name in hints}


def _checked_arguments(
    fn: Callable[..., Any], adapters: dict[str, TypeAdapter[Any]], args: tuple, kwargs: dict
) -> inspect.BoundArguments:
    """The browser's arguments bound to `fn`'s signature and validated by type."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as err:
        raise MalformedEvent(str(err)) from None
    for name, value in list(bound.arguments.items())[1:]:
        adapter = adapters.get(name)
        if adapter is None:
            continue
        try:
            bound.arguments[name] = adapter.validate_python(value, strict=True)
        except ValidationError as err:
            raise MalformedEvent(f"{name}: {err.errors()[0]['msg']}") from None
    return bound


def show_error(state: Any, message: str) -> Any:
    """`message` in the page's own `error` line, or as a toast on a page without one (what
    the handler should return)."""
    if isinstance(getattr(state, "error", None), str):
        state.error = message
        return None
    return rx.toast.error(message)


def _refuse(state: Any, fn: Callable[..., Any], reason: str) -> Any:
    logger.warning("refused a malformed event for %s: %s", fn.__qualname__, reason[:300])
    return show_error(state, MALFORMED)


_threads: ThreadPoolExecutor | None = None


def event_threads() -> ThreadPoolExecutor | None:
    """The worker's threads for plain (synchronous) handlers, `PMS_EVENT_THREADS` of them:
    a handler blocked on PostgreSQL then holds one thread, not the whole worker. None with
    PMS_EVENT_THREADS=0: handlers run on the event loop (Reflex's own way)."""
    global _threads
    size = get_settings().event_threads
    if size == 0:
        return None
    if _threads is None:
        _threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="pms-event")
    return _threads


def checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its arguments bound and validated by type first (see the module docstring)."""
    adapters: dict[str, TypeAdapter[Any]] | None = None

    def prepare(args: tuple, kwargs: dict) -> inspect.BoundArguments:
        nonlocal adapters
        if adapters is None:
            adapters = _adapters(fn)
        return _checked_arguments(fn, adapters, args, kwargs)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def checked_async(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = prepare(args, kwargs)
            except MalformedEvent as err:
                return _refuse(args[0], fn, str(err))
            try:
                return await fn(*bound.args, **bound.kwargs)
            except EndEvent as end:
                return end.result

        checked_async.__pms_checked__ = True  # type: ignore[attr-defined]
        return checked_async

    def run_sync(args: tuple, kwargs: dict) -> Any:
        try:
            bound = prepare(args, kwargs)
        except MalformedEvent as err:
            return _refuse(args[0] if args else None, fn, str(err))
        try:
            return fn(*bound.args, **bound.kwargs)
        except EndEvent as end:
            return end.result

    @functools.wraps(fn)
    async def checked_sync(*args: Any, **kwargs: Any) -> Any:
        # A plain handler waits on the database: it runs on one of the event threads, so
        # the worker's event loop serves other tabs meanwhile (this tab's state stays
        # locked by Reflex until the handler returns).
        threads = event_threads()
        if threads is None:  # PMS_EVENT_THREADS=0: on the loop itself
            return run_sync(args, kwargs)
        call = functools.partial(contextvars.copy_context().run, run_sync, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(threads, call)

    checked_sync.__pms_inline__ = run_sync  # type: ignore[attr-defined]  # (tests, profiles)

    checked_sync.__pms_checked__ = True  # type: ignore[attr-defined]
    return checked_sync


def _is_handler(name: str, value: Any) -> bool:
    return (
        not name.startswith("_")
        and inspect.isfunction(value)
        and not getattr(value, "__pms_checked__", False)
    )


class AppState(rx.State):
    """Every state of ours derives from this: handlers checked, one owner per tab."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        for name, value in list(vars(cls).items()):
            if _is_handler(name, value):
                setattr(cls, name, checked(value))
        super().__init_subclass__(**kwargs)


class Paged(AppState, mixin=True):
    """A server-paged list (the `pager` component's handlers): the state's `_load(page=n)`
    re-reads the list at page n and clamps it."""

    page: int = 1
    pages: int = 1
    total: int = 0

    def _load(self, **changes: Any) -> Any:
        raise NotImplementedError

    @event
    def next_page(self):
        return self._load(page=self.page + 1)

    @event
    def previous_page(self):
        return self._load(page=max(1, self.page - 1))


def session_fingerprint(cookie_header: str | None) -> str:
    """Who a request is, as far as the tab's state is concerned: a hash of its session and
    console cookies (no cookie at all is a someone too: the signed-out visitor)."""
    tenant = token_from_cookie_header(cookie_header, SESSION_COOKIE) or ""
    console = token_from_cookie_header(cookie_header, CONSOLE_COOKIE) or ""
    return hashlib.sha256(f"{tenant}\0{console}".encode()).hexdigest()


def _descendants(cls: type[BaseState]) -> list[type[BaseState]]:
    out: list[type[BaseState]] = []
    for sub in cls.get_substates():
        out.append(sub)
        out.extend(_descendants(sub))
    return out


class TabOwner(rx.State):
    """Who filled the tab's states: a leaf of its own beside ours, so that the guard reads it
    on every event without loading every state of ours (a Redis-backed manager fetches a
    state with all the states below it)."""

    # A fingerprint of the session cookies whose requests filled this tab's states.
    _owner: str = ""


async def claim_tab(root: rx.State) -> bool:
    """Make the tab's states the current session's: when another session filled them, reset
    every one of them (loading those not in memory, as a Redis-backed manager may not have
    them) before anything is sent. True when a reset happened."""
    tab = await root.get_state(TabOwner)
    owner = session_fingerprint(root.router.headers.cookie)
    if tab._owner == owner:
        return False
    mine = await root.get_state(AppState)
    for cls in _descendants(AppState):  # those not loaded for this event too
        await root.get_state(cls)
    mine.reset()  # this state and every substate, to their defaults (marked to be sent)
    tab._owner = owner
    return True


# Where Reflex's frontend keeps the tab's client token (its `sessionStorage` key).
CLIENT_TOKEN_KEY = "token"  # noqa: S105 (a storage key, not a secret)


def forget_tab_token() -> Any:
    """For the sign-in pages: drop the tab's client token from its storage, so the page the
    sign-in leads to (a full page load) starts with a new token and a new, empty state on
    the server. This page keeps its token until then; `TabOwnerGuard` covers a client that
    keeps its old token anyway."""
    return rx.call_script(f"window.sessionStorage.removeItem({CLIENT_TOKEN_KEY!r})")


class TabOwnerGuard(Middleware):
    """Runs `claim_tab` on every event, under the state lock, before the handler (and before
    hydration, which sends the whole state)."""

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        if await claim_tab(state._get_root_state()):
            logger.info("tab state reset: a new session uses this tab")
        return None
