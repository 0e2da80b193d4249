"""Alembic environment: applies the one history to one target (see `db.targets`): a whole
database (the catalog, a region's pool, a template, a tenant database), whose runtime roles
it bootstraps first (idempotent), or a schema tenant's schema. Each target migrates in one
transaction, so a failure leaves it at its old revision."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from pms_dashboard import models  # noqa: F401  (complete metadata for autogenerate)
from pms_dashboard.db.metadata import metadata
from pms_dashboard.db.roles import ensure_roles
from pms_dashboard.db.targets import Target, migration_target


def run_migrations_online() -> None:
    found = context.config.attributes.get("target")
    target: Target = found if isinstance(found, Target) else migration_target()
    engine = create_engine(target.url, poolclass=pool.NullPool)
    in_schema = target.schema != "public"
    with engine.connect() as connection:
        if target.owns_database:
            ensure_roles(connection)
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            transaction_per_migration=False,
            version_table_schema=target.schema if in_schema else None,
        )
        with context.begin_transaction():
            if in_schema:
                # transaction-local: unqualified DDL of the revisions lands in the schema
                connection.execute(
                    text("SELECT set_config('search_path', :s, true)"), {"s": target.schema}
                )
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: roles and RLS need a server")
run_migrations_online()
