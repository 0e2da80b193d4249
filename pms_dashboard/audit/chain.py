"""The audit trail's hash chain: the SQL that writes it, and the check that reads it.

Each tenant's events are numbered 1, 2, 3... and each row's hash is the SHA-256 of its
canonical content (a JSON array of every column, the time as integer microseconds so no
session time zone can change it) together with the previous row's hash. One SQL function
computes it, used both when a row is written and when the chain is verified, so the two can
never disagree. Writers of one tenant take a transaction-scoped advisory lock, so concurrent
requests append one after another; other tenants are not held up.

The app role may only call `app.append_audit_event` (SECURITY DEFINER, pinned search_path):
it takes the tenant from the transaction's context, never from an argument, so no request
can write into another tenant's trail, and nobody but the owner can change a row.

The platform's own trail (`platform_event`: what super-admins did in the console, and the
cross-tenant attempts of tenants' users) is one more chain of the same kind, global
rather than per tenant: the same canonical hashing, one advisory lock for all writers,
appended only by `app.append_platform_event`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

CREATE_HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION app.audit_event_hash(
    p_tenant uuid, p_seq bigint, p_at timestamptz, p_actor uuid, p_action text,
    p_entity_type text, p_entity_id uuid, p_flagged boolean, p_ip text, p_detail jsonb,
    p_prev text
) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        p_tenant, p_seq, (extract(epoch FROM p_at) * 1000000)::bigint, p_actor, p_action,
        p_entity_type, p_entity_id, p_flagged, p_ip, p_detail, p_prev)::text, 'UTF8')), 'hex')
    $$;
"""

CREATE_APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION app.append_audit_event(
    p_actor uuid, p_action text, p_entity_type text, p_entity_id uuid, p_detail jsonb,
    p_flagged boolean, p_ip text
) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_tenant uuid := app.current_tenant_id();
    v_seq bigint;
    v_prev text;
    v_id uuid := gen_random_uuid();
    v_at timestamptz := clock_timestamp();
BEGIN
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'an audit event needs a tenant context' USING ERRCODE = '42501';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('pms.audit:' || v_tenant::text, 0));
    SELECT e.seq, e.hash INTO v_seq, v_prev
      FROM public.audit_event AS e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    v_prev := coalesce(v_prev, '');
    INSERT INTO public.audit_event (tenant_id, id, seq, occurred_at, actor_id, action,
                                    entity_type, entity_id, flagged, ip, detail, prev_hash, hash)
    VALUES (v_tenant, v_id, v_seq, v_at, p_actor, p_action, coalesce(p_entity_type, ''),
            p_entity_id, coalesce(p_flagged, false), coalesce(p_ip, ''),
            coalesce(p_detail, '{}'::jsonb), v_prev,
            app.audit_event_hash(v_tenant, v_seq, v_at, p_actor, p_action,
                                 coalesce(p_entity_type, ''), p_entity_id,
                                 coalesce(p_flagged, false), coalesce(p_ip, ''),
                                 coalesce(p_detail, '{}'::jsonb), v_prev));
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION app.append_audit_event(uuid, text, text, uuid, jsonb, boolean, text)
    FROM PUBLIC;
"""

# From revision 0015 the writer lives in each target's own data schema (`public`, or a
# schema tenant's schema) and names its tables unqualified, resolved through its pinned
# search_path, so a schema tenant's events go to its own schema; callers name it unqualified
# (the tenant transaction's search_path is the placement's schema). The historic text above
# stays as revision 0004 created it.
CREATE_LOCAL_APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.append_audit_event(
    p_actor uuid, p_action text, p_entity_type text, p_entity_id uuid, p_detail jsonb,
    p_flagged boolean, p_ip text
) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, {schema}, pg_temp
    AS $$
DECLARE
    v_tenant uuid := app.current_tenant_id();
    v_seq bigint;
    v_prev text;
    v_id uuid := gen_random_uuid();
    v_at timestamptz := clock_timestamp();
BEGIN
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'an audit event needs a tenant context' USING ERRCODE = '42501';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('pms.audit:' || v_tenant::text, 0));
    SELECT e.seq, e.hash INTO v_seq, v_prev
      FROM audit_event AS e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    v_prev := coalesce(v_prev, '');
    INSERT INTO audit_event (tenant_id, id, seq, occurred_at, actor_id, action,
                             entity_type, entity_id, flagged, ip, detail, prev_hash, hash)
    VALUES (v_tenant, v_id, v_seq, v_at, p_actor, p_action, coalesce(p_entity_type, ''),
            p_entity_id, coalesce(p_flagged, false), coalesce(p_ip, ''),
            coalesce(p_detail, '{{}}'::jsonb), v_prev,
            app.audit_event_hash(v_tenant, v_seq, v_at, p_actor, p_action,
                                 coalesce(p_entity_type, ''), p_entity_id,
                                 coalesce(p_flagged, false), coalesce(p_ip, ''),
                                 coalesce(p_detail, '{{}}'::jsonb), v_prev));
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION {schema}.append_audit_event(uuid, text, text, uuid, jsonb, boolean, text)
    FROM PUBLIC;
"""

