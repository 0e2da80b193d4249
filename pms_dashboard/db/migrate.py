"""`db upgrade`: bootstrap roles and apply Alembic migrations (our env.py does both)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from pms_dashboard.settings import PROJECT_ROOT


def alembic_config() -> Config:
    """The project's Alembic configuration, usable from any working directory."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return cfg


def upgrade(revision: str = "head") -> None:
    """Roles (idempotent) and migrations up to `revision`."""
    command.upgrade(alembic_config(), revision)


def current_revision() -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    from pms_dashboard.db.engine import owner_engine

    with owner_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
