"""The tenant admin's side of customer-managed keys (the "Encryption" page): the same
operations as `keys.service`, each refused unless the actor may edit their own
organisation's settings, in a session of that organisation."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pms_dashboard.keys import service as keys
from pms_dashboard.organisation.service import require_settings_editor
from pms_dashboard.tenancy.context import TenantContext

_ONLY_ADMINS = "Only tenant admins can manage the organisation's encryption key."


def _admin(session: Session, actor: TenantContext) -> None:
    require_settings_editor(session=session, actor=actor, message=_ONLY_ADMINS)


def encryption_status(*, session: Session, actor: TenantContext) -> keys.KeyStatus | None:
    """Provider, address, key, data-key versions, last successful unwrap, cache lifetime
    (None: the organisation keeps plain text). Never a key or the credential."""
    _admin(session, actor)
    return keys.key_status(session=session, tenant_id=actor.tenant_id)


def use_key(*, session: Session, actor: TenantContext, choice: keys.KeyChoice) -> keys.KeyStatus:
    """Opt in, or switch provider or key (the data keys are rewrapped; rows stay). The text
    written before a first opt-in is sealed by `cli keys use` / `cli keys rotate` (as the
    owner: the app role may not rewrite history tables such as calibration changes)."""
    _admin(session, actor)
    return keys.use_key(
        session=session, tenant_id=actor.tenant_id, choice=choice, actor_id=actor.user_id
    )


def test_key(*, session: Session, actor: TenantContext) -> bool:
    """The "Test the key" button: a fresh unwrap (audited); whether it worked."""
    _admin(session, actor)
    return keys.test_key(session=session, tenant_id=actor.tenant_id)


def key_log(*, session: Session, actor: TenantContext, limit: int = 50) -> list[keys.KeyUse]:
    """The key-use log: the newest unwrap attempts, newest first."""
    _admin(session, actor)
    return keys.key_log(session=session, tenant_id=actor.tenant_id, limit=limit)
