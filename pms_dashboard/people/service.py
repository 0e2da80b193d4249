"""People: the directory (list, tree, detail) and the tenant admin's changes to it.

Services take the caller's session and never commit. Who may see or change whom is decided
by `auth.permissions` only; this module asks it (`require`, `may`, `decide`) and never
compares roles itself. Every change writes an audit event with the before/after values.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    Uuid,
    bindparam,
    func,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import AuthSession, Role, User
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.auth.permissions import (
    Action,
    PermissionDenied,
    Relation,
    Resource,
    decide,
    management_chain,
    may,
    reports_subtree,
    require,
    visible_user_ids,
)
from pms_dashboard.auth.resolve import IdKind, RawId, resolve, resolve_name, resolve_optional
from pms_dashboard.auth.service import find_user_by_email
from pms_dashboard.db.text import escape_like
from pms_dashboard.paging import Page, page_count
from pms_dashboard.people.schemas import (
    Invited,
    InviteInput,
    PeopleError,
    PeopleQuery,
    PersonDetail,
    PersonRef,
    PersonRow,
    ProfileInput,
    TenantSummary,
    TreeLine,
    TreeNode,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant

TEMP_PASSWORD_BYTES = 12  # 16 URL-safe characters, ~96 bits
MAX_TREE_NODES = 5000  # a tree larger than this is cut (the table pages through everyone)
MAX_CHOICES = 100
_LOCK_NAMESPACE = 0x7065_6F70_6C65  # "people": keeps our advisory locks apart from others

# ------------------------------------------------------------------------- small helpers


def get_user(*, session: Session, user_id: uuid.UUID) -> User | None:
    """One user of the tenant in context, by id."""
    return session.scalars(select(User).where(col(User.id) == user_id)).first()


def visible_people(actor: TenantContext) -> Select[Any] | None:
    """Ids of the people the directory shows the actor: None means everyone (admins);
    otherwise themself, everyone below them and their management chain."""
    below = visible_user_ids(actor)
    if below is None:
        return None
    if actor.user_id is None:
        return below
    return select(union(select(below.subquery()), management_chain(actor.user_id)).subquery())


def _visible_filter(actor: TenantContext) -> list[ColumnElement[bool]]:
    ids = visible_people(actor)
    return [] if ids is None else [col(User.id).in_(ids)]


def _direct_reports_count() -> Any:
    """A person's active direct reports (a deactivated one no longer counts)."""
    report = aliased(User)
    return (
        select(func.count())
        .where(
            col(report.manager_id) == User.id,
            col(report.tenant_id) == User.tenant_id,
            col(report.is_active).is_(True),
        )
        .correlate(User)
        .scalar_subquery()
    )


def _row(session: Session, user: User) -> PersonRow:
    manager = get_user(session=session, user_id=user.manager_id) if user.manager_id else None
    reports = session.scalar(
        select(func.count())
        .select_from(User)
        .where(col(User.manager_id) == user.id, col(User.is_active).is_(True))
    )
    return PersonRow.from_user(
        user, manager_name=manager.display_name if manager else None, direct_reports=reports or 0
    )


# ------------------------------------------------------------------------------ reading


def people_conditions(
    *, session: Session, actor: TenantContext, query: PeopleQuery
) -> list[ColumnElement[bool]]:
    """The WHERE of the people list (what the actor may see, filtered as `query` asks);
    shared by the page and its CSV export. A department or team that no one of the tenant
    has is refused as not found (like any id), never an empty list."""
    department = team = None
    if query.department:
        department = resolve_name(
            session=session, actor=actor, kind=IdKind.department, raw=query.department
        )
    if query.team:
        team = resolve_name(session=session, actor=actor, kind=IdKind.team, raw=query.team)
    conditions = _visible_filter(actor)
    if query.search:
        pattern = f"%{escape_like(query.search)}%"
        conditions.append(
            or_(
                col(User.display_name).ilike(pattern, escape="\\"),
                col(User.email).ilike(pattern, escape="\\"),
            )
        )
    if department is not None:
        conditions.append(col(User.department) == department)
    if team is not None:
        conditions.append(col(User.team) == team)
    if query.role:
        conditions.append(col(User.role) == query.role)
    if query.active != "all":
        conditions.append(col(User.is_active).is_(query.active == "active"))
    return conditions


