"""Reviews: templates, cycles, peer nominations, writing reviews, results and calibration.

One module per part (`templates`, `cycles`, `peers`, `writing`, `results`, `calibration`,
and `reporting` for exports); `status` owns every status change of a cycle, a review and
a reviewee's outcome; `common` holds what they all share. (`service` only lists the
services under one name for two UI states, until they import the modules.)

Every service takes the caller's tenant session and the actor (`TenantContext`), checks
permission itself (never in the page), validates input into a `ReviewError` with a message
safe to show, writes an audit event in the same transaction, and never commits.

Refusals are deliberately uniform: every id a caller names is resolved first, before any
permission check (`auth.resolve`): one that is malformed, unknown or another tenant's is
refused as not found in this organisation, whoever asks; one of the tenant's that is not
the actor's to touch raises `PermissionDenied`. State problems the actor can see anyway
("already launched") are `ReviewError`s. Permission is always checked before state, so a
refusal reveals nothing about the state.

Audit details keep the before/after of every changed field; for free text (summaries,
comments) they keep the length instead of the words: the audit trail is append-only and
must not become a second, unerasable copy of what people wrote about each other.
"""
