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
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

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

APPEND = text(
    "SELECT app.append_audit_event(:actor, :action, :entity_type, :entity_id, "
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
