"""Alembic environment: runs as the migration role from the app's settings, bootstraps the
runtime roles first (idempotent), then applies migrations in one transaction."""

from alembic import context
from sqlalchemy import create_engine, pool

from pms_dashboard import models  # noqa: F401  (complete metadata for autogenerate)
from pms_dashboard.db.engine import owner_url
from pms_dashboard.db.metadata import metadata
from pms_dashboard.db.roles import ensure_roles


def run_migrations_online() -> None:
    engine = create_engine(owner_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        ensure_roles(connection)
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: roles and RLS need a server")
run_migrations_online()
