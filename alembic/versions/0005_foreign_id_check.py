"""app.is_foreign_id: whether a refused id belongs to another tenant (to flag the attempt)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 05:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose ids travel through the browser (the ones a request can name).
ADDRESSABLE = (
    "app_user", "goal", "key_result", "goal_check_in", "review_template", "review_cycle",
    "review", "review_outcome",
)  # fmt: skip


def upgrade() -> None:
    checks = " OR ".join(
        f"EXISTS (SELECT 1 FROM public.{t} WHERE id = p_id AND tenant_id <> v_tenant)"
        for t in ADDRESSABLE
    )
    # SECURITY DEFINER: answers one yes/no about one id, never which tenant or what row,
    # and only to a caller that has a tenant context.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION app.is_foreign_id(p_id uuid) RETURNS boolean
            LANGUAGE plpgsql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        DECLARE v_tenant uuid := app.current_tenant_id();
        BEGIN
            IF v_tenant IS NULL OR p_id IS NULL THEN
                RETURN false;
            END IF;
            RETURN {checks};
        END
        $$;
        REVOKE ALL ON FUNCTION app.is_foreign_id(uuid) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION app.is_foreign_id(uuid) TO pms_app;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.is_foreign_id(uuid)")
