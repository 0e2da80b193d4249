"""An uploaded logo: only PNG, JPEG, GIF and WebP by their real content, bounded in bytes
and pixels, re-encoded so only pixels are stored; tenant admins only, audited; served by
its route to the organisation's own people with safe headers, one 404 for everything else;
kept in the tenant's own rows under row-level security at its placement."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.organisation.image import MAX_UPLOAD_BYTES, NOT_AN_IMAGE, TOO_BIG
from pms_dashboard.organisation.routes import routes
from pms_dashboard.organisation.schemas import CustomizationError
from pms_dashboard.organisation.service import (
    NO_UPLOAD,
    TYPED_UPLOAD_ADDRESS,
    get_customization,
    remove_logo,
    update_tenant_settings,
    upload_logo,
)
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TEST_PASSWORD, TenantFixture, ctx

MakeTenant = Callable[..., TenantFixture]


def image_bytes(
    fmt: str, size: tuple[int, int] = (40, 20), mode: str = "RGB", **save: Any
) -> bytes:
    """A small image in `fmt`: a red left half and a blue right half."""
    im = Image.new("RGBA" if mode == "RGBA" else "RGB", size, "blue")
    im.paste(Image.new(im.mode, (size[0] // 2, size[1]), "red"), (0, 0))
    im = im if mode == im.mode else im.convert(mode)
    out = io.BytesIO()
    im.save(out, format=fmt, **save)
    return out.getvalue()


def upload_as(t: TenantFixture, data: bytes, who: str = "admin") -> Any:
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return upload_logo(session=s, actor=actor, data=data)


def stored(t: TenantFixture) -> list[tuple[str, bytes, int, int, str]]:
    """The tenant's logo rows as really stored at its placement (the owner, setup only)."""
    with owner_session(t.id) as s:
        rows = s.execute(
            text("SELECT content_type, data, width, height, version FROM tenant_logo"
                 " WHERE tenant_id = :t"), {"t": t.id},
        ).all()  # fmt: skip
    return [(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows]


def logo_url(t: TenantFixture) -> str:
    with tenant_session(ctx(t, "emp1")) as s:
        return get_customization(session=s).logo_url


def audit_of(t: TenantFixture, action: str) -> list[dict[str, Any]]:
    with owner_session(t.id) as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == t.id, AuditEvent.action == action)
            .order_by(AuditEvent.occurred_at)
        )
        return [{"actor": e.actor_id, **(e.detail or {})} for e in events]


# ------------------------------------------------------------------- what is accepted


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGBA"), ("JPEG", "RGB"), ("GIF", "P"), ("WEBP", "RGB")]
)
def test_each_accepted_type_is_stored_as_a_fresh_png_and_shown_to_everyone(
    make_tenant: MakeTenant, fmt: str, mode: str
) -> None:
    t = make_tenant()
    settings = upload_as(t, image_bytes(fmt, mode=mode))
    [(kind, data, width, height, version)] = stored(t)
    assert (kind, width, height) == ("image/png", 40, 20)
    with Image.open(io.BytesIO(data)) as back:
        assert back.format == "PNG" and back.size == (40, 20)
        left, right = back.convert("RGB").getpixel((2, 10)), back.convert("RGB").getpixel((38, 10))
    assert left[0] > 200 > left[2] and right[2] > 200 > right[0]  # the pixels came through
    address = f"/api/logo/{t.slug}?v={version}"
    assert settings.customization.logo_url == address and settings.customization.uploaded_logo
    assert logo_url(t) == address  # every page of the tenant shows it


# ------------------------------------------------------------------- what is refused

SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"just some text, named logo.png by its sender\n", NOT_AN_IMAGE),
        (SVG, NOT_AN_IMAGE),
        (b"<html><script>alert(1)</script></html>", NOT_AN_IMAGE),
        (b"", "Choose an image file"),
        (image_bytes("PNG")[:60], "could not be read"),  # cut short
        (image_bytes("PNG") + b"\0" * MAX_UPLOAD_BYTES, TOO_BIG),  # over 512 KB
        (image_bytes("PNG", (1025, 4)), "1025 × 4 pixels: it may be at most 1024 × 1024"),
        (image_bytes("GIF", (8, 2000)), "8 × 2000 pixels"),
        (image_bytes("BMP"), NOT_AN_IMAGE),  # an image, not one of the four
        (image_bytes("TIFF"), NOT_AN_IMAGE),
    ],
    ids=["text-named-png", "svg", "html", "empty", "truncated", "oversize", "too-wide",
         "too-tall", "bmp", "tiff"],
)  # fmt: skip
def test_a_refused_file_says_why_beside_the_upload_and_changes_nothing(
    make_tenant: MakeTenant, data: bytes, said: str
) -> None:
    t = make_tenant()
    first = upload_as(t, image_bytes("PNG"))  # a logo already there stays as it is
    before = stored(t)
    with pytest.raises(CustomizationError) as refused:
        upload_as(t, data)
    assert said in str(refused.value) and refused.value.field == "logo"
    assert stored(t) == before
    assert logo_url(t) == first.customization.logo_url
    assert len(audit_of(t, "organisation.logo_uploaded")) == 1


