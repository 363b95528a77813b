"""What every answer of the page and its API goes through: credentials, then safe headers.

The page shows alert text, which is untrusted, so the browser is told to run nothing but
the service's own script and style (no inline script or style, no other origin), never to
be framed, never to guess content types, and not to keep pages in caches. A form post
from another site (cross-site request forgery) is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from alert_explainer.auth import Authenticator
from alert_explainer.jsonout import JSONBody

Handler = Callable[[Request], Awaitable[Response]]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD"})


def same_origin(request: Request) -> bool:
    """Whether an unsafe request comes from the page itself, not from another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site post: those carry Origin or Sec-Fetch-Site
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


class Guard:
    """Wraps the page's and the API's handlers: authentication, CSRF check, headers."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def __call__(self, handler: Handler, *, cache: str = "no-store") -> Handler:
        """`handler` behind the credentials check, with the security headers added."""

        async def guarded(request: Request) -> Response:
            if not self._authenticator.allows(request.headers.get("authorization")):
                response: Response = JSONBody({"error": "authentication required"}, status_code=401)
                response.headers["WWW-Authenticate"] = self._authenticator.challenge
            elif request.method not in SAFE_METHODS and not same_origin(request):
                response = JSONBody(
                    {"error": "cross-site request refused; use the page itself"},
                    status_code=403,
                )
            else:
                response = await handler(request)
                response.headers.setdefault("Cache-Control", cache)
            response.headers.update(HEADERS)
            return response

        return guarded
