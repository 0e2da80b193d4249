"""`python -m pms_dashboard.cli export NAME --tenant SLUG --out FILE`: the web exports for
operators and scripts, with a progress bar.

It runs exactly like a browser export (same statement, same tenant session as `pms_app`,
same audit event, marked `"via": "cli"`), acting as one of the organisation's tenant admins
(`--as` picks another person, whose permissions then apply). Acting as the admin, the goal
exports cover the whole organisation unless `--filter scope=...` says otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlmodel import col

from pms_dashboard.auth.models import Role, User
from pms_dashboard.errors import UserError
from pms_dashboard.exports import service
from pms_dashboard.exports.catalog import EXPORTS
from pms_dashboard.exports.routes import export_stream
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.registry import resolve_slug
from pms_dashboard.tenancy.session import contextless_session, tenant_session


class CliError(UserError):
    pass


def _actor(slug: str, email: str | None) -> TenantContext:
    with contextless_session() as s:
        tenant_id = resolve_slug(session=s, slug=slug)
    if tenant_id is None:
        raise CliError(f"no organisation with the slug {slug!r}")
    ctx = TenantContext(tenant_id=tenant_id)
    with tenant_session(ctx) as s:
        query = select(User).where(col(User.is_active).is_(True))
        if email:
            query = query.where(func.lower(col(User.email)) == email.strip().lower())
        else:
            query = query.where(col(User.role) == Role.tenant_admin.value).order_by(
                col(User.created_at)
            )
        user = s.scalars(query).first()
    if user is None:
        raise CliError(f"no active {'person ' + email if email else 'tenant admin'} in {slug}")
    return TenantContext(tenant_id=tenant_id, user_id=user.id, role=user.role)


def _filters(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--filter takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


def _takes_scope(name: str) -> bool:
    spec = EXPORTS.get(name)
    return spec is not None and "scope" in spec.params.model_fields


def run(args: argparse.Namespace) -> int:
    try:
        ctx = _actor(args.tenant, args.as_email)
        raw = _filters(args.filter or [])
        if _takes_scope(args.name) and not args.as_email:
            # an operator acting as the organisation's admin wants the organisation's rows,
            # not the admin's own (the page's default); --filter scope=... still decides
            raw.setdefault("scope", "all")
        if args.bom:
            raw["bom"] = "1"
        request = service.prepare(args.name, raw)
    except (CliError, service.ExportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    chunks = export_stream(ctx, request, via="cli")
    try:
        first = next(chunks)  # permission and filters checked before a file is made
    except UserError as err:  # (a filter naming someone not found, no access, busy)
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(service.file_name(args.tenant, args.name))
    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
    ]
    with (
        out.open("wb") as fh,
        Progress(*columns, disable=args.quiet or not sys.stderr.isatty()) as bar,
    ):
        task = bar.add_task(f"{args.name} → {out.name}", total=None)
        for chunk in itertools.chain([first], chunks):
            fh.write(chunk)
            bar.advance(task, len(chunk))
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("export", help="export a list as CSV (like the Export button)")
    parser.add_argument("name", choices=sorted(EXPORTS), help="which export")
    parser.add_argument("--tenant", required=True, help="the organisation's slug")
    parser.add_argument("--out", help="file to write (default: slug-name-date.csv)")
    parser.add_argument("--as", dest="as_email", help="act as this person (default: an admin)")
    parser.add_argument(
        "--filter", action="append", metavar="NAME=VALUE", help="a filter of the page, repeatable"
    )
    parser.add_argument("--bom", action="store_true", help="start with a UTF-8 BOM (Excel)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)
