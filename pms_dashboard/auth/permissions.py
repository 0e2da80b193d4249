"""Who may do what to whom: the one place every "may X do Y to Z" is decided.

A decision has two parts, kept apart so each can be tested on its own:

* `relation_to` asks the database how the subject person stands to the actor: the actor
  themself, someone below them in the reports-to tree (transitively), someone above them, or
  anyone else in the tenant. The tree is read fresh in every transaction, so a manager moved
  to another team loses access to the old team at once.
* `decide` is a pure table lookup: (role, resource, action, relation) -> allowed.

Services call `require(...)`, which raises `PermissionDenied` with a message safe to show;
lists use `visible_user_ids(...)` so paging and counting happen in SQL on the visible rows
only. Row-level security still confines everything to the actor's tenant underneath.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import BindParameter, Select, Uuid, bindparam, false, literal, select, union
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth import refusals
from pms_dashboard.auth.models import Role, User
from pms_dashboard.tenancy.context import (
    MEMO_RELATIONS,
    AuditedRefusal,
    TenantContext,
    transaction_memo,
)


class Resource(StrEnum):
    goal = "goal"
    person = "person"
    review = "review"
    cycle = "cycle"
    calibration = "calibration"
    tenant_settings = "tenant_settings"
    audit_log = "audit_log"


class Action(StrEnum):
    view = "view"
    create = "create"
    edit = "edit"
    archive = "archive"
    check_in = "check_in"
    manage = "manage"  # people: invite, deactivate, change role or manager; cycles: run them
    write = "write"  # reviews: fill in and submit one's own review
    reopen = "reopen"
    adjust = "adjust"  # calibration: move a final rating or potential


class Relation(StrEnum):
    """How the subject person stands to the actor, within one tenant."""

    self = "self"
    report = "report"  # anywhere below the actor in the reports-to tree
    above = "above"  # anywhere in the actor's management chain
    other = "other"  # anyone else in the tenant
    none = "none"  # no such person in the tenant (or another tenant's id)


class PermissionDenied(AuditedRefusal):
    """The actor may not do this; the message is safe to show and reveals nothing."""

    def __init__(
        self,
        resource: Resource,
        action: Action,
        message: str = "You do not have access to that.",
        *,
        target_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.action = action
        self.message = message
        # The id that was asked for, if any: the refusal is audited by the unit of work
        # (`auth.refusals`), which never writes an id of another tenant into this one's trail.
        self.target_id = target_id

    def audit_refusal(self, session: Any) -> None:
        """Flagged in the tenant's trail (and, for another tenant's id, the platform's)."""
        refusals.record_denied(
            session=session,
            resource=str(self.resource),
            action=str(self.action),
            target_id=self.target_id,
        )


ADMINS = frozenset({Role.hr_admin.value, Role.tenant_admin.value})
EVERY_ROLE = frozenset(r.value for r in Role)

# (resource, action) -> relation -> roles allowed. What is not listed is refused.
_R, _A, _L = Resource, Action, Relation
_OWN_AND_TEAM = {_L.self: EVERY_ROLE, _L.report: EVERY_ROLE, _L.other: ADMINS}
RULES: dict[tuple[Resource, Action], dict[Relation, frozenset[str]]] = {
    # Goals: your own and your reports' (transitively); your management chain's goals are
    # readable so you can align to them; HR and tenant admins see and fix any goal.
    (_R.goal, _A.view): _OWN_AND_TEAM | {_L.above: EVERY_ROLE, _L.other: ADMINS},
    (_R.goal, _A.create): _OWN_AND_TEAM,
    (_R.goal, _A.edit): _OWN_AND_TEAM,
    (_R.goal, _A.archive): _OWN_AND_TEAM,
    (_R.goal, _A.check_in): _OWN_AND_TEAM,
    # People: the directory entry of yourself, your chain and your reports; admins see all.
    (_R.person, _A.view): _OWN_AND_TEAM | {_L.above: EVERY_ROLE},
    # Adding people to the tenant (invitations) is tenant-level: tenant admins only.
    (_R.person, _A.create): {_L.self: frozenset({Role.tenant_admin.value})},
    (_R.person, _A.manage): {
        _L.report: frozenset({Role.tenant_admin.value}),
        _L.other: frozenset({Role.tenant_admin.value}),
        _L.above: frozenset({Role.tenant_admin.value}),
    },
    # Reviews about a person (the reviewer's own right to write is checked by the reviews
    # service on the review itself): managers see their reports', admins everyone's.
    (_R.review, _A.view): _OWN_AND_TEAM,
    (_R.review, _A.reopen): {_L.report: ADMINS | {Role.manager.value}, _L.other: ADMINS},
    # Cycles are run by HR; everyone may see that a cycle exists.
    (_R.cycle, _A.view): {_L.self: EVERY_ROLE},
    (_R.cycle, _A.manage): {_L.self: ADMINS},
    # Calibration: never of your own rating.
    (_R.calibration, _A.view): {_L.report: EVERY_ROLE, _L.other: ADMINS},
    (_R.calibration, _A.adjust): {_L.report: ADMINS | {Role.manager.value}, _L.other: ADMINS},
    (_R.tenant_settings, _A.view): {_L.self: EVERY_ROLE},
    (_R.tenant_settings, _A.edit): {_L.self: frozenset({Role.tenant_admin.value})},
    (_R.audit_log, _A.view): {_L.self: frozenset({Role.tenant_admin.value})},
}
del _R, _A, _L


