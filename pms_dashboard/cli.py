"""Command line: `python -m pms_dashboard.cli <group> <command> ...`.

    db upgrade                      roles (idempotent) + migrations to head
    db url                          the owner connection URL, password hidden
    seed demo                       the demo organisations acme (pool), globex (database)
                                    and initech (schema), once
    seed --tenants N [--tier T] [--region R] [...]
                                    synthetic tenants load-0001… for load tests (COPY)
    demo-signins [--url URL]        the demo accounts and their password
    tenants list                    every tenant with its user count
    tenants create --slug S --name N
    export NAME --tenant S [--out F] [--filter K=V]... [--as EMAIL] [--bom]   a list as CSV
    audit verify [--tenant S | --platform]  every tenant's hash chain at every placement (pool
                                    databases, schemas, tenant databases) and the platform's
    secrets rotate                  a new session-signing key (the old one stays valid until
                                    the sessions it signed expire)
    secrets status                  the signing keys' ids and ages (never a key)
    keys use --tenant S --provider P [--address URL --key NAME] [--token-file F]
                                    opt in to encrypted free text, or switch the key (token
                                    from PMS_KMS_TOKEN or --token-file)
    keys status|rewrap|rotate --tenant S   the key's state; wrap again after the customer
                                    rotated their key; a new data key, rows re-encrypted

Platform administration runs as the owner role, never as a web request. Refused input gets
a one-line message on stderr, exit status 2, and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from pms_dashboard.audit.chain import PlatformVerification

Handler = Callable[[argparse.Namespace], int]


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _db_upgrade(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pms_dashboard import keyring
    from pms_dashboard.db import migrate

    try:
        if keyring.needed() and keyring.ensure():
            print(
                "generated the session-signing key and the database roles' passwords in"
                f" {keyring.describe_path()} (mode 0600; keep it, back it up with the data)"
            )
    except keyring.KeyringError as err:
        return _fail(str(err))
    with Progress(
        TextColumn("[bold]migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        disable=args.no_progress,
    ) as bar:
        task = bar.add_task("migrate", total=None, last="")
        outcomes = migrate.upgrade(
            jobs=args.jobs,
            planned=lambda n: bar.update(task, total=n),
            advance=lambda o: bar.update(task, advance=1, last=o.target.label.strip()),
        )
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"FAILED {o.target.label.strip()}: {o.error} (left at {o.before or 'nothing'})")
    head = migrate.head_revision()
    done = len(outcomes) - len(failed)
    print(f"{done} targets migrated to {head}, {len(failed)} failed; every other target at head")
    return 1 if failed else 0


def _db_status(_args: argparse.Namespace) -> int:
    from collections import Counter

    from pms_dashboard.db import migrate

    head = migrate.head_revision()
    found = migrate.status()
    rows = [(t.kind, t.region, t.label.split()[2], rev or "-") for t, rev in found.items()]
    _print_table(("kind", "region", "target", "revision"), rows)
    by_revision = Counter(rev or "none" for rev in found.values())
    summary = ", ".join(f"{n} at {rev}" for rev, n in sorted(by_revision.items()))
    print(f"{len(found)} targets: {summary} (head {head})")
    return 0 if set(found.values()) == {head} else 1


def _db_url(_args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from pms_dashboard.db.engine import owner_url

    print(make_url(owner_url()).render_as_string(hide_password=True))
    return 0


def _seed(args: argparse.Namespace) -> int:
    from pms_dashboard import seed

    try:
        if args.what == "demo":
            result = seed.seed_demo()
            for slug in result.created:
                print(f"created demo organisation {slug}")
            for slug in result.skipped:
                print(f"demo organisation {slug} already exists, left as it is")
            print(f"{result.total_rows} rows inserted")
            return 0
        if args.tenants is None:
            return _fail("say what to seed: `seed demo` or `seed --tenants N`")
        bulk = seed.seed_bulk(
            tenants=args.tenants,
            users_per_tenant=args.users_per_tenant,
            goals_per_user=args.goals_per_user,
            prefix=args.prefix,
            key_results_per_goal=args.key_results_per_goal,
            check_ins_per_goal=args.check_ins_per_goal,
            workers=args.workers,
            progress=not args.no_progress,
            tier=args.tier,
            region=args.region,
            encrypted=args.encrypted,
        )
    except seed.SeedError as err:
        return _fail(str(err))
    print(
        f"{bulk.tenants_created} tenants created, {bulk.tenants_skipped} already existed; "
        f"{bulk.users:,} users, {bulk.goals:,} goals, {bulk.key_results:,} key results, "
        f"{bulk.check_ins:,} check-ins; {bulk.rows:,} rows in {bulk.seconds:.1f} s "
        f"({bulk.rows_per_second:,.0f} rows/s)"
    )
    return 0


def _demo_signins(args: argparse.Namespace) -> int:
    from pms_dashboard.keyring import describe_mode
    from pms_dashboard.seed import demo_sign_ins
    from pms_dashboard.seed.data import DEMO_TENANTS
    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy.placement import TIER_WORDS, Tier

    settings = get_settings()
    print(describe_mode(*(["demo data"] if settings.env == "development" else [])))
    places = [f"{t.slug} ({t.region}, {TIER_WORDS[Tier(t.tier)]})" for t in DEMO_TENANTS]
    print(f"Demo organisations: {', '.join(places)}")
    where = f" at {args.url}" if args.url else ""
    print(f"Demo sign-ins{where} (password: {settings.demo_password})")
    rows = [(s.slug, s.email, s.role, s.display_name) for s in demo_sign_ins()]
    _print_table(("organisation", "email", "role", "name"), rows)
    return 0


def _tenants_list(_args: argparse.Namespace) -> int:
    from pms_dashboard.people.service import tenant_summary
    from pms_dashboard.tenancy import directory
    from pms_dashboard.tenancy.session import owner_session

    rows = []
    for entry in directory.catalog():
        with owner_session(entry.tenant_id) as s:
            summary = tenant_summary(session=s, tenant_id=entry.tenant_id)
        rows.append(
            (
                entry.slug,
                summary.name if summary else "?",
                entry.tier,
                entry.region,
                entry.where,
                entry.revision or "-",
                str(summary.users if summary else 0),
            )
        )
    _print_table(
        ("slug", "name", "tier", "region", "placement", "revision", "users"), rows, right={6}
    )
    print(f"{len(rows)} tenants")
    return 0


def _tenants_create(args: argparse.Namespace) -> int:
    from pms_dashboard.tenancy.provision import create_tenant
    from pms_dashboard.tenancy.registry import TenantError

    try:
        created = create_tenant(
            slug=args.slug, name=args.name, tier=args.tier, region=args.region, url=args.url
        )
    except TenantError as err:
        return _fail(str(err))
    except IntegrityError:  # created concurrently between the check and the insert
        return _fail(f"a tenant with slug {args.slug.strip().lower()!r} already exists")
    p = created.placement
    print(f"created tenant {p.slug} ({p.tenant_id}): {p.describe()} in {created.seconds:.2f} s")
    return 0


def _tenants_move(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pms_dashboard.moves import MoveError, move_tenant
    from pms_dashboard.tenancy.registry import TenantError

    with Progress(
        TextColumn("[bold]moving {task.fields[slug]}"),
        TextColumn("{task.fields[step]:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:>10,} rows"),
        disable=args.no_progress,
    ) as bar:
        task = bar.add_task("move", total=None, slug=args.slug, step="", rows=0)

        def report(p: Any) -> None:
            bar.update(task, total=p.tables or None, completed=p.tables_done, step=p.step,
                       rows=p.rows)  # fmt: skip

        try:
            result = move_tenant(
                slug=args.slug,
                tier=args.tier,
                region=args.region,
                url=args.url,
                reason=args.reason,
                report=report,
            )
        except (MoveError, TenantError) as err:
            return _fail(str(err))
    print(
        f"moved {result.slug}: {result.source} -> {result.target}; {result.rows:,} rows,"
        f" writes frozen {result.freeze_seconds:.2f} s, {result.total_seconds:.1f} s in all"
    )
    return 0


def _tenants_placement(args: argparse.Namespace) -> int:
    import json

    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.registry import SLUG_RE

    slug = args.slug.strip().lower()
    found = placement.by_slug(slug) if SLUG_RE.fullmatch(slug) else None
    if found is None:
        return _fail(f"no tenant with slug {args.slug!r}")
    print(json.dumps(found.as_json(), indent=2))
    return 0


def _tenant_id(slug: str) -> Any:
    """The id of the tenant with `slug`, or None."""
    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.registry import SLUG_RE

    slug = slug.strip().lower()
    found = placement.by_slug(slug) if SLUG_RE.fullmatch(slug) else None
    return None if found is None else found.tenant_id


def _kms_token(args: argparse.Namespace) -> str | None:
    """The customer's credential: --token-file, else PMS_KMS_TOKEN (never an argument, so it
    stays out of shell histories and process lists)."""
    import os
    from pathlib import Path

    if args.token_file:
        return Path(args.token_file).read_text().strip() or None
    return os.environ.get("PMS_KMS_TOKEN", "").strip() or None


def _keys(args: argparse.Namespace) -> int:
    import json

    from pms_dashboard.errors import UserError
    from pms_dashboard.keys import rotation, service
    from pms_dashboard.tenancy.session import owner_session

    tenant_id = _tenant_id(args.tenant)
    if tenant_id is None:
        return _fail(f"no tenant with slug {args.tenant!r}")
    try:
        if args.command == "rotate":
            with owner_session(tenant_id) as s:
                step = rotation.begin_rotation(session=s, tenant_id=tenant_id)
            return _keys_batches(args, tenant_id, step)
        with owner_session(tenant_id) as s:
            if args.command == "use":
                first = service.key_status(session=s, tenant_id=tenant_id) is None
                choice = service.KeyChoice(args.provider, args.address or "", args.key or "",
                                           _kms_token(args), args.region or "")  # fmt: skip
                service.use_key(session=s, tenant_id=tenant_id, choice=choice)
                print(f"{args.tenant} now encrypts its free text with {args.provider}")
            elif args.command == "rewrap":
                n = service.rewrap(session=s, tenant_id=tenant_id)
                print(f"rewrapped {n} data key(s) of {args.tenant} with the key's newest version")
            else:
                status = service.key_status(session=s, tenant_id=tenant_id)
                shown = {"encrypted": status is not None} | (status.as_json() if status else {})
                print(json.dumps({"tenant": args.tenant} | shown, indent=2))
        if args.command == "use" and first:  # the text written before the opt-in, sealed
            with owner_session(tenant_id) as s:
                step = rotation.begin_sealing(session=s, tenant_id=tenant_id)
            return _keys_batches(args, tenant_id, step)
    except (UserError, OSError) as err:
        return _fail(str(err))
    return 0


def _keys_batches(args: argparse.Namespace, tenant_id: Any, step: Any) -> int:
    """Re-encrypt the tenant's rows batch by batch (each its own transaction: resumable),
    with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pms_dashboard.keys import rotation
    from pms_dashboard.tenancy.session import owner_session

    with Progress(
        TextColumn(f"[bold]re-encrypting with data key v{step.version}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=args.no_progress,
    ) as bar:
        task = bar.add_task("rows", total=step.total, completed=step.done)
        while not step.finished:  # one transaction per batch: resumable where it stopped
            with owner_session(tenant_id) as s:
                step = rotation.rotate_batch(session=s, tenant_id=tenant_id, batch=args.batch)
            bar.update(task, completed=step.done, total=max(step.total, step.done))
    print(f"{args.tenant}: {step.done} row(s) re-encrypted, data key v{step.version} current")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from pms_dashboard.audit.chain import verify, verify_every_placement, verify_platform
    from pms_dashboard.db.engine import owner_engine
    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.registry import SLUG_RE
    from pms_dashboard.tenancy.session import owner_session

    if args.tenant and args.platform:
        return _fail("check one tenant (--tenant) or the platform trail (--platform), not both")
    platform = None
    if not args.tenant:
        # the platform's own trail (console sign-ins, searches, reviews, exports, tenants
        # made and removed) in the home database: with the whole check, or alone
        with owner_engine().connect() as conn:
            platform = verify_platform(conn)
            conn.rollback()
        if args.platform:
            return _report_platform(platform)
    if args.tenant:  # that tenant's chain alone, at its placement
        slug = args.tenant.strip().lower()
        found = placement.by_slug(slug) if SLUG_RE.fullmatch(slug) else None
        if found is None:
            return _fail(f"no tenant with slug {args.tenant!r}")
        with owner_session(found.tenant_id) as s:
            result, places = verify(s.connection(), tenant_id=found.tenant_id), 1
    else:
        result, places = verify_every_placement()
    if result.ok:
        where = f" at {places} placements" if places > 1 else ""
        counted = f"{result.events:,} events in {result.tenants} tenants{where}"
        print(f"OK: {counted}, every chain intact")
    else:
        for broken in result.breaks:
            print(f"BROKEN {broken}")
        print(f"{len(result.breaks)} of {result.tenants} tenants' trails fail the check")
    platform_ok = platform is None or _report_platform(platform) == 0
    return 0 if result.ok and platform_ok else 1


def _report_platform(platform: PlatformVerification) -> int:
    if platform.ok:
        print(f"OK: {platform.events:,} platform events, the platform chain intact")
        return 0
    print(f"BROKEN {platform.broken}")
    print("the platform trail fails the check")
    return 1


def _secrets_rotate(_args: argparse.Namespace) -> int:
    from pms_dashboard import keyring
    from pms_dashboard.auth.tokens import session_lifetime

    lifetime = session_lifetime()
    try:
        before = {k.kid for k in keyring.signing_keys()}
        print(f"rotating the session-signing key in {keyring.describe_path()} ...")
        new = keyring.rotate(keep_retired_for=lifetime)
    except keyring.KeyringError as err:
        return _fail(str(err))
    after = {k.kid for k in keyring.signing_keys()}
    dropped = len(before - after)
    print(f"new signing key {new.kid} signs every new session from now on")
    print(
        f"the previous key still verifies the sessions it signed for {_hours(lifetime)}"
        " (running servers pick the change up at their next request)"
        + (f"; {dropped} expired key(s) removed" if dropped else "")
    )
    return 0


def _secrets_status(_args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from pms_dashboard import keyring
    from pms_dashboard.auth.tokens import session_lifetime

    try:
        keys = keyring.signing_keys()
    except keyring.KeyringError as err:
        return _fail(str(err))
    print(keyring.describe_mode())
    now, lifetime = datetime.now(UTC), session_lifetime()
    rows = []
    for k in keys:
        if k.retired_at is None:
            state = "current"
        elif now - k.retired_at < lifetime:
            state = f"retired {_hours(now - k.retired_at)} ago, still verifies"
        else:
            state = f"retired {_hours(now - k.retired_at)} ago, expired"
        age = "" if k.kid.startswith("env-") else _hours(now - k.created_at)
        rows.append((k.kid, age, state))
    _print_table(("kid", "age", "state"), rows)
    return 0


def _hours(span: timedelta) -> str:
    """A duration in whole hours (or minutes, under one), for the secrets commands."""
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"


def _console_admin_create(args: argparse.Namespace) -> int:
    import getpass

    from pms_dashboard.console.service import ConsoleError, create_admin
    from pms_dashboard.tenancy.session import owner_session

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    try:
        with owner_session() as s:
            new = create_admin(
                session=s, email=args.email, display_name=args.name, password=password
            )
    except ConsoleError as err:
        return _fail(str(err))
    print(f"created super-admin {new.email} ({new.id})")
    print("Enrol an authenticator app now; this secret is not shown again:")
    print(f"  secret: {new.totp_secret}")
    print(f"  uri:    {new.provisioning_uri}")
    return 0


def _print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int] | None = None
) -> None:
    """Plain aligned columns: readable in a terminal, easy to grep and cut."""
    right = right or set()
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in (header, *rows):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the README's command list)."""
    parser = argparse.ArgumentParser(
        prog="python -m pms_dashboard.cli",
        description="PMS dashboard administration: database, seeding, tenants, audit.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="command")
    _add_db_and_seed(groups)
    _add_tenants(groups)
    _add_audit_and_secrets(groups)
    _add_keys(groups)

    from pms_dashboard.exports import cli as export_cli

    export_cli.add_parser(groups)
    _add_console(groups)
    return parser


def _add_db_and_seed(groups: Any) -> None:
    db = groups.add_parser("db", help="database roles and migrations")
    db_cmds = db.add_subparsers(dest="command", required=True)
    upgrade = db_cmds.add_parser(
        "upgrade", help="bootstrap roles, migrate every target (catalog, pools, tenants) to head"
    )
    upgrade.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    upgrade.add_argument("--no-progress", action="store_true", help="no progress bar")
    upgrade.set_defaults(handler=_db_upgrade)
    db_cmds.add_parser(
        "status", help="every migration target and its revision (exit 1 if any is behind)"
    ).set_defaults(handler=_db_status)
    db_cmds.add_parser("url", help="print the owner URL (password hidden)").set_defaults(
        handler=_db_url
    )

    seed = groups.add_parser(
        "seed",
        help="seed demo or synthetic data",
        description="`seed demo` for the demo organisations; `seed --tenants N` for load data.",
    )
    seed.add_argument("what", nargs="?", choices=["demo"], help="the demo organisations")
    seed.add_argument("--tenants", type=int, help="synthetic tenants to create")
    seed.add_argument("--users-per-tenant", type=int, default=10)
    seed.add_argument("--goals-per-user", type=int, default=100)
    seed.add_argument("--key-results-per-goal", type=float, default=1.0)
    seed.add_argument("--check-ins-per-goal", type=float, default=0.5)
    seed.add_argument("--prefix", default="load", help="slug prefix (default: load)")
    seed.add_argument("--workers", type=int, help="parallel connections (default: CPUs, max 4)")
    seed.add_argument(
        "--tier", choices=["pool", "schema", "database"], default="pool",
        help="isolation tier of the synthetic tenants (default: pool)",
    )  # fmt: skip
    seed.add_argument("--region", help="a region of PMS_REGIONS (default: the home region)")
    seed.add_argument("--no-progress", action="store_true", help="no progress bar")
    seed.add_argument(
        "--encrypted", action="store_true", help="opt the tenants in to encrypted free text"
    )
    seed.set_defaults(handler=_seed)

    signins = groups.add_parser("demo-signins", help="list the demo accounts")
    signins.add_argument("--url", help="where the app runs, printed with the list")
    signins.set_defaults(handler=_demo_signins)


def _add_tenants(groups: Any) -> None:
    tenants = groups.add_parser("tenants", help="the tenant registry")
    tenant_cmds = tenants.add_subparsers(dest="command", required=True)
    tenant_cmds.add_parser("list", help="every tenant with its user count").set_defaults(
        handler=_tenants_list
    )
    create = tenant_cmds.add_parser("create", help="provision an organisation in a tier")
    create.add_argument("--slug", required=True, help="lower-case letters, digits, hyphens")
    create.add_argument("--name", required=True)
    create.add_argument("--tier", choices=["pool", "schema", "database"], default="pool")
    create.add_argument("--region", help="a region of PMS_REGIONS (default: the home region)")
    create.add_argument("--url", help="database tier: a dedicated cluster's owner URL")
    create.set_defaults(handler=_tenants_create)
    move = tenant_cmds.add_parser(
        "move", help="move an organisation online to another tier and/or region"
    )
    move.add_argument("--slug", required=True)
    move.add_argument("--tier", required=True, choices=["pool", "schema", "database"])
    move.add_argument("--region", help="a region of PMS_REGIONS (default: where it is)")
    move.add_argument("--url", help="database tier: a dedicated cluster's owner URL")
    move.add_argument("--reason", required=True, help="why (recorded in both audit trails)")
    move.add_argument("--no-progress", action="store_true", help="no progress bar")
    move.set_defaults(handler=_tenants_move)
    where = tenant_cmds.add_parser("placement", help="where a tenant lives, as JSON")
    where.add_argument("--slug", required=True)
    where.set_defaults(handler=_tenants_placement)


def _add_keys(groups: Any) -> None:
    keys = groups.add_parser("keys", help="customer-managed encryption keys of a tenant")
    cmds = keys.add_subparsers(dest="command", required=True)
    use = cmds.add_parser("use", help="opt in, or switch provider or key (rewraps the data key)")
    use.add_argument("--provider", required=True, choices=["platform", "openbao", "aws-kms"])
    use.add_argument("--address", help="the KMS URL (OpenBao: https://host:8200)")
    use.add_argument("--key", help="the key's name (OpenBao transit key, AWS key id or alias)")
    use.add_argument("--token-file", help="a file holding the token (else PMS_KMS_TOKEN)")
    use.add_argument("--region", help="aws-kms: the AWS region")
    cmds.add_parser("status", help="provider, key and data-key versions, as JSON")
    cmds.add_parser("rewrap", help="after the customer rotated their key: wrap again")
    rotate = cmds.add_parser("rotate", help="a new data key; re-encrypt the rows (resumable)")
    for cmd in (use, rotate):  # (the first `use` seals the text written before the opt-in)
        cmd.add_argument("--batch", type=int, default=500, help="rows per transaction")
        cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    for cmd in cmds.choices.values():
        cmd.add_argument("--tenant", required=True, help="the tenant's slug")
        cmd.set_defaults(handler=_keys)


def _add_audit_and_secrets(groups: Any) -> None:
    audit = groups.add_parser("audit", help="the tamper-evident audit trail")
    audit_cmds = audit.add_subparsers(dest="command", required=True)
    check = audit_cmds.add_parser(
        "verify",
        help="check every tenant's hash chain and the platform's (exit 1 and name the first"
        " bad row)",
    )
    check.add_argument("--tenant", help="only this tenant's chain (slug)")
    check.add_argument("--platform", action="store_true", help="only the platform's chain")
    check.set_defaults(handler=_audit_verify)

    secrets_group = groups.add_parser("secrets", help="session-signing keys (key rotation)")
    secrets_cmds = secrets_group.add_subparsers(dest="command", required=True)
    secrets_cmds.add_parser(
        "rotate",
        help="new signing key; sessions signed with the old one stay valid until they expire",
    ).set_defaults(handler=_secrets_rotate)
    secrets_cmds.add_parser(
        "status", help="where the secrets come from; signing key ids and ages"
    ).set_defaults(handler=_secrets_status)


def _add_console(groups: Any) -> None:
    console = groups.add_parser("console", help="platform super-admins (members of no tenant)")
    console_cmds = console.add_subparsers(dest="command", required=True)
    admin = console_cmds.add_parser(
        "create-admin", help="register a super-admin; prints the TOTP secret once"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    admin.set_defaults(handler=_console_admin_create)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
