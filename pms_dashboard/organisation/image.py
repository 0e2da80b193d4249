"""An uploaded logo made safe to serve: the real content is read (never the file's name or
the type the browser claims), only PNG, JPEG, GIF and WebP are accepted (no SVG: it can
carry script), the size and dimensions are bounded before any pixel is decoded, and the
pixels are re-encoded as a fresh PNG, so nothing of the upload but its pixels is stored (no
metadata, no trailing bytes, no second format hidden in the first)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from pms_dashboard.organisation.schemas import CustomizationError

MAX_UPLOAD_BYTES = 512 * 1024
MAX_SIDE = 1024  # pixels, either way
ACCEPTED = ("PNG", "JPEG", "GIF", "WEBP")  # what Pillow may try to read: nothing else
FIELD = "logo"  # the upload's input on the settings page

NOT_AN_IMAGE = "This file is not a PNG, JPEG, GIF or WebP image: choose one of those."
TOO_BIG = "The logo is larger than 512 KB: choose a smaller file."
EMPTY = "Choose an image file to upload."


@dataclass(frozen=True, slots=True)
class CleanImage:
    """The re-encoded logo as stored and served."""

    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def version(self) -> str:
        """Changes with every different image: the served address and ETag carry it."""
        return hashlib.sha256(self.data).hexdigest()[:16]


def _refuse(message: str) -> CustomizationError:
    return CustomizationError(message, field=FIELD)


def _opened(data: bytes) -> Image.Image:
    """The image `data` holds, its header read (no pixel decoded yet), if it is one of
    the accepted formats and within the bounds."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
    except (UnidentifiedImageError, Image.DecompressionBombError, Warning, OSError, ValueError):
        raise _refuse(NOT_AN_IMAGE) from None
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _refuse(
            f"The logo is {width} × {height} pixels: it may be at most {MAX_SIDE} × "
            f"{MAX_SIDE}. Scale it down and upload it again."
        )
    if width < 1 or height < 1:
        raise _refuse(NOT_AN_IMAGE)
    return image


def _pixels(image: Image.Image) -> Image.Image:
    """A fresh image holding only the (first frame's) pixels: RGBA when the upload has
    transparency, RGB otherwise; nothing of the upload's metadata comes with it."""
    try:
        image.seek(0)
        image.load()
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        frame = image.convert("RGBA" if alpha else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _refuse(
            "This image could not be read (it may be damaged or cut short): "
            "export it again and upload it."
        ) from None
    clean = Image.new(frame.mode, frame.size)
    clean.paste(frame)
    return clean


def clean_logo(data: bytes) -> CleanImage:
    """The logo to store from an upload's bytes, or CustomizationError (about the upload
    field) saying what to change."""
    if not data:
        raise _refuse(EMPTY)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refuse(TOO_BIG)
    with _opened(data) as image:
        clean = _pixels(image)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return CleanImage(out.getvalue(), "image/png", clean.width, clean.height)
