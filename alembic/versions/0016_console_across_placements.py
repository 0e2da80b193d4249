"""console across placements: flag reviews name events they cannot point at; counts per schema

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 09:00:00

- `flag_review` (the console's notes on flagged events) lives in the home database, with
  the platform's trail; the events it reviews live at each tenant's placement (another
  schema, database or cluster), where no foreign key can reach. So the foreign key to
  `audit_event` goes and `(tenant_id, event_id)` stay plain columns (still the primary key:
  one review per event). What the key checked is checked by the console instead: it
  reviews only an event it has just read at the tenant's placement (flagged, of an
  ordinary user), in the same request. Nothing is lost on a tenant's removal either:
  a review without its event is never shown (the queue lists events, not reviews).
- `app.tenant_counts(schema, tenants, versions)`: the console's overview counts (people,
  goals, last activity) of the given tenants of one data schema of this database (`public`
  or a schema tenant's), SECURITY DEFINER like `app.platform_overview` (counts only, never
  a row), so the console reads every schema of a database in one query (UNION ALL) and
  every database once, instead of a connection per tenant. Only tenants whose row at this
  target holds the catalog's placement version are counted (the placement fence).

Both touch the database as a whole (its platform tables, its `app` schema), so a schema
target does nothing here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pms_dashboard.db.targets import migration_target

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_flag_review_tenant_id_event_id_audit_event"
COUNTS = "app.tenant_counts(text, uuid[], integer[])"


def upgrade() -> None:
    if not migration_target().owns_database:
        return
    op.execute(f"ALTER TABLE flag_review DROP CONSTRAINT IF EXISTS {FK}")
    op.execute(
        f"""
        CREATE FUNCTION app.tenant_counts(
            p_schema text, p_tenants uuid[], p_versions integer[]
        ) RETURNS TABLE (tenant_id uuid, name text, users bigint, goals bigint,
                         last_activity timestamptz)
            LANGUAGE plpgsql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        BEGIN
            IF p_schema <> 'public' AND p_schema !~ '^t_[0-9a-f]{{16}}$' THEN
                RAISE EXCEPTION 'not a data schema: %', p_schema USING ERRCODE = '22023';
            END IF;
            IF to_regnamespace(p_schema) IS NULL THEN
                RETURN;
            END IF;
            RETURN QUERY EXECUTE format(
                'SELECT t.id, t.name::text,'
                '  (SELECT count(*) FROM %1$I.app_user AS u WHERE u.tenant_id = t.id),'
                '  (SELECT count(*) FROM %1$I.goal AS g WHERE g.tenant_id = t.id),'
                '  (SELECT max(e.occurred_at) FROM %1$I.audit_event AS e'
                '    WHERE e.tenant_id = t.id)'
                '  FROM %1$I.tenant AS t'
                '  JOIN unnest($1, $2) AS f(id, version)'
                '    ON f.id = t.id AND f.version = t.placement_version'
                ' WHERE t.placement_state <> ''moved''', p_schema)
                USING p_tenants, p_versions;
        END
        $$;
        REVOKE ALL ON FUNCTION {COUNTS} FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION {COUNTS} TO pms_auditor;
        """
    )


def downgrade() -> None:
    if not migration_target().owns_database:
        return
    op.execute(f"DROP FUNCTION IF EXISTS {COUNTS}")
    # NOT VALID: reviews of events kept elsewhere stay; new ones are checked again
    op.execute(
        sa.text(
            f"ALTER TABLE flag_review ADD CONSTRAINT {FK} FOREIGN KEY (tenant_id, event_id)"
            " REFERENCES audit_event (tenant_id, id) ON DELETE CASCADE NOT VALID"
        )
    )
