"""tenant policies read the context with built-in functions, without a sub-select

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 10:00:00

Every `tenant_isolation` policy (and the tenant table's own-row policies) changes from
`tenant_id = (SELECT app.current_tenant_id())` to
`tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid`: the same
value, without a sub-query to plan and a SQL function to inline for every table a statement
names. Why, and why it is still evaluated once per scan: `pms_dashboard.tenancy.rls`.
`app.current_tenant_id()` stays for the SECURITY DEFINER functions that read the context.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pms_dashboard.tenancy import rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set_policies(ctx: str) -> None:
    tables = op.get_bind().execute(sa.text(rls.TENANT_POLICY_TABLES)).scalars().all()
    for statement in rls.set_policy_expression(tables, ctx):
        op.execute(statement)


def upgrade() -> None:
    _set_policies(rls.CTX)


def downgrade() -> None:
    _set_policies(rls.SUBSELECT_CTX)
