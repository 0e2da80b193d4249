"""The catalog as operators read it: every tenant's placement (owner role, CLI and console)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from pms_dashboard.db.engine import owner_engine


@dataclass(frozen=True)
class Entry:
    tenant_id: uuid.UUID
    slug: str
    tier: str
    region: str
    cluster: str
    database: str | None
    schema: str | None
    state: str
    version: int
    revision: str | None

    @property
    def where(self) -> str:
        """The placement in one word: pool, the schema's or the database's name."""
        if self.tier == "schema":
            return f"schema {self.schema}"
        if self.tier == "database":
            return f"database {self.database}"
        return "pool"


def catalog() -> list[Entry]:
    """Every tenant's catalog entry, by slug."""
    with owner_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tenant_id, slug, tier, region, cluster, database, schema, state,"
                " version, revision FROM tenant_placement ORDER BY slug"
            )
        ).all()
        conn.rollback()
    return [Entry(*row) for row in rows]
