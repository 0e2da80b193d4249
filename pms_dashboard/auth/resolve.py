"""The one door for every id (and every name used as a filter) that a request carries.

Whatever the browser sends — a string, a number, None, a list, a dict — is parsed here and
looked up in the caller's tenant (row-level security plus an explicit `tenant_id` filter).
An id that is malformed, unknown or another tenant's gets the same refusal, `NotFoundHere`
("That goal was not found in this organisation."), so nothing can be probed with it.

The refusal is audited by the unit of work (`NotFoundHere.audit_refusal`, through
`auth.refusals`) like every refusal: in the tenant's trail as `access.not_found` with the
kind only, never the id that was sent (it may be another tenant's); when the id belongs to
another tenant, the database itself adds a flagged `access.cross_tenant` event to the
platform's trail, which only the console reads.

Services call this first, before any permission check, so the same id gets the same
treatment whoever asks and whatever the handler.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.refusals import id_columns, record_not_found
from pms_dashboard.tenancy.context import MEMO_FOUND, TenantContext, transaction_memo

# An id as a request carries it, before `resolve` has looked at it: input models keep it
# as it came, so a malformed one is refused (and audited) like an unknown or foreign one.
RawId = str | uuid.UUID

MAX_ID_CHARS = 64  # a UUID in any of its spellings fits; longer is not an id
MAX_NAME_CHARS = 320  # an email; team and department names are shorter
MAX_IDS = 100  # ids in one list (peers, key results): more is refused, not truncated
MAX_REPORTED = 20  # candidate ids of one refusal looked up across tenants


class IdKind(StrEnum):
    """What an id (or name) a request carries stands for; decides the table and the words."""

    goal = "goal"
    parent = "parent"
    key_result = "key_result"
    review = "review"
    cycle = "cycle"
    outcome = "outcome"
    template = "template"
    criterion = "criterion"
    person = "person"
    owner = "owner"
    manager = "manager"
    peer = "peer"
    # names, not ids: looked up in the tenant, never across tenants
    team = "team"
    department = "department"
    email = "email"


# The table each kind of id names. The resolver reads only their `tenant_id` and `id`, by
# table name, so it needs no domain's model and every domain may import it (a test holds
# the names to the schema).
ID_TABLES: dict[IdKind, str] = {
    IdKind.goal: "goal",
    IdKind.parent: "goal",
    IdKind.key_result: "key_result",
    IdKind.review: "review",
    IdKind.cycle: "review_cycle",
    IdKind.outcome: "review_outcome",
    IdKind.template: "review_template",
    IdKind.criterion: "review_criterion",
    IdKind.person: "app_user",
    IdKind.owner: "app_user",
    IdKind.manager: "app_user",
    IdKind.peer: "app_user",
}
_NAME_COLUMNS: dict[IdKind, Any] = {
    IdKind.team: User.team,
    IdKind.department: User.department,
    IdKind.email: User.email,
}
_LABELS = {
    IdKind.parent: "parent goal",
    IdKind.key_result: "key result",
    IdKind.cycle: "review cycle",
    IdKind.outcome: "cycle participant",
    IdKind.template: "review template",
}
_RESOURCES = {
    IdKind.goal: Resource.goal,
    IdKind.parent: Resource.goal,
    IdKind.key_result: Resource.goal,
    IdKind.review: Resource.review,
    IdKind.criterion: Resource.review,
    IdKind.cycle: Resource.cycle,
    IdKind.outcome: Resource.cycle,
    IdKind.template: Resource.cycle,
}


def not_found_message(kind: IdKind) -> str:
    """The refusal's words: the same for a malformed, an unknown and another tenant's id."""
    if kind is IdKind.email:
        return "No one with that email was found in this organisation."
    return f"That {_LABELS.get(kind, kind.value)} was not found in this organisation."


class NotFoundHere(PermissionDenied):
    """An id or name that is not one of this tenant's (malformed, unknown or another
    tenant's: never said which). `candidates` are the well-formed ids that were not found,
    for the platform's cross-tenant check; they never go into the tenant's trail."""

    def __init__(
        self,
        kind: IdKind,
        candidates: Iterable[uuid.UUID] = (),
        *,
        action: Action = Action.view,
    ) -> None:
        super().__init__(_RESOURCES.get(kind, Resource.person), action, not_found_message(kind))
        self.kind = kind
        self.candidates = tuple(dict.fromkeys(candidates))[:MAX_REPORTED]

    def audit_refusal(self, session: Any) -> None:
        """`access.not_found` with the kind only (the ids go to the platform's check)."""
        record_not_found(
            session=session,
            kind=self.kind.value,
            action=str(self.action),
            candidates=self.candidates,
        )


def parse_id(raw: Any) -> uuid.UUID | None:
    """A UUID from anything a browser can send, or None when it is not one."""
    if isinstance(raw, uuid.UUID):
        return raw
    if not isinstance(raw, str) or len(raw) > MAX_ID_CHARS:
        return None
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        return None


def _find(kind: IdKind) -> Any:
    rows = id_columns(ID_TABLES[kind])
    return select(rows.c.id).where(
        rows.c.tenant_id == bindparam("tenant"), rows.c.id.in_(bindparam("ids", expanding=True))
    )


# Which of `:ids` are rows of the kind of the tenant `:tenant`: one statement per kind, built
# once (and found by the tenant scoping once, not per event).
_FIND = {kind: _find(kind) for kind in ID_TABLES}


def _found(session: Session, actor: TenantContext, kind: IdKind, ids: list[uuid.UUID]) -> set:
    """Those of `ids` that are rows of `kind` of the actor's tenant (ids found before in this
    unit of work are not asked again: only a deletion, which drops the memo, unfinds one)."""
    known = transaction_memo(session, MEMO_FOUND)
    found = {i for i in ids if (actor.tenant_id, kind, i) in known}
    if len(found) < len(ids):
        asked = [i for i in ids if i not in found]
        found |= set(session.scalars(_FIND[kind], {"tenant": actor.tenant_id, "ids": asked}))
        known.update(dict.fromkeys(((actor.tenant_id, kind, i) for i in found), True))
    return found


def found_here(session: Session, actor: TenantContext, kind: IdKind, uid: uuid.UUID) -> None:
    """Note that `uid` is a row of `kind` of the actor's tenant, read by the caller itself
    (a row read whole, under the tenant's scoping): later `resolve`s of it in this unit of
    work send nothing."""
    transaction_memo(session, MEMO_FOUND)[actor.tenant_id, kind, uid] = True


def resolve(
    *,
    session: Session,
    actor: TenantContext,
    kind: IdKind,
    raw: Any,
    action: Action = Action.view,
) -> uuid.UUID:
    """The id of one of this tenant's rows of `kind`, or `NotFoundHere`."""
    uid = parse_id(raw)
    if uid is None:
        raise NotFoundHere(kind, action=action)
    if not _found(session, actor, kind, [uid]):
        raise NotFoundHere(kind, [uid], action=action)
    return uid


def resolve_optional(
    *,
    session: Session,
    actor: TenantContext,
    kind: IdKind,
    raw: Any,
    action: Action = Action.view,
) -> uuid.UUID | None:
    """Like `resolve`, but "not given" (None, "" or "none", as forms say it) is None."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "none")):
        return None
    return resolve(session=session, actor=actor, kind=kind, raw=raw, action=action)


def resolve_all(
    *,
    session: Session,
    actor: TenantContext,
    kind: IdKind,
    raw: Any,
    action: Action = Action.view,
    limit: int = MAX_IDS,
) -> list[uuid.UUID]:
    """Several ids of `kind` (a list or tuple), in order without repeats; one that is not
    this tenant's refuses them all."""
    if not isinstance(raw, list | tuple) or len(raw) > limit:
        raise NotFoundHere(kind, action=action)
    ids = [parse_id(r) for r in raw]
    if any(i is None for i in ids):
        raise NotFoundHere(kind, [i for i in ids if i is not None], action=action)
    wanted = list(dict.fromkeys(i for i in ids if i is not None))
    if not wanted:
        return []
    found = _found(session, actor, kind, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundHere(kind, missing, action=action)
    return wanted


def resolve_name(
    *,
    session: Session,
    actor: TenantContext,
    kind: IdKind,
    raw: Any,
    action: Action = Action.view,
) -> str:
    """A team, department or email some person of this tenant has (as stored), or
    `NotFoundHere`. Names are never looked up in other tenants: a team called "Sales"
    anywhere else says nothing."""
    column = _NAME_COLUMNS[kind]
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME_CHARS:
        raise NotFoundHere(kind, action=action)
    value = raw.strip().lower() if kind is IdKind.email else raw.strip()
    found = session.scalar(
        select(column).where(col(User.tenant_id) == actor.tenant_id, column == value).limit(1)
    )
    if found is None:
        raise NotFoundHere(kind, action=action)
    return str(found)


def resolve_emails(
    *,
    session: Session,
    actor: TenantContext,
    raw: Any,
    action: Action = Action.view,
    limit: int = MAX_IDS,
) -> list[uuid.UUID]:
    """The ids of this tenant's people with these emails (in order, without repeats); an
    email nobody here has refuses them all."""
    if not isinstance(raw, list | tuple) or len(raw) > limit:
        raise NotFoundHere(IdKind.email, action=action)
    if any(not isinstance(e, str) or len(e) > MAX_NAME_CHARS for e in raw):
        raise NotFoundHere(IdKind.email, action=action)
    emails = list(dict.fromkeys(e.strip().lower() for e in raw if e.strip()))
    if not emails:
        return []
    by_email = dict(
        session.execute(  # type: ignore[arg-type]
            select(col(User.email), col(User.id)).where(
                col(User.tenant_id) == actor.tenant_id, col(User.email).in_(emails)
            )
        ).all()
    )
    if any(e not in by_email for e in emails):
        raise NotFoundHere(IdKind.email, action=action)
    return list(dict.fromkeys(by_email[e] for e in emails))
