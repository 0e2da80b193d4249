"""Seeding: the demo organisations, and synthetic tenants for load tests.

`data` describes the demo organisations; `demo` seeds them, each whole in one transaction
(a half-made one is made again by the next run); `bulk` loads synthetic tenants with COPY
in chunks of whole tenants. Both run as the owner role (platform administration, never a
web request), skip what is already there, and give every row a random (version 4) id: an
id derived from a name would let anyone who reads this source compute the ids of a demo
organisation, and probe with them.

Neither is allowed when PMS_ENV=production: every seeded account's password is the demo
password, which is published in the README.

The names below are what the command line (`seed demo`, `seed --tenants N`) and the
browser tests call.
"""

from pms_dashboard.seed.base import SeedError
from pms_dashboard.seed.bulk import BulkSeedResult, bulk_slugs, seed_bulk
from pms_dashboard.seed.data import demo_sign_ins
from pms_dashboard.seed.demo import SeedResult, seed_demo

__all__ = [
    "BulkSeedResult",
    "SeedError",
    "SeedResult",
    "bulk_slugs",
    "demo_sign_ins",
    "seed_bulk",
    "seed_demo",
]