def decide(role: str | None, resource: Resource, action: Action, relation: Relation) -> bool:
    """Pure decision from the rules table; unknown roles and unlisted cases are refused."""
    if role is None or relation is Relation.none:
        return False
    return role in RULES.get((resource, action), {}).get(relation, frozenset())


# ----------------------------------------------------------------------- the reports tree


def reports_subtree(manager_id: uuid.UUID | BindParameter[Any]) -> Select[Any]:
    """Ids of everyone below `manager_id`, at any depth (UNION stops on a cycle)."""
    tree = (
        select(col(User.id)).where(col(User.manager_id) == manager_id).cte("tree", recursive=True)
    )
    below = select(col(User.id)).join(tree, col(User.manager_id) == tree.c.id)
    tree = tree.union(below)
    return select(tree.c.id)


def management_chain(user_id: uuid.UUID | BindParameter[Any]) -> Select[Any]:
    """Ids of everyone above `user_id`: their manager, that manager's manager, and so on."""
    chain = (
        select(col(User.manager_id).label("id"))
        .where(col(User.id) == user_id, col(User.manager_id).is_not(None))
        .cte("chain", recursive=True)
    )
    up = (
        select(col(User.manager_id))
        .join(chain, col(User.id) == chain.c.id)
        .where(col(User.manager_id).is_not(None))
    )
    chain = chain.union(up)
    return select(chain.c.id)


# How each of `:wanted` stands to `:actor`, built once (a recursive query costs more to
# build than to run).
_ACTOR = bindparam("actor", type_=Uuid)
_RELATIONS = select(
    col(User.id),
    col(User.id).in_(reports_subtree(_ACTOR)),
    col(User.id).in_(management_chain(_ACTOR)),
).where(col(User.id).in_(bindparam("wanted", expanding=True)))


def visible_user_ids(actor: TenantContext) -> Select[Any] | None:
    """The people whose goals and reviews a list may show the actor: None means the whole
    tenant (admins); otherwise the actor and everyone below them."""
    if actor.role in ADMINS:
        return None
    if actor.user_id is None:
        return select(col(User.id)).where(false())
    return _self_and_below(actor.user_id)


@functools.lru_cache(maxsize=512)
def _self_and_below(user_id: uuid.UUID) -> Select[Any]:
    """The person and everyone below them, as a query (kept for the most recent viewers:
    a statement never changes once built, and building a recursive one costs more than
    running it)."""
    return select(union(select(literal(user_id)), reports_subtree(user_id)).subquery())


def relation_to(*, session: Session, actor: TenantContext, subject_id: uuid.UUID) -> Relation:
    """How `subject_id` stands to the actor, read from the tenant's current tree."""
    return relations_to(session=session, actor=actor, subject_ids=[subject_id])[subject_id]


def relations_to(
    *, session: Session, actor: TenantContext, subject_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Relation]:
    """How each of `subject_ids` stands to the actor, in one statement whatever their number
    (a page showing many people's goals asks once, not once a person); an id that is no
    person of the tenant is `Relation.none`."""
    wanted = set(subject_ids)
    if actor.user_id is None or not wanted:
        return dict.fromkeys(wanted, Relation.none)
    known = transaction_memo(session, MEMO_RELATIONS)  # asked before in this unit of work
    missing = {person for person in wanted if (actor.user_id, person) not in known}
    if missing:
        rows = session.execute(_RELATIONS, {"actor": actor.user_id, "wanted": list(missing)})
        found = {
            person: _relation(actor.user_id, person, below, above) for person, below, above in rows
        }
        for person in missing:
            known[actor.user_id, person] = found.get(person, Relation.none)
    return {person: known[actor.user_id, person] for person in wanted}


def _relation(actor_id: uuid.UUID, person: uuid.UUID, below: bool, above: bool) -> Relation:
    if person == actor_id:
        return Relation.self
    if below:
        return Relation.report
    return Relation.above if above else Relation.other


def may(
    *,
    session: Session,
    actor: TenantContext,
    resource: Resource,
    action: Action,
    subject_id: uuid.UUID | None = None,
) -> bool:
    """Whether the actor may do `action` on `resource` about `subject_id` (a person; None
    for tenant-level things such as settings and cycles)."""
    if subject_id is None:
        relation = Relation.self if actor.user_id is not None else Relation.none
    else:
        relation = relation_to(session=session, actor=actor, subject_id=subject_id)
    return decide(actor.role, resource, action, relation)


def require(
    *,
    session: Session,
    actor: TenantContext,
    resource: Resource,
    action: Action,
    subject_id: uuid.UUID | None = None,
    message: str | None = None,
) -> None:
    """Raise `PermissionDenied` unless `may(...)`; the same refusal for "not yours" and "does
    not exist", so ids of other teams or tenants cannot be probed."""
    if not may(
        session=session, actor=actor, resource=resource, action=action, subject_id=subject_id
    ):
        raise PermissionDenied(
            resource,
            action,
            message or "You do not have access to that.",
            target_id=subject_id,
        )
