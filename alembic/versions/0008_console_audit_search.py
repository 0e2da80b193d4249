"""console audit: platform trail, cross-tenant audit metadata search, flagged-event reviews

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:00:00

- `platform_event`: the platform's own hash-chained trail (console sign-ins, failed ones,
  sign-outs, searches, reviews, exports), appended only by `app.append_platform_event`.
- `pms_auditor` reads the metadata columns of every tenant's audit events (never `detail`,
  which may hold tenant data such as goal titles, nor the hashes), and the slug and name of
  every tenant (the overview already shows them), to search across tenants.
- `flag_review`: a super-admin's note on a flagged event; insert-only for the console.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from pms_dashboard.audit import chain
from pms_dashboard.audit.models import REVIEWABLE_SQL

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_SIGNATURE = "app.append_platform_event(uuid, text, jsonb, text)"
HASH_SIGNATURE = "app.platform_event_hash(bigint, timestamptz, uuid, text, text, jsonb, text)"
# What the console may read of any tenant's audit events: who, what, when, where from.
METADATA_COLUMNS = (
    "id, tenant_id, seq, occurred_at, actor_id, action, entity_type, entity_id, flagged, ip"
)
TENANT_COLUMNS = "id, slug, name"


def upgrade() -> None:
    op.create_table(
        "platform_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("admin_id", sa.Uuid(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["platform_admin.id"],
            name=op.f("fk_platform_event_admin_id_platform_admin"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_platform_event")),
    )
    op.create_index(
        op.f("ix_platform_event_admin_id_occurred_at"),
        "platform_event",
        ["admin_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "flag_review",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "reviewed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(btrim(note)) BETWEEN 1 AND 500", name=op.f("ck_flag_review_note_given")
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["platform_admin.id"],
            name=op.f("fk_flag_review_admin_id_platform_admin"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "event_id"],
            ["audit_event.tenant_id", "audit_event.id"],
            name=op.f("fk_flag_review_tenant_id_event_id_audit_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_flag_review")),
    )
    op.create_index(op.f("ix_flag_review_admin_id"), "flag_review", ["admin_id"], unique=False)
    op.create_index(
        "ix_audit_event_tenant_id_occurred_at_reviewable",
        "audit_event",
        ["tenant_id", "occurred_at"],
        unique=False,
        postgresql_where=sa.text(REVIEWABLE_SQL),
    )
    _platform_trail_upgrade()
    _console_reads_upgrade()


def _platform_trail_upgrade() -> None:
    """Appended only through the SECURITY DEFINER function; the console's role may call it
    and read the trail, nobody but the owner may change it. (Every console path runs as
    pms_auditor, sign-in included, so pms_app gets nothing here.)"""
    op.execute(chain.CREATE_PLATFORM_HASH_FUNCTION)
    op.execute(chain.CREATE_PLATFORM_APPEND_FUNCTION)
    op.execute(f"GRANT EXECUTE ON FUNCTION {APPEND_SIGNATURE} TO pms_auditor")
    op.execute("REVOKE ALL ON platform_event FROM pms_app, pms_auditor")
    op.execute("GRANT SELECT ON platform_event TO pms_auditor")


def _console_reads_upgrade() -> None:
    """Cross-tenant audit search and the flagged queue, as pms_auditor.

    Row-level: a SELECT-only policy for pms_auditor on every audit event and every tenant
    (pms_app's tenant_isolation policies are untouched; permissive policies apply per role).
    Column-level: only the metadata columns are granted, so `SELECT detail` (or `*`) is
    refused with "permission denied", whatever the policy lets through.
    """
    op.execute(
        "CREATE POLICY console_metadata ON audit_event FOR SELECT TO pms_auditor USING (true)"
    )
    op.execute(f"GRANT SELECT ({METADATA_COLUMNS}) ON audit_event TO pms_auditor")
    op.execute("CREATE POLICY console_directory ON tenant FOR SELECT TO pms_auditor USING (true)")
    op.execute(f"GRANT SELECT ({TENANT_COLUMNS}) ON tenant TO pms_auditor")
    # insert-only: a review is never edited or withdrawn
    op.execute("REVOKE ALL ON flag_review FROM pms_app, pms_auditor")
    op.execute("GRANT SELECT, INSERT ON flag_review TO pms_auditor")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ({TENANT_COLUMNS}) ON tenant FROM pms_auditor")
    op.execute("DROP POLICY IF EXISTS console_directory ON tenant")
    op.execute(f"REVOKE SELECT ({METADATA_COLUMNS}) ON audit_event FROM pms_auditor")
    op.execute("DROP POLICY IF EXISTS console_metadata ON audit_event")
    op.execute(f"DROP FUNCTION IF EXISTS {APPEND_SIGNATURE}")
    op.execute(f"DROP FUNCTION IF EXISTS {HASH_SIGNATURE}")
    op.drop_index(
        "ix_audit_event_tenant_id_occurred_at_reviewable",
        table_name="audit_event",
        postgresql_where=sa.text(REVIEWABLE_SQL),
    )
    op.drop_index(op.f("ix_flag_review_admin_id"), table_name="flag_review")
    op.drop_table("flag_review")
    op.drop_index(op.f("ix_platform_event_admin_id_occurred_at"), table_name="platform_event")
    op.drop_table("platform_event")
