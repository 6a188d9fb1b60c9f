"""Who may embed and call the server: allowed origins (CORS + ``frame-ancestors``) and an optional access token.

With ``widget.allowed_origins`` empty (local use) any page may embed the widget. Once it lists origins, a
browser request carrying another ``Origin`` is refused with 403 and pages may only be framed by those origins.
With ``widget.access_token`` set, every page and API call needs the token: ``?token=…`` once (it is then
kept in a cookie), or an ``Authorization: Bearer …`` header (``gradio_client.Client(url, headers=…)``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.config import WidgetConfig

COOKIE = "rag_token"
# Static files carry no corpus data; leaving them open lets a host page load the web-component script.
OPEN_PATHS = ("/healthz", "/gradio.js", "/favicon.ico", "/theme.css", "/manifest.json", "/robots.txt")
OPEN_PARTS = ("/assets/", "/static/", "/svelte/")
# Static folders at the root or under one mount (``/widget/assets/…``); nothing else that merely contains them.
_OPEN_PREFIX = re.compile(r"^(?:/[\w-]+)?(?:" + "|".join(re.escape(p) for p in OPEN_PARTS) + ")")


def route_path(scope: Scope) -> str:
    """The request path without the proxy prefix (``root_path``) that uvicorn adds to it."""
    path, root = scope["path"], scope.get("root_path", "")
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


def normalize_origin(origin: str) -> str:
    """``HTTPS://Example.com/`` → ``https://example.com``: origins compare as scheme://host[:port]."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return origin.strip().rstrip("/").lower()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def frame_ancestors(allowed: Sequence[str]) -> str:
    return "frame-ancestors 'self' " + " ".join(allowed) if allowed else ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class EmbedGuard:
    """Pure ASGI middleware (streams pass through untouched): origin allow-list, CSP header, token check."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = (), access_token: str = "") -> None:
        self.app = app
        self.allowed = {normalize_origin(o) for o in allowed_origins}
        self.any_origin = not self.allowed or "*" in self.allowed
        self.csp = "" if self.any_origin else frame_ancestors(sorted(self.allowed))
        self.token = access_token
        self.token_digest = _digest(access_token) if access_token else ""

    def origin_ok(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is None or self.any_origin:
            return True
        origin = normalize_origin(origin)
        if origin in self.allowed:
            return True
        own = {headers.get("host", ""), *headers.get("x-forwarded-host", "").split(",")}
        return urlsplit(origin).netloc in {h.strip().lower() for h in own if h.strip()}

    def token_ok(self, scope: Scope, headers: Headers) -> tuple[bool, bool]:
        """(authorized, came from the query string: set the cookie)."""
        if not self.token:
            return True, False
        path = route_path(scope)
        if path in OPEN_PATHS or (_OPEN_PREFIX.match(path) and ".." not in path):
            return True, False
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and hmac.compare_digest(auth[7:].strip(), self.token):
            return True, False
        cookie = SimpleCookie(headers.get("cookie", ""))
        if COOKIE in cookie and hmac.compare_digest(cookie[COOKIE].value, self.token_digest):
            return True, False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if any(hmac.compare_digest(t, self.token) for t in query.get("token", [])):
            return True, True
        return False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self.origin_ok(headers):
            response = PlainTextResponse(
                "This origin may not use this chat server. Add it to widget.allowed_origins to allow it.", 403
            )
            await response(scope, receive, send)
            return
        preflight = scope.get("method") == "OPTIONS" and "access-control-request-method" in headers
        ok, from_query = (True, False) if preflight else self.token_ok(scope, headers)
        if not ok:
            response = PlainTextResponse(
                "This chat needs an access token: open it with ?token=<token>, "
                "or send the header 'Authorization: Bearer <token>'.",
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        secure = scope.get("scheme") == "https" or headers.get("x-forwarded-proto", "").startswith("https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if self.csp:
                    out.append("Content-Security-Policy", self.csp)
                if from_query:
                    # Cross-site iframes only get the cookie back with SameSite=None (which requires https).
                    flags = "; Secure; SameSite=None; Partitioned" if secure else "; SameSite=Lax"
                    out.append("Set-Cookie", f"{COOKIE}={self.token_digest}; Path=/; HttpOnly{flags}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_security(app: FastAPI, widget: WidgetConfig) -> None:
    """CORS for the allowed origins (Gradio defers to a parent app's CORSMiddleware), then the guard outside it."""
    allowed = [normalize_origin(o) for o in widget.allowed_origins]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed if allowed and "*" not in allowed else ["*"],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(EmbedGuard, allowed_origins=allowed, access_token=widget.access_token)  # outermost


__all__ = ["EmbedGuard", "add_security", "frame_ancestors", "normalize_origin"]
