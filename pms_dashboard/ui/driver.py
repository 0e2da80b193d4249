"""Drive Reflex states directly, as a browser's websocket would, without a browser.

Used by the tests (every handler called with hostile arguments) and by the benchmarks (the
server time of a page's events).

Every event handler is callable by any browser with any arguments; these helpers let a test
do exactly that: build a state whose request carries a given session cookie (or none), call
a handler with arbitrary arguments, and look at the vars and the events it returned.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, TypeVar
from urllib.parse import urlencode

import reflex as rx
from reflex.istate.data import RouterData
from reflex.state import BaseState

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE

S = TypeVar("S", bound=rx.State)


def token_for(slug: str, email: str, password: str) -> str:
    """A real session token, through the real sign-in service."""
    return auth_routes.sign_in_with_password(slug=slug, email=email, password=password).token


def state_for(
    state_cls: type[S],
    token: str | None,
    path: str = "/",
    params: dict[str, str] | None = None,
    cookie_name: str = SESSION_COOKIE,
) -> S:
    """A fresh instance of `state_cls` (inside a fresh root state) whose websocket request
    carries `token` as the session cookie; `params` are the route's dynamic parts (such as
    `goal_id` of /goals/[goal_id]) and the query string of the address the browser shows
    (such as ?owner= of /goals) — the browser controls them, so tests may send anything."""
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    state = root.get_substate(state_cls.get_full_name().split(".")[1:])
    cookie = f"{cookie_name}={token}" if token else ""
    query = dict(params or {})
    router = RouterData.from_router_data(
        {
            "headers": {"cookie": cookie},
            "pathname": path,
            "query": query,
            "asPath": path + (f"?{urlencode(query)}" if query else ""),
        }
    )
    for s in (root, *_all_substates(root)):
        s.router = router
    return state  # type: ignore[return-value]


def _all_substates(state: BaseState) -> list[BaseState]:
    out: list[BaseState] = []
    for sub in state.substates.values():
        out.append(sub)
        out.extend(_all_substates(sub))
    return out


def call(state: rx.State, handler: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Run `handler` (e.g. `MyGoalsState.load`) on `state` with any arguments; return every
    event it returned or yielded (redirects, toasts) as a flat list. A plain handler runs on
    the caller's thread (as the server does unless PMS_EVENT_THREADS is set),
    with its arguments checked as always; a background handler runs to its end (its `async
    with self` blocks are no-ops on a state of its own)."""
    fn = handler.fn if hasattr(handler, "fn") else handler
    inline = getattr(fn, "__pms_inline__", None)  # a plain handler, on this thread
    result = inline((state, *args), kwargs) if inline else fn(state, *args, **kwargs)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    if inspect.isgenerator(result):
        result = list(result)
    if result is None:
        return []
    return list(result) if isinstance(result, list | tuple) else [result]


def redirects_to(events: list[Any]) -> str | None:
    """The path of the first `rx.redirect` among `events`, if any."""
    for ev in events:
        args = {str(name): value for name, value in getattr(ev, "args", ())}
        if {"path", "external", "replace"} <= set(args):  # the shape of rx.redirect
            return getattr(args["path"], "_var_value", str(args["path"]))
    return None


def download_url(events: list[Any]) -> str | None:
    """The address of the first `rx.download` among `events`, if any."""
    for ev in events:
        args = {str(name): value for name, value in getattr(ev, "args", ())}
        if "url" in args:
            return str(getattr(args["url"], "_var_value", args["url"])).strip('"')
    return None


def vars_text(state: rx.State) -> str:
    """Every var of the state as one string, to assert that nothing foreign landed in it."""
    return repr({name: getattr(state, name) for name in state.base_vars})