def list_people(*, session: Session, actor: TenantContext, query: PeopleQuery) -> Page:
    """One page of the people visible to the actor, searched and filtered as `query` asks."""
    conditions = people_conditions(session=session, actor=actor, query=query)
    total: int = session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    page = min(query.page, page_count(total, query.page_size))
    manager = aliased(User)
    rows = session.execute(
        select(User, col(manager.display_name), _direct_reports_count().label("reports"))
        .outerjoin(
            manager,
            (col(manager.id) == User.manager_id) & (col(manager.tenant_id) == User.tenant_id),
        )
        .where(*conditions)
        .order_by(func.lower(col(User.display_name)), col(User.id))
        .limit(query.page_size)
        .offset((page - 1) * query.page_size)
    ).all()
    return Page(
        rows=[PersonRow.from_user(u, manager_name=m, direct_reports=n) for u, m, n in rows],
        total=total,
        page=page,
        page_size=query.page_size,
    )


def get_person(*, session: Session, actor: TenantContext, person_id: RawId) -> PersonDetail:
    """One person's entry, their visible direct reports and chain; `NotFoundHere` when the
    id is not one of the tenant's people, PermissionDenied if the actor may not see them."""
    person_id = resolve(session=session, actor=actor, kind=IdKind.person, raw=person_id)
    require(
        session=session,
        actor=actor,
        resource=Resource.person,
        action=Action.view,
        subject_id=person_id,
    )
    user = get_user(session=session, user_id=person_id)
    if user is None:  # deleted between the check and the read
        raise PermissionDenied(Resource.person, Action.view)
    reports = session.scalars(
        select(User)
        .where(col(User.manager_id) == person_id, *_visible_filter(actor))
        .order_by(func.lower(col(User.display_name)), col(User.id))
        .limit(MAX_CHOICES)
    ).all()
    chain: list[PersonRef] = []
    seen = {user.id}
    manager_id = user.manager_id
    while manager_id is not None and manager_id not in seen:  # a cycle cannot hang us
        seen.add(manager_id)
        manager = get_user(session=session, user_id=manager_id)
        if manager is None:
            break
        chain.append(PersonRef(str(manager.id), manager.display_name, manager.job_title or ""))
        manager_id = manager.manager_id
    return PersonDetail(
        person=_row(session, user),
        reports=[PersonRef(str(r.id), r.display_name, r.job_title or "") for r in reports],
        chain=chain,
        can_manage=may(
            session=session,
            actor=actor,
            resource=Resource.person,
            action=Action.manage,
            subject_id=person_id,
        ),
    )


def team_tree(
    *, session: Session, actor: TenantContext, include_inactive: bool = False
) -> list[TreeNode]:
    """The reports-to tree of the people visible to the actor, as nested nodes.

    Admins get the whole tenant from its top-level people down; everyone else gets their
    management chain down to themself and everyone below them. A person whose manager is
    not shown (hidden, deactivated, or a broken cycle) becomes a root, so nobody is lost.
    """
    conditions = _visible_filter(actor)
    if not include_inactive:
        conditions.append(col(User.is_active).is_(True))
    rows = session.execute(
        select(
            col(User.id),
            col(User.display_name),
            col(User.job_title),
            col(User.role),
            col(User.is_active),
            col(User.manager_id),
        )
        .where(*conditions)
        .order_by(func.lower(col(User.display_name)), col(User.id))
        .limit(MAX_TREE_NODES)
    ).all()
    nodes = {
        r.id: TreeNode(
            id=str(r.id),
            name=r.display_name,
            title=r.job_title or "",
            role=r.role,
            is_active=r.is_active,
        )
        for r in rows
    }
    parent = {r.id: r.manager_id for r in rows if r.manager_id in nodes}
    # Break any cycle (only a direct database edit can make one): a node that reaches itself
    # going up loses its parent link.
    for start in list(parent):
        seen, node = {start}, parent.get(start)
        while node is not None:
            if node in seen:
                parent.pop(start, None)
                break
            seen.add(node)
            node = parent.get(node)
    roots: list[TreeNode] = []
    for r in rows:
        if r.id in parent:
            nodes[parent[r.id]].children.append(nodes[r.id])
        else:
            roots.append(nodes[r.id])
    for root in roots:
        _count(root)
    return roots


