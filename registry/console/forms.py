"""Form posts: reading them, and refusing forged ones (CSRF).

Every console form is URL-encoded (nothing is uploaded), read here with the standard library's
parser under a size limit. A form is accepted only with the CSRF token of this browser: an
HMAC of its console cookie, which is HttpOnly and SameSite=Strict, so another site can neither
read it nor make the browser send it. htmx requests carry the token in a header (set once on
<body>), plain forms in a hidden field. A browser's `Sec-Fetch-Site` header, when present, must
also say the request comes from this site.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from ..api.common import read_body
from .failures import BadInput, FormExpired

MAX_FORM = 64 << 10  # a lifecycle policy is at most 30 KiB
FORM_TYPE = "application/x-www-form-urlencoded"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SAME_SITE = {"same-origin", "none"}  # "none": typed in or bookmarked, not sent by another page

Form = ImmutableMultiDict[str, str]


def csrf_token(cookie: str) -> str:
    return hmac.new(cookie.encode(), b"cais console form", hashlib.sha256).hexdigest()


async def read_form(request: Request) -> Form:
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        raise BadInput(f"forms are sent as {FORM_TYPE}")
    raw = await read_body(request, MAX_FORM, lambda reason: BadInput(f"the form is too large: {reason}"))
    try:
        return ImmutableMultiDict(parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the form could not be read") from None


def check_csrf(request: Request, form: Form, cookie: str | None) -> None:
    """FormExpired unless the form carries the token of this browser's cookie."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _SAME_SITE:
        raise FormExpired()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if cookie is None or not hmac.compare_digest(sent.encode(), csrf_token(cookie).encode()):
        raise FormExpired()
