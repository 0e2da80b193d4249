"""Sessions in the audit trail are named by a reference, never by their id.

A session id is what a token names; whoever reads it (a tenant admin's audit export, the
console's search) must not learn it. So sign-in and session events store `session_ref`, the
first 16 hex characters of SHA-256 over a fixed prefix and the id: the events of one session
still share it, and it cannot be turned back into the id.

Events written before this rule hold the raw ids (as `entity_id` of `auth_session` events
and in the detail keys `replaces`, `replaced_by`, `from_session`, `sessions`). The trail is
a hash chain, so they are never rewritten; every export and page that shows events shows
them through `shown_entity_id` and `shown_detail`, which put the same reference in place of
each id, in SQL (exports stream with COPY).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import String, Text, and_, case, cast, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, array
from sqlalchemy.sql import ColumnElement

SESSION_ENTITY = "auth_session"
_PREFIX = "pms-session-ref:"
REF_LENGTH = 16
# Detail keys that held session ids (a single id, or a list under "sessions").
ID_KEYS = ("replaces", "replaced_by", "from_session")
LIST_KEY = "sessions"
_UUID_RE = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def session_ref(session_id: uuid.UUID) -> str:
    """The reference by which the audit trail names a session (not reversible)."""
    return hashlib.sha256(f"{_PREFIX}{session_id}".encode()).hexdigest()[:REF_LENGTH]


def session_ref_sql(value: Any) -> ColumnElement[str]:
    """`session_ref` computed by PostgreSQL from a uuid or its text (NULL stays NULL)."""
    digest = func.sha256(
        func.convert_to(literal(_PREFIX, String).op("||")(cast(value, Text)), "UTF8")
    )
    return func.left(func.encode(digest, "hex"), REF_LENGTH)


def _ref_if_id(value: Any) -> ColumnElement[str]:
    """A session id (old events) as its reference; a reference (new events) as it is."""
    return case((value.op("~")(_UUID_RE), session_ref_sql(value)), else_=value)


def shown_entity_id(entity_type: Any, entity_id: Any, detail: Any = None) -> ColumnElement[str]:
    """The entity id as exports and pages show it: for a session event its reference
    (computed from an old event's raw id, or from a new event's `session_ref` when the
    reader may see `detail`), every other entity's id as it is."""
    ref = session_ref_sql(entity_id)
    if detail is not None:
        ref = func.coalesce(ref, detail["session_ref"].astext)
    return case((entity_type == SESSION_ENTITY, ref), else_=cast(entity_id, String))


def shown_detail(action: Any, detail: Any) -> ColumnElement[Any]:
    """An event's detail as exports show it: session ids that old sign-in events hold
    replaced by their references; every other detail as it is."""
    elements = (
        func.jsonb_array_elements_text(detail[LIST_KEY])
        .table_valued("value", with_ordinality="ord")
        .render_derived(name="listed")
    )
    sessions = (
        select(func.jsonb_agg(aggregate_order_by(_ref_if_id(elements.c.value), elements.c.ord)))
        .select_from(elements)
        .scalar_subquery()
    )
    replaced = func.jsonb_build_object(
        *(part for key in ID_KEYS for part in (key, _ref_if_id(detail[key].astext))),
        LIST_KEY,
        case((func.jsonb_typeof(detail[LIST_KEY]) == "array", sessions)),
    )
    holds_ids = and_(
        action.startswith("auth."),
        detail.has_any(array([*ID_KEYS, LIST_KEY])),
    )
    return type_coerce(
        case((holds_ids, detail.op("||")(func.jsonb_strip_nulls(replaced))), else_=detail), JSONB
    )