def _count(node: TreeNode) -> int:
    """Fill in report counts bottom-up (iteratively: deep trees must not hit recursion limits)."""
    order: list[TreeNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(n.children)
    for n in reversed(order):
        n.direct_reports = len(n.children)
        n.total_reports = sum(1 + c.total_reports for c in n.children)
    return node.total_reports


def flatten_tree(roots: list[TreeNode], *, limit: int = MAX_TREE_NODES) -> list[TreeLine]:
    """Depth-first lines with their depth, for an indented list."""
    lines: list[TreeLine] = []
    stack = [(n, 0) for n in reversed(roots)]
    while stack and len(lines) < limit:
        node, depth = stack.pop()
        lines.append(
            TreeLine(
                id=node.id,
                name=node.name,
                title=node.title,
                role=node.role,
                is_active=node.is_active,
                depth=depth,
                direct_reports=node.direct_reports,
                total_reports=node.total_reports,
            )
        )
        stack.extend((c, depth + 1) for c in reversed(node.children))
    return lines


# The tables the menus of people (departments, teams) read: a committed write of one of them
# drops the menus where they are kept (`tenancy.cache.cached(tables=...)`).
MENUS_READ = (User.__tablename__,)


def departments(*, session: Session, actor: TenantContext) -> list[str]:
    """Distinct departments among the people visible to the actor (for filter menus)."""
    return _distinct(session, actor, col(User.department))


def teams(*, session: Session, actor: TenantContext, department: str = "") -> list[str]:
    """Distinct teams among the people visible to the actor, optionally of one department."""
    extra = [col(User.department) == department] if department else []
    return _distinct(session, actor, col(User.team), *extra)


def _distinct(session: Session, actor: TenantContext, column: Any, *extra: Any) -> list[str]:
    return list(
        session.scalars(
            select(column)
            .where(column.is_not(None), *_visible_filter(actor), *extra)
            .distinct()
            .order_by(column)
            .limit(500)
        )
    )


def manager_choices(
    *, session: Session, actor: TenantContext, search: str = "", limit: int = MAX_CHOICES
) -> list[PersonRef]:
    """Active people the actor may pick as someone's manager (tenant admins only)."""
    _require_admin(session, actor)
    conditions: list[ColumnElement[bool]] = [col(User.is_active).is_(True)]
    if search.strip():
        pattern = f"%{escape_like(search.strip()[:100])}%"
        conditions.append(
            or_(
                col(User.display_name).ilike(pattern, escape="\\"),
                col(User.email).ilike(pattern, escape="\\"),
            )
        )
    users = session.scalars(
        select(User)
        .where(*conditions)
        .order_by(func.lower(col(User.display_name)), col(User.id))
        .limit(max(1, min(limit, MAX_CHOICES)))
    ).all()
    return [PersonRef(str(u.id), u.display_name, u.job_title or "") for u in users]


# Built once (bound parameters): every overview asks it.
_HAS_REPORTS = (
    select(literal(True))
    .where(col(User.manager_id) == bindparam("actor", type_=Uuid), col(User.is_active).is_(True))
    .limit(1)
)


def has_reports(*, session: Session, actor: TenantContext) -> bool:
    """Whether anyone active reports to the actor (an employee may lead people too; a
    deactivated report no longer counts)."""
    if actor.user_id is None:
        return False
    return bool(session.scalar(_HAS_REPORTS, {"actor": actor.user_id}))


def may_manage_people(*, actor: TenantContext) -> bool:
    """Whether the actor may invite people (and so change them at all: to offer the actions)."""
    return actor.user_id is not None and decide(
        actor.role, Resource.person, Action.create, Relation.self
    )


# ------------------------------------------------------------------------ admin changes


def _require_admin(session: Session, actor: TenantContext) -> None:
    """Tenant-level people management (invite, pick managers): the person-create rule."""
    if not may_manage_people(actor=actor):
        raise PermissionDenied(
            Resource.person, Action.manage, "Only tenant admins can manage people."
        )


def _require_manage(session: Session, actor: TenantContext, person_id: RawId) -> User:
    """The person to change (resolved in the tenant first), if the actor may manage them;
    never the actor themself."""
    person_id = resolve(
        session=session, actor=actor, kind=IdKind.person, raw=person_id, action=Action.manage
    )
    if person_id == actor.user_id and may_manage_people(actor=actor):
        raise PermissionDenied(
            Resource.person,
            Action.manage,
            "You cannot change your own access, role or manager; ask another tenant admin.",
        )
    require(
        session=session,
        actor=actor,
        resource=Resource.person,
        action=Action.manage,
        subject_id=person_id,
    )
    _lock_people(session, actor)
    user = session.scalars(select(User).where(col(User.id) == person_id).with_for_update()).first()
    if user is None:
        raise PermissionDenied(Resource.person, Action.manage)
    return user


def _lock_people(session: Session, actor: TenantContext) -> None:
    """Serialise people changes within one tenant for the rest of the transaction, so two
    admins cannot together remove the last admin or build a reports-to cycle."""
    key = int.from_bytes(actor.tenant_id.bytes[:8], "big", signed=True) ^ _LOCK_NAMESPACE
    session.execute(select(func.pg_advisory_xact_lock(literal(key))))


def _check_manager(session: Session, person_id: uuid.UUID | None, manager_id: uuid.UUID) -> User:
    """An acceptable manager for `person_id` (None: a new person) or PeopleError; the
    manager's id is resolved already."""
    manager = get_user(session=session, user_id=manager_id)
    if manager is None:  # removed since it was resolved
        raise PermissionDenied(Resource.person, Action.manage)
    if person_id is not None and manager.id == person_id:
        raise PeopleError("A person cannot be their own manager.")
    if not manager.is_active:
        raise PeopleError(f"{manager.display_name} is deactivated and cannot manage anyone.")
    if person_id is not None:
        below = session.scalar(
            select(literal(True)).where(
                col(User.id) == manager_id, col(User.id).in_(reports_subtree(person_id))
            )
        )
        if below:
            raise PeopleError(
                f"{manager.display_name} reports to this person (directly or further down), "
                "so they cannot be their manager: that would make a loop."
            )
    return manager


def _other_active_admins(session: Session, person_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                col(User.role) == Role.tenant_admin.value,
                col(User.is_active).is_(True),
                col(User.id) != person_id,
            )
        )
        or 0
    )


