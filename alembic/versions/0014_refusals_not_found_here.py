"""refusals: another tenant's id is reported to the platform's trail, never the tenant's

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 09:00:00

- `app.report_foreign_id(p_id, p_event)`: SECURITY DEFINER, pinned search_path, callable
  by pms_app. Given an id a request named and the tenant's own `access.not_found` event
  that refused it, it checks whether the id belongs to another tenant and, only then,
  appends a flagged `access.cross_tenant` event to the platform's trail (both tenants, the
  actor, the kind, the id, the tenant event). It returns nothing, so the caller never learns
  whether the id was foreign; the actor and kind come from the tenant's event, not from
  arguments, and an event that is not this tenant's own refusal reports nothing.
- `app.is_foreign_id` (0005) answered that very question to the app role, which then wrote
  the answer into the tenant's trail (an existence oracle for tenant admins): the app role
  may no longer call it.
- An index of the platform trail's cross-tenant reports by the tenant event they belong to,
  for the console's flagged queue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pms_dashboard.audit.models import CROSS_TENANT_SQL

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "app.report_foreign_id(uuid, uuid)"
INDEX = "ix_platform_event_cross_tenant_event"
# The tables whose ids travel through the browser (the ones a request can name).
ADDRESSABLE = (
    "app_user", "goal", "key_result", "goal_check_in", "review_template", "review_criterion",
    "review_cycle", "review", "review_outcome",
)  # fmt: skip


def upgrade() -> None:
    owners = "\n                UNION ALL ".join(
        f"SELECT tenant_id FROM public.{t} WHERE id = p_id AND tenant_id <> v_tenant"
        for t in ADDRESSABLE
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {SIGNATURE.replace("(uuid, uuid)", "(p_id uuid, p_event uuid)")}
            RETURNS void
            LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        DECLARE
            v_tenant uuid := app.current_tenant_id();
            v_seq bigint;
            v_actor uuid;
            v_kind text;
            v_owner uuid;
        BEGIN
            IF v_tenant IS NULL OR p_id IS NULL OR p_event IS NULL THEN
                RETURN;
            END IF;
            SELECT e.seq, e.actor_id, e.entity_type INTO v_seq, v_actor, v_kind
              FROM public.audit_event AS e
             WHERE e.tenant_id = v_tenant AND e.id = p_event
               AND e.action = 'access.not_found' AND e.flagged;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            SELECT o.tenant_id INTO v_owner FROM (
                {owners}
            ) AS o LIMIT 1;
            IF v_owner IS NULL THEN
                RETURN;
            END IF;
            PERFORM app.append_platform_event(
                NULL,
                'access.cross_tenant',
                jsonb_build_object(
                    'flagged', true,
                    'tenant_id', v_tenant,
                    'tenant', (SELECT t.slug FROM public.tenant AS t WHERE t.id = v_tenant),
                    'actor_id', v_actor,
                    'kind', v_kind,
                    'foreign_id', p_id,
                    'owner_tenant_id', v_owner,
                    'owner_tenant', (SELECT t.slug FROM public.tenant AS t WHERE t.id = v_owner),
                    'tenant_event_id', p_event,
                    'tenant_event_seq', v_seq
                ),
                NULL
            );
        END
        $$;
        REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION {SIGNATURE} TO pms_app;
        REVOKE EXECUTE ON FUNCTION app.is_foreign_id(uuid) FROM pms_app;
        """
    )
    op.create_index(
        INDEX,
        "platform_event",
        [sa.text("(detail ->> 'tenant_event_id')")],
        unique=False,
        postgresql_where=sa.text(CROSS_TENANT_SQL),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="platform_event", postgresql_where=sa.text(CROSS_TENANT_SQL))
    op.execute("GRANT EXECUTE ON FUNCTION app.is_foreign_id(uuid) TO pms_app")
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