APPEND = text(
    "SELECT append_audit_event(:actor, :action, :entity_type, :entity_id, "
    "CAST(:detail AS jsonb), :flagged, :ip)"
)

# The first row of each tenant whose chain does not hold, and why.
_VERIFY = """
WITH ordered AS (
    SELECT e.tenant_id, e.id, e.seq, e.hash, e.prev_hash,
           app.audit_event_hash(e.tenant_id, e.seq, e.occurred_at, e.actor_id, e.action,
                                e.entity_type, e.entity_id, e.flagged, e.ip, e.detail,
                                e.prev_hash) AS expected,
           lag(e.hash) OVER w AS previous,
           row_number() OVER w AS position
      FROM audit_event AS e
     {where}
    WINDOW w AS (PARTITION BY e.tenant_id ORDER BY e.seq)
), judged AS (
    SELECT tenant_id, id, seq,
           CASE
               WHEN seq <> position THEN 'an earlier row is missing or was renumbered'
               WHEN prev_hash <> coalesce(previous, '') THEN 'does not follow the row before it'
               WHEN hash <> expected THEN 'its content was altered'
           END AS problem
      FROM ordered
)
SELECT DISTINCT ON (j.tenant_id) t.slug, j.id, j.seq, j.problem
  FROM judged AS j JOIN tenant AS t ON t.id = j.tenant_id
 WHERE j.problem IS NOT NULL
 ORDER BY j.tenant_id, j.seq
"""


@dataclass(frozen=True)
class Break:
    """The first row of a tenant's trail that fails the check."""

    tenant_slug: str
    event_id: uuid.UUID
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"{self.tenant_slug}: event #{self.seq} ({self.event_id}) {self.problem}"


@dataclass(frozen=True)
class Verification:
    tenants: int
    events: int
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify(conn: Connection, *, tenant_id: uuid.UUID | None = None) -> Verification:
    """Check the chain of one tenant, or of all (run as the owner: it reads every tenant)."""
    where = "WHERE e.tenant_id = :tenant" if tenant_id else ""
    params = {"tenant": tenant_id} if tenant_id else {}
    breaks = [
        Break(slug, event_id, int(seq), problem)
        for slug, event_id, seq, problem in conn.execute(
            text(_VERIFY.format(where=where)), params
        ).all()
    ]
    counts = conn.execute(
        text(
            "SELECT count(DISTINCT tenant_id), count(*) FROM audit_event"
            + (" WHERE tenant_id = :tenant" if tenant_id else "")
        ),
        params,
    ).one()
    return Verification(tenants=int(counts[0]), events=int(counts[1]), breaks=breaks)


def verify_every_placement() -> tuple[Verification, int]:
    """Check every tenant's chain where it lives: each region's pool database (its pool
    tenants), each schema tenant's schema and each tenant database; one owner connection
    per database, in one transaction, with each data schema on the search_path in turn
    (transaction-locally). Returns the merged result and how many places were checked."""
    from pms_dashboard.db import targets

    by_database: dict[str, list[str]] = {}
    for target in targets.database_targets() + targets.tenant_targets():
        if target.kind != "template":
            by_database.setdefault(target.url, []).append(target.schema)
    found: list[Verification] = []
    for url, schemas in by_database.items():
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                for schema in schemas:
                    conn.execute(text("SELECT set_config('search_path', :s, true)"), {"s": schema})
                    found.append(verify(conn))
                conn.rollback()
        finally:
            engine.dispose()
    merged = Verification(
        tenants=sum(v.tenants for v in found),
        events=sum(v.events for v in found),
        breaks=[b for v in found for b in v.breaks],
    )
    return merged, len(found)


# ------------------------------------------------------------------ the platform's trail

