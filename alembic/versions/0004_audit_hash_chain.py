"""audit trail: per-tenant hash chain, writes only through app.append_audit_event

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pms_dashboard.audit import chain

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_SIGNATURE = "app.append_audit_event(uuid, text, text, uuid, jsonb, boolean, text)"


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column(
        "audit_event",
        sa.Column("prev_hash", sa.String(length=64), server_default="", nullable=False),
    )
    op.add_column("audit_event", sa.Column("hash", sa.String(length=64), nullable=True))
    op.execute(chain.CREATE_HASH_FUNCTION)
    # Chain the events already there, per tenant, in the order they happened.
    op.execute(
        """
        DO $$
        DECLARE r record; v_tenant uuid; v_seq bigint; v_prev text;
        BEGIN
            FOR r IN SELECT * FROM audit_event ORDER BY tenant_id, occurred_at, id LOOP
                IF v_tenant IS DISTINCT FROM r.tenant_id THEN
                    v_tenant := r.tenant_id; v_seq := 0; v_prev := '';
                END IF;
                v_seq := v_seq + 1;
                UPDATE audit_event SET seq = v_seq, prev_hash = v_prev,
                       hash = app.audit_event_hash(r.tenant_id, v_seq, r.occurred_at, r.actor_id,
                                                   r.action, r.entity_type, r.entity_id,
                                                   r.flagged, r.ip, r.detail, v_prev)
                 WHERE tenant_id = r.tenant_id AND id = r.id
             RETURNING hash INTO v_prev;
            END LOOP;
        END
        $$;
        """
    )
    op.alter_column("audit_event", "seq", nullable=False)
    op.alter_column("audit_event", "hash", nullable=False)
    op.create_unique_constraint(
        op.f("uq_audit_event_tenant_id_seq"), "audit_event", ["tenant_id", "seq"]
    )
    op.execute(chain.CREATE_APPEND_FUNCTION)
    op.execute(f"GRANT EXECUTE ON FUNCTION {APPEND_SIGNATURE} TO pms_app")
    # From now on the app appends only through the function.
    op.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_event FROM pms_app")


def downgrade() -> None:
    op.execute("GRANT INSERT ON audit_event TO pms_app")
    op.execute(f"DROP FUNCTION IF EXISTS {APPEND_SIGNATURE}")
    op.drop_constraint(op.f("uq_audit_event_tenant_id_seq"), "audit_event", type_="unique")
    op.execute(
        "DROP FUNCTION IF EXISTS app.audit_event_hash(uuid, bigint, timestamptz, uuid, text, "
        "text, uuid, boolean, text, jsonb, text)"
    )
    op.drop_column("audit_event", "hash")
    op.drop_column("audit_event", "prev_hash")
    op.drop_column("audit_event", "seq")
