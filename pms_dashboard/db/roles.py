"""Idempotent bootstrap of the runtime roles (README, "Architecture": Roles).

`pms_app` and `pms_auditor` can log in, are neither superuser nor BYPASSRLS, and own
nothing; the migration role (whatever DATABASE_URL connects as) owns every table. Running
this again only re-asserts the same attributes, settings and passwords.
"""

from __future__ import annotations

import random
import time

import psycopg
from sqlalchemy import Connection, text

from pms_dashboard import keyring
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, Settings, get_settings

RUNTIME_ROLES = (APP_ROLE, AUDITOR_ROLE)
# Every dangerous attribute is off by default, and PostgreSQL lets only a role that holds an
# attribute restate it, so they are verified after CREATE/ALTER instead of asserted.
_ATTRIBUTES = "LOGIN INHERIT"
_UNSAFE = "rolsuper OR rolbypassrls OR rolreplication OR rolcreaterole OR rolcreatedb"
# Set for the runtime roles in this database. Tenants differ in size by orders of magnitude,
# and a cached generic plan is made for no tenant in particular: once PostgreSQL switched a
# prepared statement to one (after five runs), a 100,000-goal tenant's team list went from
# about 65 ms to 230 ms. A custom plan for each run, for the tenant at hand, costs a fraction
# of a millisecond (bench/rls_overhead.py measures both sides with it).
RUNTIME_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


_RACES = 8
_CREATED_MEANWHILE = (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation)


def _assert_role(conn: Connection, role: str, password: str) -> None:
    """CREATE or ALTER one runtime role. A role is the cluster's, not a database's, so the
    workers of `db upgrade` migrating several databases of one cluster at once race on the
    same catalog row: the loser ("tuple concurrently updated", or the role created in the
    meantime) goes back to its savepoint and states it again."""
    from psycopg import sql

    raw = conn.connection.dbapi_connection
    assert raw is not None
    for attempt in range(1, _RACES + 1):
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        stmt = sql.SQL("{} ROLE {} " + _ATTRIBUTES + " PASSWORD {}").format(
            sql.SQL("ALTER" if exists.first() else "CREATE"),
            sql.Identifier(role),
            sql.Literal(password),
        )
        try:
            with conn.begin_nested():
                raw.cursor().execute(stmt)  # type: ignore[attr-defined]
            return
        except (psycopg.errors.InternalError_, *_CREATED_MEANWHILE) as err:
            lost_race = isinstance(err, _CREATED_MEANWHILE) or "concurrently" in str(err)
            if not lost_race or attempt == _RACES:
                raise
            time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))  # apart, not in step


class UnsafeRoleError(RuntimeError):
    """A runtime role holds an attribute that could let it escape row-level security."""


def ensure_roles(conn: Connection, settings: Settings | None = None) -> None:
    """Create or re-assert `pms_app` and `pms_auditor` with their fixed attributes and
    their passwords (from the environment, or generated in the keyring)."""
    s = settings or get_settings()
    passwords = {role: keyring.db_password(role, s) for role in RUNTIME_ROLES}
    raw = conn.connection.dbapi_connection
    assert raw is not None
    from psycopg import sql

    for role in RUNTIME_ROLES:
        _assert_role(conn, role, passwords[role])
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        raw.cursor().execute(  # type: ignore[attr-defined]
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        for name, value in RUNTIME_SETTINGS.items():
            raw.cursor().execute(  # type: ignore[attr-defined]
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    sql.Identifier(role),
                    sql.Identifier(database),
                    sql.Identifier(name),
                    sql.Literal(value),
                )
            )
        # Runtime roles must never create objects (they would own them).
        raw.cursor().execute(  # type: ignore[attr-defined]
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role))
        )
        unsafe = conn.execute(
            text(f"SELECT {_UNSAFE} FROM pg_roles WHERE rolname = :r"),
            {"r": role},
        ).scalar_one()
        if unsafe:
            raise UnsafeRoleError(
                f"role {role} has SUPERUSER, BYPASSRLS, REPLICATION, CREATEROLE or CREATEDB;"
                f" a superuser must run ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS"
                " NOREPLICATION NOCREATEROLE NOCREATEDB"
            )