# The same canonical content as a tenant row (a JSON array, time as integer microseconds),
# led by a marker so no platform row can ever hash like a tenant row.
CREATE_PLATFORM_HASH_FUNCTION = """
CREATE OR REPLACE FUNCTION app.platform_event_hash(
    p_seq bigint, p_at timestamptz, p_admin uuid, p_action text, p_ip text, p_detail jsonb,
    p_prev text
) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        'platform', p_seq, (extract(epoch FROM p_at) * 1000000)::bigint, p_admin, p_action,
        p_ip, p_detail, p_prev)::text, 'UTF8')), 'hex')
    $$;
"""

# The time is taken after the lock, so the trail's times never run backwards against seq.
CREATE_PLATFORM_APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION app.append_platform_event(
    p_admin uuid, p_action text, p_detail jsonb, p_ip text
) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_at timestamptz;
    v_detail jsonb := coalesce(p_detail, '{}'::jsonb);
    v_ip text := left(coalesce(p_ip, ''), 64);
BEGIN
    IF p_action IS NULL OR p_action !~ '^[a-z][a-z0-9_.]{0,63}$' THEN
        RAISE EXCEPTION 'a platform event needs an action name' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(v_detail) <> 'object' THEN
        RAISE EXCEPTION 'a platform event detail is a JSON object' USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('pms.audit.platform', 0));
    v_at := clock_timestamp();
    SELECT e.seq, e.hash INTO v_seq, v_prev
      FROM public.platform_event AS e
     ORDER BY e.seq DESC
     LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    v_prev := coalesce(v_prev, '');
    INSERT INTO public.platform_event (seq, occurred_at, admin_id, action, detail, ip,
                                       prev_hash, hash)
    VALUES (v_seq, v_at, p_admin, p_action, v_detail, v_ip, v_prev,
            app.platform_event_hash(v_seq, v_at, p_admin, p_action, v_ip, v_detail, v_prev));
    RETURN v_seq;
END
$$;
REVOKE ALL ON FUNCTION app.append_platform_event(uuid, text, jsonb, text) FROM PUBLIC;
"""

APPEND_PLATFORM = text(
    "SELECT app.append_platform_event(:admin, :action, CAST(:detail AS jsonb), :ip)"
)


def record_platform_event(
    *,
    session: Session,
    admin_id: uuid.UUID | None,
    action: str,
    detail: dict[str, Any] | None = None,
    ip: str = "",
) -> int:
    """Append one event to the platform's trail in the caller's transaction (committed or
    rolled back with what it describes); returns its seq.

    Every writer of the platform trail queues on one lock until its transaction ends, so
    call this last in the transaction (after any tenant-chain writes, which take their
    tenants' locks first), never before a long-running statement such as a COPY export.
    `action` is a dotted lower-case name such as "console.audit_export"; never put a
    password, code or token in `detail`.
    """
    return int(
        session.execute(
            APPEND_PLATFORM,
            {
                "admin": admin_id,
                "action": action,
                "detail": json.dumps(detail or {}, default=str),
                "ip": (ip or "")[:64],
            },
        ).scalar_one()
    )


_VERIFY_PLATFORM = """
WITH ordered AS (
    SELECT e.seq, e.hash, e.prev_hash,
           app.platform_event_hash(e.seq, e.occurred_at, e.admin_id, e.action, e.ip,
                                   e.detail, e.prev_hash) AS expected,
           lag(e.hash) OVER w AS previous,
           row_number() OVER w AS position
      FROM platform_event AS e
    WINDOW w AS (ORDER BY e.seq)
), judged AS (
    SELECT seq,
           CASE
               WHEN seq <> position THEN 'an earlier row is missing or was renumbered'
               WHEN prev_hash <> coalesce(previous, '') THEN 'does not follow the row before it'
               WHEN hash <> expected THEN 'its content was altered'
           END AS problem
      FROM ordered
)
SELECT seq, problem FROM judged WHERE problem IS NOT NULL ORDER BY seq LIMIT 1
"""


@dataclass(frozen=True)
class PlatformBreak:
    """The first row of the platform trail that fails the check."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"platform: event #{self.seq} {self.problem}"


@dataclass(frozen=True)
class PlatformVerification:
    events: int
    broken: PlatformBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_platform(conn: Connection) -> PlatformVerification:
    """Check the platform trail (run as the owner); names the first row that fails."""
    row = conn.execute(text(_VERIFY_PLATFORM)).first()
    events = conn.execute(text("SELECT count(*) FROM platform_event")).scalar_one()
    return PlatformVerification(
        events=int(events), broken=PlatformBreak(int(row[0]), row[1]) if row else None
    )
