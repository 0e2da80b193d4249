"""session hardening: why a session ended, and sign-in throttling

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00

- `auth_session.revoked_reason`: sign_out, sign_out_everywhere, idle, rotated, deactivated
  (NULL on rows revoked before this revision). `last_seen_at` already exists; the idle
  timeout is measured from it.
- `signin_attempt`: a platform table (no tenant_id) of recent sign-in attempts, keyed by a
  sha256 of the tenant slug and email and by client address. Neither runtime role may touch
  it: `app.signin_attempt_begin` (check the limits and reserve an attempt, atomically per
  account and per address across every app process) and `app.signin_attempt_end` (settle
  the reserved attempt) are SECURITY DEFINER with a pinned search_path, EXECUTE granted to
  pms_app (tenant sign-in) and pms_auditor (console sign-in). `begin` also prunes, a bounded
  batch at a time, attempts older than a day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEGIN_FUNCTION, END_FUNCTION = "app.signin_attempt_begin", "app.signin_attempt_end"
BEGIN_SIGNATURE = f"{BEGIN_FUNCTION}(text, text, integer, integer, integer)"
END_SIGNATURE = f"{END_FUNCTION}(bigint, boolean)"
REVOKE_REASONS = "'sign_out', 'sign_out_everywhere', 'idle', 'rotated', 'deactivated'"


def upgrade() -> None:
    op.add_column(
        "auth_session",
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_auth_session_revoked_reason_valid"),
        "auth_session",
        f"revoked_reason IN ({REVOKE_REASONS})",
    )
    op.create_check_constraint(
        op.f("ck_auth_session_reason_only_when_revoked"),
        "auth_session",
        "revoked_reason IS NULL OR revoked_at IS NOT NULL",
    )
    op.create_table(
        "signin_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("account_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('pending', 'success', 'failure', 'throttled')",
            name=op.f("ck_signin_attempt_outcome_valid"),
        ),
        sa.CheckConstraint(
            "account_key ~ '^[0-9a-f]{64}$'", name=op.f("ck_signin_attempt_account_key_sha256")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_attempt")),
    )
    op.create_index(
        op.f("ix_signin_attempt_account_key_attempted_at"),
        "signin_attempt",
        ["account_key", "attempted_at"],
    )
    op.create_index(
        op.f("ix_signin_attempt_ip_attempted_at"), "signin_attempt", ["ip", "attempted_at"]
    )
    op.create_index(op.f("ix_signin_attempt_attempted_at"), "signin_attempt", ["attempted_at"])
    _throttle_functions_upgrade()


# Advisory-lock class ids (two-int form, so they never meet the one-bigint locks used
# elsewhere): one queue per account key, one per address.
ACCOUNT_LOCK, ADDRESS_LOCK = 90901, 90902


def _throttle_functions_upgrade() -> None:
    """The only way in or out of `signin_attempt`.

    `begin` serialises check-and-reserve per account and per address (advisory locks, always
    taken account first, so two callers never wait on each other crosswise), so a burst of
    parallel attempts from many processes still gets at most the limit through: a reserved
    attempt counts as a failure until `end` settles it (and for the whole window if the
    process dies in between: fail closed).

    Counting, within the window: failures and in-flight attempts of the account since its
    last success (a success ends the account's lockout), and of the address regardless of
    successes (one known password must not reset the counter of an address that sprays
    others). Throttled refusals are recorded but never counted, so hammering a locked
    account does not extend its lockout. `retry_after` is when the oldest counted attempt
    that keeps the count at the limit leaves the window. `first_refusal` is false when the
    same account (or address) was already refused within the last minute, so the caller
    audits a lockout without letting a flood of refused requests flood the audit trail.
    """
    op.execute(
        f"""
        CREATE FUNCTION {BEGIN_FUNCTION}(
            p_account_key text, p_address text, p_window_seconds integer,
            p_max_account integer, p_max_address integer)
        RETURNS TABLE (attempt_id bigint, retry_after integer, scope text,
                       first_refusal boolean)
            LANGUAGE plpgsql VOLATILE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        DECLARE
            v_since timestamptz;
            v_reset timestamptz;
            v_account_until timestamptz;
            v_address_until timestamptz;
        BEGIN
            IF p_account_key IS NOT NULL AND p_account_key !~ '^[0-9a-f]{{64}}$' THEN
                RAISE EXCEPTION 'account key must be a sha256 in hex' USING ERRCODE = '22023';
            END IF;
            IF p_window_seconds IS NULL OR p_window_seconds NOT BETWEEN 1 AND 86400 THEN
                RAISE EXCEPTION 'window must be 1 s to 1 day' USING ERRCODE = '22023';
            END IF;
            p_address := left(coalesce(p_address, ''), 64);
            v_since := now() - make_interval(secs => p_window_seconds);
            IF p_account_key IS NOT NULL THEN
                PERFORM pg_advisory_xact_lock({ACCOUNT_LOCK}, hashtext(p_account_key));
            END IF;
            PERFORM pg_advisory_xact_lock({ADDRESS_LOCK}, hashtext(p_address));

            IF p_account_key IS NOT NULL AND coalesce(p_max_account, 0) > 0 THEN
                SELECT max(a.attempted_at) INTO v_reset FROM public.signin_attempt AS a
                 WHERE a.account_key = p_account_key AND a.outcome = 'success'
                   AND a.attempted_at >= v_since;
                SELECT a.attempted_at + make_interval(secs => p_window_seconds)
                  INTO v_account_until
                  FROM public.signin_attempt AS a
                 WHERE a.account_key = p_account_key AND a.outcome IN ('pending', 'failure')
                   AND a.attempted_at >= v_since
                   AND a.attempted_at > coalesce(v_reset, '-infinity'::timestamptz)
                 ORDER BY a.attempted_at DESC
                OFFSET p_max_account - 1 LIMIT 1;
            END IF;
            IF coalesce(p_max_address, 0) > 0 THEN
                SELECT a.attempted_at + make_interval(secs => p_window_seconds)
                  INTO v_address_until
                  FROM public.signin_attempt AS a
                 WHERE a.ip = p_address AND a.outcome IN ('pending', 'failure')
                   AND a.attempted_at >= v_since
                 ORDER BY a.attempted_at DESC
                OFFSET p_max_address - 1 LIMIT 1;
            END IF;

            IF v_account_until IS NULL AND v_address_until IS NULL THEN
                INSERT INTO public.signin_attempt (account_key, ip, outcome)
                VALUES (p_account_key, p_address, 'pending')
                RETURNING id INTO attempt_id;
                retry_after := 0;
                scope := '';
                first_refusal := false;
            ELSE
                attempt_id := NULL;
                retry_after := greatest(1, ceil(extract(epoch FROM
                    greatest(v_account_until, v_address_until) - now())))::integer;
                scope := concat_ws(',',
                    CASE WHEN v_account_until IS NOT NULL THEN 'account' END,
                    CASE WHEN v_address_until IS NOT NULL THEN 'address' END);
                first_refusal := (v_account_until IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.signin_attempt AS a
                         WHERE a.account_key = p_account_key AND a.outcome = 'throttled'
                           AND a.attempted_at > now() - interval '1 minute'))
                    OR (v_address_until IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.signin_attempt AS a
                         WHERE a.ip = p_address AND a.outcome = 'throttled'
                           AND a.attempted_at > now() - interval '1 minute'));
                INSERT INTO public.signin_attempt (account_key, ip, outcome)
                VALUES (p_account_key, p_address, 'throttled');
            END IF;

            -- Prune: each call removes up to 100 attempts older than a day (more than it
            -- adds, so the table stays bounded); SKIP LOCKED keeps callers from queueing.
            DELETE FROM public.signin_attempt
             WHERE id IN (SELECT o.id FROM public.signin_attempt AS o
                           WHERE o.attempted_at < now() - interval '1 day'
                           ORDER BY o.attempted_at LIMIT 100
                           FOR UPDATE SKIP LOCKED);
            RETURN NEXT;
        END
        $$;
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION {END_FUNCTION}(
            p_attempt_id bigint, p_success boolean) RETURNS boolean
            LANGUAGE sql VOLATILE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
            WITH settled AS (
                UPDATE public.signin_attempt
                   SET outcome = CASE WHEN p_success THEN 'success' ELSE 'failure' END
                 WHERE id = p_attempt_id AND outcome = 'pending'
                RETURNING 1)
            SELECT EXISTS (SELECT 1 FROM settled)
            $$;
        """
    )
    for signature in (BEGIN_SIGNATURE, END_SIGNATURE):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO pms_app, pms_auditor")
    op.execute("REVOKE ALL ON signin_attempt FROM pms_app, pms_auditor")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {END_SIGNATURE}")
    op.execute(f"DROP FUNCTION IF EXISTS {BEGIN_SIGNATURE}")
    op.drop_index(op.f("ix_signin_attempt_attempted_at"), table_name="signin_attempt")
    op.drop_index(op.f("ix_signin_attempt_ip_attempted_at"), table_name="signin_attempt")
    op.drop_index(op.f("ix_signin_attempt_account_key_attempted_at"), table_name="signin_attempt")
    op.drop_table("signin_attempt")
    op.drop_constraint(
        op.f("ck_auth_session_reason_only_when_revoked"), "auth_session", type_="check"
    )
    op.drop_constraint(op.f("ck_auth_session_revoked_reason_valid"), "auth_session", type_="check")
    op.drop_column("auth_session", "revoked_reason")
