"""sign-in throttling per account and address pair, with growing delays

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:00:00

Six wrong passwords used to lock an account for everyone, so anyone who knew an email could
keep its owner out ("lockout as a weapon"). Now the throttle slows the attacker's own
(account, address) pair with growing delays, keeps the per-address limit against password
spraying, and keeps only a high hard limit per account (logged and audited when reached),
so the owner, signing in from an address without failures, gets in during an attack.

- `signin_attempt.scope`: which limits refused a throttled attempt ("account", "address",
  "pair", comma separated), so the first refusal of each limit is noticed (and audited)
  even while another limit keeps refusing.
- index `(account_key, ip, attempted_at)` for the pair's count.
- `app.signin_attempt_begin` takes the pair's settings (a new signature, so the old one is
  dropped); `app.signin_attempt_end` is unchanged. The downgrade restores 0009's functions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEGIN_FUNCTION = "app.signin_attempt_begin"
OLD_BEGIN_SIGNATURE = f"{BEGIN_FUNCTION}(text, text, integer, integer, integer)"
BEGIN_SIGNATURE = (
    f"{BEGIN_FUNCTION}(text, text, integer, integer, integer, integer, double precision, integer)"
)
END_SIGNATURE = "app.signin_attempt_end(bigint, boolean)"
PAIR_INDEX = "ix_signin_attempt_account_key_ip_attempted_at"
SCOPE_CHECK = "ck_signin_attempt_scope_only_when_throttled"
# The same advisory-lock classes as 0009 (one queue per account key, one per address), so
# attempts running the old and the new function during a rolling deploy still queue together.
ACCOUNT_LOCK, ADDRESS_LOCK = 90901, 90902


def upgrade() -> None:
    op.add_column(
        "signin_attempt",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    )
    op.create_check_constraint(
        op.f(SCOPE_CHECK), "signin_attempt", "scope IS NULL OR outcome = 'throttled'"
    )
    op.create_index(op.f(PAIR_INDEX), "signin_attempt", ["account_key", "ip", "attempted_at"])
    op.execute(f"DROP FUNCTION {OLD_BEGIN_SIGNATURE}")
    _begin_function()
    op.execute(f"REVOKE ALL ON FUNCTION {BEGIN_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {BEGIN_SIGNATURE} TO pms_app, pms_auditor")


def _begin_function() -> None:
    """Check the limits and reserve the attempt, atomically per account and per address.

    Within the window, counting failures and in-flight (pending) attempts, never refusals
    (hammering a throttled pair or account does not extend its wait):

    * pair (account and address): after `p_pair_free` failures since the pair's last
      success, each further attempt waits `p_pair_delay_seconds * 2^(n - p_pair_free)`
      after the pair's latest failure (n: the failures counted), at most
      `p_pair_max_delay_seconds`. A success from the pair clears its failures;
    * address (across accounts): `p_max_address` failures refuse it until the oldest
      counted one leaves the window; successes do not reset it (password spraying);
    * account (across addresses): the hard limit, `p_max_account` failures refuse every
      address until the oldest counted one leaves the window; successes do not reset it
      (it is the backstop against attacks from many addresses).

    A limit of 0 is off. `scope` names the refusing limits; `first_refusal` is true when
    one of them had not refused this account / address / pair within the last minute, so
    the caller audits and logs a lockout without a flood of refusals flooding the trail.
    """
    op.execute(
        f"""
        CREATE FUNCTION {BEGIN_FUNCTION}(
            p_account_key text, p_address text, p_window_seconds integer,
            p_max_account integer, p_max_address integer,
            p_pair_free integer, p_pair_delay_seconds double precision,
            p_pair_max_delay_seconds integer)
        RETURNS TABLE (attempt_id bigint, retry_after integer, scope text,
                       first_refusal boolean)
            LANGUAGE plpgsql VOLATILE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        DECLARE
            v_since timestamptz;
            v_pair_reset timestamptz;
            v_pair_count integer;
            v_pair_last timestamptz;
            v_pair_until timestamptz;
            v_account_until timestamptz;
            v_address_until timestamptz;
        BEGIN
            IF p_account_key IS NOT NULL AND p_account_key !~ '^[0-9a-f]{{64}}$' THEN
                RAISE EXCEPTION 'account key must be a sha256 in hex' USING ERRCODE = '22023';
            END IF;
            IF p_window_seconds IS NULL OR p_window_seconds NOT BETWEEN 1 AND 86400 THEN
                RAISE EXCEPTION 'window must be 1 s to 1 day' USING ERRCODE = '22023';
            END IF;
            IF coalesce(p_pair_free, 0) > 0 AND (
                    p_pair_delay_seconds IS NULL
                    OR NOT (p_pair_delay_seconds > 0 AND p_pair_delay_seconds <= 86400)
                    OR p_pair_max_delay_seconds IS NULL
                    OR p_pair_max_delay_seconds NOT BETWEEN 1 AND 86400) THEN
                RAISE EXCEPTION 'pair delays must be above 0 and at most 1 day'
                    USING ERRCODE = '22023';
            END IF;
            p_address := left(coalesce(p_address, ''), 64);
            v_since := now() - make_interval(secs => p_window_seconds);
            IF p_account_key IS NOT NULL THEN
                PERFORM pg_advisory_xact_lock({ACCOUNT_LOCK}, hashtext(p_account_key));
            END IF;
            PERFORM pg_advisory_xact_lock({ADDRESS_LOCK}, hashtext(p_address));

            IF p_account_key IS NOT NULL AND coalesce(p_pair_free, 0) > 0 THEN
                SELECT max(a.attempted_at) INTO v_pair_reset FROM public.signin_attempt AS a
                 WHERE a.account_key = p_account_key AND a.ip = p_address
                   AND a.outcome = 'success' AND a.attempted_at >= v_since;
                SELECT count(*), max(a.attempted_at) INTO v_pair_count, v_pair_last
                  FROM public.signin_attempt AS a
                 WHERE a.account_key = p_account_key AND a.ip = p_address
                   AND a.outcome IN ('pending', 'failure')
                   AND a.attempted_at >= v_since
                   AND a.attempted_at > coalesce(v_pair_reset, '-infinity'::timestamptz);
                IF v_pair_count >= p_pair_free THEN
                    v_pair_until := v_pair_last + make_interval(secs => least(
                        p_pair_max_delay_seconds::double precision,
                        p_pair_delay_seconds * power(2, least(v_pair_count - p_pair_free, 40))));
                    IF v_pair_until <= now() THEN
                        v_pair_until := NULL;
                    END IF;
                END IF;
            END IF;
            IF p_account_key IS NOT NULL AND coalesce(p_max_account, 0) > 0 THEN
                SELECT a.attempted_at + make_interval(secs => p_window_seconds)
                  INTO v_account_until
                  FROM public.signin_attempt AS a
                 WHERE a.account_key = p_account_key AND a.outcome IN ('pending', 'failure')
                   AND a.attempted_at >= v_since
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

            IF v_account_until IS NULL AND v_address_until IS NULL AND v_pair_until IS NULL THEN
                INSERT INTO public.signin_attempt (account_key, ip, outcome)
                VALUES (p_account_key, p_address, 'pending')
                RETURNING id INTO attempt_id;
                retry_after := 0;
                scope := '';
                first_refusal := false;
            ELSE
                attempt_id := NULL;
                retry_after := greatest(1, ceil(extract(epoch FROM
                    greatest(v_account_until, v_address_until, v_pair_until) - now())))::integer;
                scope := concat_ws(',',
                    CASE WHEN v_account_until IS NOT NULL THEN 'account' END,
                    CASE WHEN v_address_until IS NOT NULL THEN 'address' END,
                    CASE WHEN v_pair_until IS NOT NULL THEN 'pair' END);
                first_refusal := (v_account_until IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.signin_attempt AS a
                         WHERE a.account_key = p_account_key AND a.outcome = 'throttled'
                           AND 'account' = ANY (string_to_array(a.scope, ','))
                           AND a.attempted_at > now() - interval '1 minute'))
                    OR (v_address_until IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.signin_attempt AS a
                         WHERE a.ip = p_address AND a.outcome = 'throttled'
                           AND 'address' = ANY (string_to_array(a.scope, ','))
                           AND a.attempted_at > now() - interval '1 minute'))
                    OR (v_pair_until IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM public.signin_attempt AS a
                         WHERE a.account_key = p_account_key AND a.ip = p_address
                           AND a.outcome = 'throttled'
                           AND 'pair' = ANY (string_to_array(a.scope, ','))
                           AND a.attempted_at > now() - interval '1 minute'));
                INSERT INTO public.signin_attempt (account_key, ip, outcome, scope)
                VALUES (p_account_key, p_address, 'throttled', scope);
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


def downgrade() -> None:
    """Back to 0009: one lockout per account for everyone (its functions, recreated by its
    own migration code so they are exactly what 0009 made)."""
    op.execute(f"DROP FUNCTION IF EXISTS {BEGIN_SIGNATURE}")
    op.execute(f"DROP FUNCTION IF EXISTS {END_SIGNATURE}")
    script = op.get_context().script
    assert script is not None, "the downgrade runs through Alembic's script directory"
    script.get_revision("0009").module._throttle_functions_upgrade()
    op.drop_index(op.f(PAIR_INDEX), table_name="signin_attempt")
    op.drop_constraint(op.f(SCOPE_CHECK), "signin_attempt", type_="check")
    op.drop_column("signin_attempt", "scope")
