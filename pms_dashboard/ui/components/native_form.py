"""A plain HTML form that the browser submits itself.

Reflex's `rx.el.form` always prevents the default submit to route it through the websocket;
sign-in and sign-out must instead be real POSTs to backend routes, so the response can set
or clear the HttpOnly session cookie and the page reloads with it.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """`<form action=... method=post>` without Reflex's submit interception."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


native_form = NativeForm.create