def test_the_size_limit_is_exactly_512_kb(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    png = image_bytes("PNG")
    with pytest.raises(CustomizationError, match="larger than 512 KB"):
        upload_as(t, png + b"\0" * (MAX_UPLOAD_BYTES + 1 - len(png)))
    upload_as(t, png + b"\0" * (MAX_UPLOAD_BYTES - len(png)))  # trailing bytes are dropped
    assert len(stored(t)) == 1


def test_a_polyglot_is_re_encoded_to_its_pixels_only(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "<script>alert('in a chunk')</script>")
    exif = Image.Exif()
    exif[0x010E] = "<script>alert('in exif')</script>"  # ImageDescription
    png = image_bytes("PNG", pnginfo=meta, exif=exif)
    payload = png + b"<html><body><script>alert('after the end')</script></body></html>"
    with Image.open(io.BytesIO(payload)) as sent:
        assert sent.format == "PNG"  # a valid image, and an HTML page after it
    upload_as(t, payload)
    [(_kind, data, *_rest)] = stored(t)
    assert b"script" not in data and b"alert" not in data
    assert b"tEXt" not in data and b"eXIf" not in data and b"iTXt" not in data
    assert data.endswith(b"IEND\xaeB`\x82")  # nothing after the image's end
    with Image.open(io.BytesIO(data)) as back, Image.open(io.BytesIO(png)) as original:
        assert not back.info.get("Comment") and not back.getexif()
        assert back.convert("RGB").tobytes() == original.convert("RGB").tobytes()


@pytest.mark.parametrize("who", ["manager", "emp1"])
def test_only_tenant_admins_upload_or_remove(make_tenant: MakeTenant, who: str) -> None:
    t = make_tenant()
    upload_as(t, image_bytes("PNG"))
    before, address = stored(t), logo_url(t)
    with pytest.raises(PermissionDenied, match="Only tenant admins"):
        upload_as(t, image_bytes("JPEG"), who=who)
    actor = ctx(t, who)
    with pytest.raises(PermissionDenied), tenant_session(actor) as s:
        remove_logo(session=s, actor=actor)
    assert stored(t) == before and logo_url(t) == address


def test_an_admin_of_another_tenant_cannot_upload_into_this_one(make_tenant: MakeTenant) -> None:
    a, b = make_tenant(), make_tenant()
    with pytest.raises(PermissionDenied), tenant_session(ctx(a, "admin")) as s:
        upload_logo(session=s, actor=ctx(b, "admin"), data=image_bytes("PNG"))
    assert stored(a) == stored(b) == []


# ------------------------------------------------------------ replace, remove, audit


def test_upload_replace_and_remove_are_audited(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    first = upload_as(t, image_bytes("PNG"))
    second = upload_as(t, image_bytes("PNG", (30, 30)))
    assert first.customization.logo_url != second.customization.logo_url  # a new address
    assert len(stored(t)) == 1
    v1 = first.customization.logo_url.split("v=")[1]
    v2 = second.customization.logo_url.split("v=")[1]
    uploads = audit_of(t, "organisation.logo_uploaded")
    assert [(u["version"], u["replaced"], u["width"]) for u in uploads] == [
        (v1, None, 40),
        (v2, v1, 30),
    ]
    assert {u["actor"] for u in uploads} == {t.user_id("admin")}
    actor = ctx(t, "admin")
    with tenant_session(actor) as s:
        removed = remove_logo(session=s, actor=actor)
    assert removed.customization.logo_url == "" and logo_url(t) == "" and stored(t) == []
    assert [e["version"] for e in audit_of(t, "organisation.logo_removed")] == [v2]
    with pytest.raises(CustomizationError, match=NO_UPLOAD), tenant_session(actor) as s:
        remove_logo(session=s, actor=actor)


def test_a_typed_address_replaces_the_upload_and_the_upload_address_cannot_be_typed(
    make_tenant: MakeTenant,
) -> None:
    t = make_tenant()
    other = make_tenant()
    upload_as(other, image_bytes("PNG"))
    actor = ctx(t, "admin")
    with pytest.raises(CustomizationError) as refused, tenant_session(actor) as s:
        update_tenant_settings(
            session=s,
            actor=actor,
            changes={"logo_url": logo_url(other)},  # another's logo
        )
    assert str(refused.value) == TYPED_UPLOAD_ADDRESS and refused.value.field == "logo_url"
    address = upload_as(t, image_bytes("PNG")).customization.logo_url
    with tenant_session(actor) as s:  # saving the form unchanged keeps the upload
        update_tenant_settings(session=s, actor=actor, changes={"logo_url": address})
    assert logo_url(t) == address and len(stored(t)) == 1
    with tenant_session(actor) as s:
        update_tenant_settings(session=s, actor=actor, changes={"logo_url": "/logo.svg"})
    assert logo_url(t) == "/logo.svg" and stored(t) == []
    assert [e.get("replaced_by") for e in audit_of(t, "organisation.logo_removed")] == ["address"]


# --------------------------------------------------------------------------- the route


def client(t: TenantFixture | None = None, who: str = "admin") -> TestClient:
    c = TestClient(Starlette(routes=routes), base_url="http://localhost:3000")
    if t is not None:
        email = f"{who}@{t.slug}.test"
        signed = auth_routes.sign_in_with_password(slug=t.slug, email=email, password=TEST_PASSWORD)
        c.cookies.set(SESSION_COOKIE, signed.token)
    return c


def test_the_route_serves_the_stored_bytes_with_safe_headers(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    address = upload_as(t, image_bytes("JPEG")).customization.logo_url
    [(_kind, data, _w, _h, version)] = stored(t)
    answer = client(t, "emp1").get(address)  # anyone of the organisation
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "default-src 'none'"
    assert answer.headers["etag"] == f'"{version}"'
    assert answer.headers["cache-control"] == "private, max-age=31536000, immutable"
    # an old or missing version: the same bytes, checked again every time
    stale = client(t, "emp1").get(f"/api/logo/{t.slug}?v=old")
    assert stale.content == data and stale.headers["cache-control"] == "private, no-cache"
    again = client(t).get(address, headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 304 and again.content == b""
    # a new upload is a new address and new bytes at once
    newer = upload_as(t, image_bytes("PNG", (10, 10))).customization.logo_url
    assert newer != address
    assert client(t).get(newer).content == stored(t)[0][1] != data


def test_one_404_for_no_session_unknown_tenant_no_logo_and_another_tenants_logo(
    make_tenant: MakeTenant,
) -> None:
    a, b, bare = make_tenant(), make_tenant(), make_tenant()
    upload_as(a, image_bytes("PNG"))
    b_address = upload_as(b, image_bytes("GIF")).customization.logo_url
    b_bytes = stored(b)[0][1]
    misses = [
        client().get(b_address),  # no session
        client(a).get(b_address),  # another organisation's logo
        client(a).get(b_address.replace(b.slug, b.slug.upper())),
        client(a).get(f"/api/logo/{bare.slug}"),  # a known tenant without a logo
        client(a).get(f"/api/logo/no-such-{uuid.uuid4().hex[:8]}"),  # an unknown one
        client(bare).get(f"/api/logo/{bare.slug}"),  # own tenant, no logo
        client(bare).get(b_address),
    ]
    for miss in misses:
        assert miss.status_code == 404 and miss.content == b"No logo here."
        assert b_bytes not in miss.content
        assert miss.headers["cache-control"] == "no-store"
    assert {tuple(sorted(m.headers.items())) for m in misses} == {
        tuple(sorted(misses[0].headers.items()))
    }
    assert client(b).get(b_address).content == b_bytes  # it is there, for its own people


@pytest.mark.parametrize("tier", ["pool", "schema", "database"])
def test_the_logo_lives_at_the_tenants_placement_under_rls_as_pms_app(
    make_tenant: MakeTenant, tier: str
) -> None:
    t, neighbour = make_tenant(tier=tier), make_tenant()
    upload_as(t, image_bytes("PNG"))
    upload_as(neighbour, image_bytes("PNG", (12, 12)))
    assert len(stored(t)) == 1  # in the tenant's own database (or schema)
    for who, other in ((t, neighbour), (neighbour, t)):
        with tenant_session(ctx(who, "emp1")) as s:  # raw SQL: row-level security alone
            seen = s.connection().execute(text("SELECT tenant_id, width FROM tenant_logo")).all()
            assert {r[0] for r in seen} == {who.id}
            hit = s.connection().execute(
                text("UPDATE tenant_logo SET width = 1 WHERE tenant_id = :o"), {"o": other.id}
            )
            assert hit.rowcount == 0
    assert stored(neighbour)[0][2] == 12 and stored(t)[0][2] == 40
    assert client(t).get(logo_url(t)).content == stored(t)[0][1]