def _audit(
    session: Session,
    actor: TenantContext,
    action: str,
    user: User,
    before: dict[str, Any],
    after: dict[str, Any],
    **extra: Any,
) -> None:
    audit.record(
        session=session,
        action=action,
        actor_id=actor.user_id,
        entity_type="app_user",
        entity_id=user.id,
        detail={"before": before, "after": after, **extra},
    )


def _s(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def invite_user(*, session: Session, actor: TenantContext, data: InviteInput) -> Invited:
    """Create an active person with a random temporary password, returned once for the admin
    to hand over (only its Argon2 hash is stored)."""
    manager_id = resolve_optional(
        session=session, actor=actor, kind=IdKind.manager, raw=data.manager_id,
        action=Action.manage,
    )  # fmt: skip
    _require_admin(session, actor)
    _lock_people(session, actor)
    if find_user_by_email(session=session, email=data.email) is not None:
        raise PeopleError(f"Someone with the email {data.email} already exists here.")
    if manager_id is not None:
        _check_manager(session, None, manager_id)
    password = secrets.token_urlsafe(TEMP_PASSWORD_BYTES)
    user = User(
        email=data.email,
        display_name=data.display_name,
        role=data.role.value,
        manager_id=manager_id,
        department=data.department,
        team=data.team,
        job_title=data.job_title,
        password_hash=hash_password(password),
        is_active=True,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:  # the same email added by someone else a moment ago
        raise PeopleError(f"Someone with the email {data.email} already exists here.") from None
    after = {
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "manager_id": _s(user.manager_id),
        "department": user.department,
        "team": user.team,
        "job_title": user.job_title,
        "is_active": True,
    }
    _audit(session, actor, "person.invite", user, {}, after)
    return Invited(person=_row(session, user), temporary_password=password)


def deactivate_user(*, session: Session, actor: TenantContext, person_id: RawId) -> PersonRow:
    """Switch a person off and revoke every session they have, at once."""
    user = _require_manage(session, actor, person_id)
    if not user.is_active:
        return _row(session, user)
    if user.role == Role.tenant_admin.value and _other_active_admins(session, user.id) == 0:
        raise PeopleError("This is the last active tenant admin; make someone else admin first.")
    user.is_active = False
    result = session.execute(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user.id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=func.now())
    )
    assert isinstance(result, CursorResult)
    session.flush()
    _audit(
        session,
        actor,
        "person.deactivate",
        user,
        {"is_active": True},
        {"is_active": False},
        sessions_revoked=result.rowcount,
    )
    return _row(session, user)


def reactivate_user(*, session: Session, actor: TenantContext, person_id: RawId) -> PersonRow:
    """Let a deactivated person sign in again (with their old password, if they had one)."""
    user = _require_manage(session, actor, person_id)
    if user.is_active:
        return _row(session, user)
    user.is_active = True
    session.flush()
    _audit(session, actor, "person.reactivate", user, {"is_active": False}, {"is_active": True})
    return _row(session, user)


def change_role(
    *, session: Session, actor: TenantContext, person_id: RawId, role: str
) -> PersonRow:
    """Give a person another role; the tenant always keeps at least one active admin."""
    user = _require_manage(session, actor, person_id)
    if role not in {r.value for r in Role}:
        raise PeopleError(f"Unknown role {str(role)[:40]!r}.")
    if user.role == role:
        return _row(session, user)
    if (
        user.role == Role.tenant_admin.value
        and user.is_active
        and _other_active_admins(session, user.id) == 0
    ):
        raise PeopleError("This is the last active tenant admin; make someone else admin first.")
    before = user.role
    user.role = role
    session.flush()
    _audit(session, actor, "person.change_role", user, {"role": before}, {"role": role})
    return _row(session, user)


def change_manager(
    *,
    session: Session,
    actor: TenantContext,
    person_id: RawId,
    manager_id: RawId | None,
) -> PersonRow:
    """Move a person under another manager (None, "" or "none": top level), refusing loops."""
    person_id = resolve(
        session=session, actor=actor, kind=IdKind.person, raw=person_id, action=Action.manage
    )
    manager_id = resolve_optional(
        session=session, actor=actor, kind=IdKind.manager, raw=manager_id, action=Action.manage
    )
    user = _require_manage(session, actor, person_id)
    if manager_id is not None:
        _check_manager(session, user.id, manager_id)
    if user.manager_id == manager_id:
        return _row(session, user)
    before = user.manager_id
    user.manager_id = manager_id
    session.flush()
    _audit(
        session,
        actor,
        "person.change_manager",
        user,
        {"manager_id": _s(before)},
        {"manager_id": _s(manager_id)},
    )
    return _row(session, user)


def update_profile(
    *, session: Session, actor: TenantContext, person_id: RawId, data: ProfileInput
) -> PersonRow:
    """Change a person's department, team and job title."""
    user = _require_manage(session, actor, person_id)
    wanted = data.model_dump()
    before = {k: getattr(user, k) for k in wanted if getattr(user, k) != wanted[k]}
    if not before:
        return _row(session, user)
    for key in before:
        setattr(user, key, wanted[key])
    session.flush()
    _audit(
        session,
        actor,
        "person.update_profile",
        user,
        before,
        {k: wanted[k] for k in before},
    )
    return _row(session, user)


def tenant_summary(*, session: Session, tenant_id: uuid.UUID) -> TenantSummary | None:
    """A tenant's name, tier, region and user count (owner session at its placement: the
    CLI's `tenants list`)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return None
    users = session.scalar(
        select(func.count()).select_from(User).where(col(User.tenant_id) == tenant_id)
    )
    return TenantSummary(
        tenant.id, tenant.slug, tenant.name, tenant.isolation_tier, tenant.region, int(users or 0)
    )
