"""Application settings, read once from the environment (and `.env`).

Every knob is documented in README.md ("Settings"). No secret has a default: unset, the
signing key and the runtime roles' passwords come from the installation's keyring (random,
generated on first use, see `pms_dashboard.keyring`). A value this project ever published
is refused wherever it is given, in every mode, so no running app can use a known key.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The runtime roles (names fixed, so operations and tests can rely on them): the web app's
# and the console's. Here, below both the engines and the keyring that makes their passwords.
APP_ROLE = "pms_app"
AUDITOR_ROLE = "pms_auditor"

# Development defaults this project once published (in its source and history): anyone can
# sign with them, so they are refused as SECRET_KEY or a role's password in every mode.
PUBLISHED_SECRETS = frozenset(
    {
        "dev-only-secret-key-change-me-0000000000000000",
        "dev-only-pms-app",
        "dev-only-pms-auditor",
    }
)


class Settings(BaseSettings):
    """Process-wide configuration; one instance per process via `get_settings()`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", alias="PMS_ENV"
    )
    # Migration/owner connection. Unset: an embedded PostgreSQL is started in data_dir.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    # Name of the database inside the embedded server (tests use their own).
    embedded_db_name: str = Field(default="pms", alias="PMS_EMBEDDED_DB")
    embedded_port: int = Field(default=54329, alias="PMS_EMBEDDED_PORT")
    data_dir: Path = Field(default=PROJECT_ROOT / ".pms", alias="PMS_DATA_DIR")

    # Runtime roles: same server and database as DATABASE_URL, these users. Unset: the
    # passwords generated in the keyring (`cli db upgrade` sets them on the roles).
    app_db_password: str | None = Field(default=None, alias="PMS_APP_DB_PASSWORD", min_length=1)
    auditor_db_password: str | None = Field(
        default=None, alias="PMS_AUDITOR_DB_PASSWORD", min_length=1
    )
    app_pool_size: int = Field(default=10, alias="PMS_APP_POOL_SIZE", ge=1, le=200)
    # Threads per app worker that run the pages' plain event handlers, so one waiting on a
    # slow query does not hold up the worker's other tabs (each holds a database connection
    # while it runs: at most PMS_APP_POOL_SIZE). 0 (default): on the worker's event loop,
    # which serves the most events per second when handlers are quick (BENCHMARKS.md).
    event_threads: int = Field(default=0, alias="PMS_EVENT_THREADS", ge=0, le=64)
    # The overview's goal counts over more goals than this are kept for a short time
    # (`goals.lists.goal_health`, `tenancy.cache`); 0 reads them on every load.
    counts_kept_over: int = Field(default=10_000, alias="PMS_COUNTS_KEPT_OVER", ge=0)

    # Regions (data residency): `name=url,name=url`, each region's cluster as the owner
    # role's URL of its pool database; the first is the home region, whose pool database
    # also holds the placement catalog. Unset: DATABASE_URL alone is the single region
    # (named after the first of PMS_EMBEDDED_REGIONS), or with nothing set every region of
    # PMS_EMBEDDED_REGIONS gets an embedded cluster of its own.
    regions: str = Field(default="", alias="PMS_REGIONS")
    embedded_regions: str = Field(
        default="eu-central,us-east",
        alias="PMS_EMBEDDED_REGIONS",
        pattern=r"^\s*[a-z][a-z0-9-]{1,31}(\s*,\s*[a-z][a-z0-9-]{1,31})*\s*$",
    )
    # How many database engines (connection pools) one process keeps for database-tier
    # tenants; the least recently used is disposed beyond it, and one idle this long too.
    max_engines: int = Field(default=16, alias="PMS_MAX_ENGINES", ge=1, le=10_000)
    engine_idle_seconds: float = Field(default=300.0, alias="PMS_ENGINE_IDLE_SECONDS", gt=0)
    # A move's write freeze lasts at most this long: past it writes resume at the source by
    # themselves and the move rolls back (a mover that died never leaves a tenant read-only).
    move_freeze_limit_seconds: float = Field(
        default=120.0, alias="PMS_MOVE_FREEZE_LIMIT_SECONDS", gt=0, le=3600
    )
    # Pool size of each database-tier tenant's engine (a tenant database serves one tenant).
    tenant_pool_size: int = Field(default=2, alias="PMS_TENANT_POOL_SIZE", ge=1, le=100)

    # Signs session tokens and derives the keys of stored secrets. Unset: the keyring's
    # generated keys (rotatable with `cli secrets rotate`).
    secret_key: str | None = Field(default=None, alias="SECRET_KEY", min_length=32)
    # The keyring file (signing keys, data key, role passwords); default <data_dir>/secrets.json.
    secrets_file: Path | None = Field(default=None, alias="PMS_SECRETS_FILE")
    # Absolute session lifetime, enforced from the session row (also for sessions opened
    # before a lower value was set) as well as from the token.
    session_hours: float = Field(default=12.0, alias="PMS_SESSION_HOURS", gt=0, le=24 * 30)
    # A session unused for this long is revoked (reason "idle") at its next request.
    session_idle_minutes: float = Field(
        default=30.0, alias="PMS_SESSION_IDLE_MINUTES", ge=2, le=24 * 60 * 30
    )
    # Sign-in throttling, shared by every app process through PostgreSQL (`auth.throttle`).
    # Failures count within the window; 0 turns a limit off.
    signin_window_minutes: int = Field(
        default=15, alias="PMS_SIGNIN_WINDOW_MINUTES", ge=1, le=24 * 60
    )
    # Per account and address pair: after this many failures (since the pair's last
    # success) each further attempt from the pair waits a growing delay, the first one
    # `PMS_SIGNIN_PAIR_DELAY_SECONDS`, doubling, at most `PMS_SIGNIN_PAIR_MAX_DELAY_MINUTES`.
    signin_pair_free_failures: int = Field(
        default=3, alias="PMS_SIGNIN_PAIR_FREE_FAILURES", ge=0, le=1000
    )
    signin_pair_delay_seconds: float = Field(
        default=1.0, alias="PMS_SIGNIN_PAIR_DELAY_SECONDS", gt=0, le=3600
    )
    signin_pair_max_delay_minutes: int = Field(
        default=15, alias="PMS_SIGNIN_PAIR_MAX_DELAY_MINUTES", ge=1, le=24 * 60
    )
    # Per account, across addresses: a hard limit, high so that an attacker cannot lock the
    # owner out with a few wrong passwords; reaching it refuses every address until the
    # oldest counted failure leaves the window (logged and audited).
    signin_max_account_failures: int = Field(
        default=100, alias="PMS_SIGNIN_MAX_ACCOUNT_FAILURES", ge=0, le=10_000
    )
    # Per client address, across accounts (password spraying); successes do not reset it.
    signin_max_address_failures: int = Field(
        default=30, alias="PMS_SIGNIN_MAX_ADDRESS_FAILURES", ge=0, le=100_000
    )
    # Noisy-neighbour protection: how many exports / goal-list queries one tenant may run
    # at the same moment (across every app process); more are asked to try again shortly.
    export_slots_per_tenant: int = Field(default=2, alias="PMS_EXPORT_SLOTS", ge=1, le=100)
    list_slots_per_tenant: int = Field(default=6, alias="PMS_LIST_SLOTS", ge=1, le=1000)
    # Extra origins forms may be sent to (CSP form-action, besides the app itself), space
    # separated, e.g. identity providers a sign-in form is redirected to.
    csp_form_action: str = Field(
        default="",
        alias="PMS_CSP_FORM_ACTION",
        pattern=r"^(\s*https?://[A-Za-z0-9.:\[\]*-]+/?\s*)*$",
    )
    # Public address of the app (scheme://host:port), used for redirects and cookie flags.
    public_url: str = Field(default="http://localhost:3000", alias="PMS_PUBLIC_URL")
    # More Host names the app answers besides PMS_PUBLIC_URL's (space separated, e.g. the
    # name a load balancer's health check uses); any other Host header gets a 400.
    allowed_hosts: str = Field(
        default="", alias="PMS_ALLOWED_HOSTS", pattern=r"^(\s*[A-Za-z0-9.\[\]:-]+\s*)*$"
    )

    # Customer-managed keys: an unwrapped data key lives in process memory for at most this
    # long, so a revoked key stops working within it (pms_dashboard.keys.cache).
    key_cache_seconds: float = Field(default=60.0, alias="PMS_KEY_CACHE_SECONDS", ge=0, le=86400)
    # Whether a tenant admin may point the Encryption page at a key server on a private or
    # loopback address (the server calls it): off unless the operator's KMS is inside.
    kms_allow_private_addresses: bool = Field(
        default=False, alias="PMS_KMS_ALLOW_PRIVATE_ADDRESSES"
    )

    demo_password: str = Field(default="demo-pass-2026", alias="PMS_DEMO_PASSWORD")
    # The DNS server that SSO domain proofs are looked up at ("host" or "host:port"); empty:
    # the system's resolvers.
    dns_resolver: str = Field(
        default="", alias="PMS_DNS_RESOLVER", pattern=r"^([A-Za-z0-9.:\[\]-]+)?$"
    )

    @model_validator(mode="after")
    def _refuse_published_secrets(self) -> Settings:
        given = {
            "SECRET_KEY": self.secret_key,
            "PMS_APP_DB_PASSWORD": self.app_db_password,
            "PMS_AUDITOR_DB_PASSWORD": self.auditor_db_password,
        }
        published = [name for name, value in given.items() if value in PUBLISHED_SECRETS]
        if published:
            raise ValueError(
                f"{', '.join(published)} is set to a development default published with this "
                "project; set a fresh random value, or unset it to use the generated keyring"
            )
        if self.database_url and self.region_urls:
            first = next(iter(self.region_urls.values()))
            if _same_server_and_database(first, self.database_url) is False:
                raise ValueError(
                    "DATABASE_URL must be the home region's cluster: the first entry of "
                    "PMS_REGIONS (same host, port and database)"
                )
        if self.env == "production" and self.database_url is None and not self.region_urls:
            raise ValueError("DATABASE_URL must be set when PMS_ENV=production")
        return self

    @property
    def region_urls(self) -> dict[str, str]:
        """PMS_REGIONS parsed: region name -> owner URL, in order (the first is home)."""
        found: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in self.regions.split(","))):
            name, sep, url = entry.partition("=")
            name = name.strip()
            if not sep or not REGION_NAME.fullmatch(name) or not url.strip():
                raise ValueError(f"PMS_REGIONS entry {entry!r} is not region-name=postgresql://...")
            if name in found:
                raise ValueError(f"PMS_REGIONS names region {name!r} twice")
            found[name] = url.strip()
        return found

    @property
    def region_names(self) -> tuple[str, ...]:
        """Every region, the home region first."""
        if self.region_urls:
            return tuple(self.region_urls)
        names = tuple(n.strip() for n in self.embedded_regions.split(",") if n.strip())
        return names[:1] if self.database_url else names

    @property
    def home_region(self) -> str:
        return self.region_names[0]

    @property
    def keyring_path(self) -> Path:
        """Where the generated secrets live (PMS_SECRETS_FILE, or in the data folder)."""
        return self.secrets_file or self.data_dir / "secrets.json"

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag whenever the app is served over https."""
        return self.public_url.startswith("https://")


REGION_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


def _same_server_and_database(a: str, b: str) -> bool | None:
    """Whether two PostgreSQL URLs name the same host, port and database (None: unparsable)."""
    try:
        ua, ub = urlsplit(a), urlsplit(b)
        return (ua.hostname, ua.port or 5432, ua.path.strip("/")) == (
            ub.hostname,
            ub.port or 5432,
            ub.path.strip("/"),
        )
    except ValueError:
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read once; tests clear the cache to change them)."""
    return Settings()
