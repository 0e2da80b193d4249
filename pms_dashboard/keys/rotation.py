"""Data-key rotation: a new data key, then every encrypted field of the tenant re-encrypted
with it, online, in batches, each batch its own transaction that also records how far the
rotation has come (so a rotation cut short resumes where it stopped).

`begin_rotation` makes the new version current at once (new writes use it); `rotate_batch`
re-seals the next rows (plain text written before the opt-in is sealed too). A row changed
by someone between the batch's read and its write is left alone: a compare-and-set update,
and whoever changed it wrote it with the new key. When every row is done the old data-key
versions are deleted (nothing needs them any more) and the rotation is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pms_dashboard.keys import access, cache, envelope, trail
from pms_dashboard.keys.access import ENCRYPTED
from pms_dashboard.keys.envelope import Place
from pms_dashboard.keys.errors import KeyConfigError, ProviderError
from pms_dashboard.keys.providers import provider_for
from pms_dashboard.tenancy.models import utcnow

TABLES = tuple(ENCRYPTED)
# The audit actions of a pass: when it starts, when it is done.
ROTATION = ("key.rotation_started", "key.rotated")
SEALING = ("key.sealing_started", "key.sealed")


@dataclass(frozen=True)
class RotationProgress:
    version: int
    done: int
    total: int
    finished: bool


def _table(name: str) -> Any:
    return sa.table(name, sa.column("tenant_id"), sa.column("id"), *map(sa.column, ENCRYPTED[name]))


def _count(session: Session, tenant_id: uuid.UUID) -> int:
    mine = sa.column("tenant_id") == tenant_id
    return sum(
        session.execute(sa.select(sa.func.count()).select_from(_table(t)).where(mine)).scalar_one()
        for t in TABLES
    )


def begin_rotation(
    *, session: Session, tenant_id: uuid.UUID, actor_id: uuid.UUID | None = None
) -> RotationProgress:
    """A new data key, current from now on (or the rotation already under way)."""
    config = _config(session, tenant_id)
    if config["rotation"]:
        return progress(session=session, tenant_id=tenant_id)
    state = access.key_state(session, tenant_id)
    assert state is not None
    version = config["current_version"] + 1
    try:
        target = provider_for(state.provider)
        _key, wrapped = target.new_data_key(tenant_id=tenant_id)
    except ProviderError as err:
        raise KeyConfigError(f"The key cannot be used: {err}. Nothing was changed.") from None
    session.execute(
        sa.insert(access.DATA_KEY).values(
            tenant_id=tenant_id,
            version=version,
            provider=target.name,
            wrapped=wrapped,
            kms_key_version=target.key_version(wrapped),
        )
    )
    return _start(session, tenant_id, version, ROTATION, actor_id)


def begin_sealing(
    *, session: Session, tenant_id: uuid.UUID, actor_id: uuid.UUID | None = None
) -> RotationProgress:
    """After the opt-in: the text written before it sealed with the current data key, by
    the same resumable batches as a rotation (or the pass already under way)."""
    config = _config(session, tenant_id)
    if config["rotation"]:
        return progress(session=session, tenant_id=tenant_id)
    return _start(session, tenant_id, config["current_version"], SEALING, actor_id)


def _config(session: Session, tenant_id: uuid.UUID) -> Any:
    config = (
        session.execute(sa.select(access.CONFIG).where(access.CONFIG.c.tenant_id == tenant_id))
        .mappings()
        .first()
    )
    if config is None:
        raise KeyConfigError("This organisation keeps plain text: opt in with `keys use` first.")
    return config


def _start(
    session: Session,
    tenant_id: uuid.UUID,
    version: int,
    actions: tuple[str, str],
    actor_id: uuid.UUID | None,
) -> RotationProgress:
    """Record the pass under way (`actions`: audited when it starts, when it is done)."""
    total = _count(session, tenant_id)
    rotation = {"to": version, "table": TABLES[0], "after": None, "done": 0, "total": total,
                "done_action": actions[1]}  # fmt: skip
    _save(session, tenant_id, current_version=version, rotation=rotation)
    detail = {"version": version, "rows": total}
    trail.record_change(session=session, action=actions[0], actor_id=actor_id, detail=detail)
    return RotationProgress(version, 0, total, False)


def _save(session: Session, tenant_id: uuid.UUID, **values: Any) -> None:
    session.execute(
        sa.update(access.CONFIG)
        .where(access.CONFIG.c.tenant_id == tenant_id)
        .values(updated_at=utcnow(), **values)
    )
    access.forget_config(session)


def progress(*, session: Session, tenant_id: uuid.UUID) -> RotationProgress:
    """How far the rotation under way has come (finished when none is)."""
    state = access.key_state(session, tenant_id)
    if state is None:
        raise KeyConfigError("This organisation keeps plain text: there is no key to rotate.")
    rotation = _rotation(session, tenant_id)
    if not rotation:
        return RotationProgress(state.current_version, 0, 0, True)
    return RotationProgress(rotation["to"], rotation["done"], rotation["total"], False)


def _rotation(session: Session, tenant_id: uuid.UUID) -> dict[str, Any]:
    return dict(
        session.execute(
            sa.select(access.CONFIG.c.rotation).where(access.CONFIG.c.tenant_id == tenant_id)
        ).scalar_one()
    )


def rotate_batch(
    *, session: Session, tenant_id: uuid.UUID, batch: int = 500, actor_id: uuid.UUID | None = None
) -> RotationProgress:
    """Re-encrypt the next `batch` rows with the new data key (KeyUnavailable when a key
    cannot be used: nothing of the batch is written, the rotation resumes later)."""
    rotation = _rotation(session, tenant_id)
    if not rotation:
        return progress(session=session, tenant_id=tenant_id)
    name, after, version = rotation["table"], rotation["after"], rotation["to"]
    table = _table(name)
    query = sa.select(table).where(sa.column("tenant_id") == tenant_id)
    if after is not None:
        query = query.where(sa.column("id") > uuid.UUID(after))
    rows = session.execute(query.order_by(sa.column("id")).limit(batch)).mappings().all()
    for row in rows:
        _reseal_row(session, tenant_id, name, row, version)
    rotation["done"] += len(rows)
    if len(rows) == batch:
        rotation["after"] = str(rows[-1]["id"])
    elif TABLES.index(name) + 1 < len(TABLES):
        rotation["table"], rotation["after"] = TABLES[TABLES.index(name) + 1], None
    else:
        return _finish(session, tenant_id, rotation, actor_id)
    _save(session, tenant_id, rotation=rotation)
    return RotationProgress(version, rotation["done"], rotation["total"], False)


def _reseal_row(session: Session, tenant_id: uuid.UUID, name: str, row: Any, version: int) -> None:
    table, changes, expected = _table(name), {}, []
    for column in ENCRYPTED[name]:
        stored = row[column]
        if not stored or (envelope.is_sealed(stored) and envelope.version_of(stored) == version):
            continue
        place = Place(tenant_id, name, column, row["id"])
        plain = access.open_strict(session, place=place, stored=stored)
        if plain == access.MISPLACED_TEXT:
            continue  # reported; left as found
        key = access.data_key(session, tenant_id=tenant_id, version=version)
        changes[column] = envelope.seal(key=key, version=version, place=place, plaintext=plain)
        expected.append(sa.column(column) == stored)
    if changes:
        session.execute(
            sa.update(table)
            .where(sa.column("tenant_id") == tenant_id, sa.column("id") == row["id"], *expected)
            .values(**changes)
        )


def _versions_in_use(session: Session, tenant_id: uuid.UUID) -> list[int]:
    """The data-key versions some stored value still names (a unit of work that began before
    the rotation may have written with the old key after its batch passed the row; a value
    out of place is left as found): those keys are kept."""
    found: set[int] = set()
    for name in TABLES:
        for column in ENCRYPTED[name]:
            found.update(
                int(v)
                for v in session.execute(
                    sa.select(sa.func.split_part(sa.column(column), ":", 3))
                    .select_from(_table(name))
                    .where(
                        sa.column("tenant_id") == tenant_id,
                        sa.column(column).startswith(envelope.PREFIX),
                    )
                    .distinct()
                ).scalars()
                if str(v).isdigit()
            )
    return sorted(found) or [-1]


def _finish(
    session: Session, tenant_id: uuid.UUID, rotation: dict[str, Any], actor_id: uuid.UUID | None
) -> RotationProgress:
    version = rotation["to"]
    kept = _versions_in_use(session, tenant_id)
    old = (
        session.execute(
            sa.delete(access.DATA_KEY)
            .where(
                access.DATA_KEY.c.tenant_id == tenant_id,
                access.DATA_KEY.c.version < version,
                access.DATA_KEY.c.version.not_in(kept),
            )
            .returning(access.DATA_KEY.c.version)
        )
        .scalars()
        .all()
    )
    _save(session, tenant_id, rotation={})
    cache.forget(tenant_id)
    detail = {"version": version, "rows": rotation["done"], "retired": sorted(old)}
    done = rotation.get("done_action", ROTATION[1])
    trail.record_change(session=session, action=done, actor_id=actor_id, detail=detail)
    return RotationProgress(version, rotation["done"], rotation["total"], True)
