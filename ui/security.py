"""Who may embed and call the server, and what a request may carry.

Origins: with ``widget.allowed_origins`` empty (local use), browsers get CORS access only for pages served from
the server's own origin or from localhost; any page may still frame the widget. Once it lists origins, a browser
request carrying another ``Origin`` is refused with 403 and pages may only be framed by those origins.
Token: with ``widget.access_token`` set, every page and API call needs it: ``?token=…`` once (it is then kept in
a cookie), or an ``Authorization: Bearer …`` header (``gradio_client.Client(url, headers=…)``).
Requests: bodies are capped before anything parses them, uploads are off (the app takes no files), events must
name a function the page has, and a browser session (Gradio's ``session_hash``) can only be driven by the
browser that started it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.config import LimitsConfig, WidgetConfig

log = logging.getLogger(__name__)

COOKIE = "rag_token"
SESSION_COOKIE = "rag_session"  # ties Gradio's session_hash to the browser that first used it
# Static files carry no corpus data; leaving them open lets a host page load the web-component script.
OPEN_PATHS = ("/healthz", "/gradio.js", "/favicon.ico", "/theme.css", "/manifest.json", "/robots.txt")
OPEN_PARTS = ("/assets/", "/static/", "/svelte/")
# Static folders at the root or under one mount (``/widget/assets/…``); nothing else that merely contains them.
_OPEN_PREFIX = re.compile(r"^(?:/[\w-]+)?(?:" + "|".join(re.escape(p) for p in OPEN_PARTS) + ")")
# With no allowed_origins, browsers may read responses only from pages on this machine (Gradio's own default
# for a localhost server, which it drops for any other host name).
LOOPBACK_ORIGIN = r"https?://(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?"

# Gradio routes the app never uses: it takes no files, so uploads (stored under /tmp/gradio for good) are off.
_CLOSED_API = re.compile(r"^(?:/[\w-]+)?/gradio_api/(?:upload|upload_progress|process_recording)/?$")
_NAMED_API = re.compile(r"^(?:/[\w-]+)?/gradio_api/(?:call/v2|call|run|api)/([\w-]+)/?$")
_SESSION_IN_PATH = re.compile(r"^(?:/[\w-]+)?/gradio_api/(?:heartbeat|stream)/([^/]+)")

# Request bodies: a question and the history /ask accepts, every character JSON-escaped as \uXXXX.
BYTES_PER_CHAR = 6
HISTORY_CHARS_PER_QUESTION_CHAR = 4  # history messages are cut to 4 × max_question_chars (rag.rewrite)
ENVELOPE_BYTES = 16 * 1024  # JSON keys, fn_index, session_hash, event data
# Sessions remembered for the ownership check: more than Gradio keeps (10,000 per page), about 100 bytes each.
MAX_SESSIONS = 50_000


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


def max_request_bytes(limits: LimitsConfig, configured: int = 0) -> int:
    """The largest request body: ``configured`` if set, else room for the longest question plus a full history
    (``max_history_turns`` questions and answers)."""
    if configured > 0:
        return configured
    history = 2 * limits.max_history_turns * HISTORY_CHARS_PER_QUESTION_CHAR * limits.max_question_chars
    return (limits.max_question_chars + history) * BYTES_PER_CHAR + ENVELOPE_BYTES


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _same(given: bytes, expected: bytes) -> bool:
    """Constant-time comparison of bytes, so any UTF-8 token works (``compare_digest`` on ``str`` is ASCII only)."""
    return hmac.compare_digest(given, expected)


def _cookies(headers: Headers) -> SimpleCookie:
    try:
        return SimpleCookie(headers.get("cookie", ""))
    except CookieError:
        return SimpleCookie()


def _cookie_flags(scope: Scope, headers: Headers) -> str:
    """Cross-site iframes only get a cookie back with SameSite=None, which requires https."""
    secure = scope.get("scheme") == "https" or headers.get("x-forwarded-proto", "").startswith("https")
    return "; Secure; SameSite=None; Partitioned" if secure else "; SameSite=Lax"


def _refuse(status: int, message: str, **headers: str) -> PlainTextResponse:
    return PlainTextResponse(message, status, headers=headers or None)


class EmbedGuard:
    """Pure ASGI middleware (streams pass through untouched): origin allow-list, CSP header, token check."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = (), access_token: str = "") -> None:
        self.app = app
        self.allowed = {normalize_origin(o) for o in allowed_origins}
        self.any_origin = not self.allowed or "*" in self.allowed
        self.csp = "" if self.any_origin else frame_ancestors(sorted(self.allowed))
        self.token = access_token.encode("utf-8")
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
        # Header values arrive decoded as latin-1; encoding back gives the bytes the client sent (UTF-8).
        auth = headers.get("authorization", "").encode("latin-1")
        if auth[:7].lower() == b"bearer " and _same(auth[7:].strip(), self.token):
            return True, False
        cookie = _cookies(headers)
        if COOKIE in cookie and _same(cookie[COOKIE].value.encode("utf-8"), self.token_digest.encode()):
            return True, False
        # Percent-decoded as latin-1, so encoding back gives the bytes (UTF-8) the client sent.
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), encoding="latin-1")
        if any(_same(t.encode("latin-1"), self.token) for t in query.get("token", [])):
            return True, True
        return False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self.origin_ok(headers):
            response = _refuse(
                403, "This origin may not use this chat server. Add it to widget.allowed_origins to allow it."
            )
            await response(scope, receive, send)
            return
        preflight = scope.get("method") == "OPTIONS" and "access-control-request-method" in headers
        ok, from_query = (True, False) if preflight else self.token_ok(scope, headers)
        if not ok:
            response = _refuse(
                401,
                "This chat needs an access token: open it with ?token=<token>, "
                "or send the header 'Authorization: Bearer <token>'.",
                **{"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        flags = _cookie_flags(scope, headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if self.csp:
                    out.append("Content-Security-Policy", self.csp)
                if from_query:
                    out.append("Set-Cookie", f"{COOKIE}={self.token_digest}; Path=/; HttpOnly{flags}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SessionOwners:
    """Which browser (its session cookie) first used each ``session_hash``; bounded, least recently used first out."""

    def __init__(self, capacity: int = MAX_SESSIONS) -> None:
        self.capacity = capacity
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, session_hash: str, owner: str) -> bool:
        """True if ``owner`` may use ``session_hash``: it is new (and now theirs) or already theirs."""
        with self._lock:
            known = self._owners.get(session_hash)
            if known is None:
                self._owners[session_hash] = owner
                if len(self._owners) > self.capacity:
                    self._owners.popitem(last=False)
                return True
            self._owners.move_to_end(session_hash)
            return _same(known.encode(), owner.encode())


@dataclass(frozen=True)
class PageCalls:
    """The events one mounted page has: number of inputs by ``fn_index`` and by API name, and the keys of
    ``event_data`` that an event's handler reads (``gr.SelectData`` needs ``index`` and ``value``)."""

    fns: Mapping[int, int]
    apis: Mapping[str, int]
    event_keys: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


class RequestGuard:
    """Pure ASGI middleware for what Gradio would otherwise take in unchecked.

    - bodies over ``max_bytes`` get 413 before anything reads them (Gradio keeps each call's inputs in memory);
    - closed routes (uploads) get 403;
    - an event must name a function of its page with enough inputs (Gradio answers 500 with internals otherwise);
    - a ``session_hash`` belongs to the browser that first used it: another one cannot drive or read it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, pages: Mapping[str, PageCalls] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Mount path → the calls its page has; the longest matching mount path wins.
        self.pages = sorted((pages or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self.owners = SessionOwners()

    def _calls(self, path: str) -> PageCalls | None:
        for mount, calls in self.pages:
            if path.startswith(mount.rstrip("/") + "/") or path == mount:
                return calls
        return None

    def check_call(self, path: str, body: dict[str, Any] | None) -> tuple[int, str] | None:
        """Why Gradio must not see this event, as (status, message); None when it may."""
        calls = self._calls(path)
        if calls is None or body is None:
            return None
        named = _NAMED_API.match(path)
        if named:
            needed = calls.apis.get(named.group(1))
            if needed is None:
                return 404, "No such API endpoint."
        else:
            if body.get("fn_index") is None:
                return None
            try:
                index = int(body["fn_index"])
            except (TypeError, ValueError):
                return None  # not a number: Gradio's own validation answers 422
            needed = calls.fns.get(index)
            if needed is None:
                return 400, "Unknown fn_index: this page has no such event."
            keys, event = calls.event_keys.get(index, ()), body.get("event_data")
            if keys and not (isinstance(event, dict) and all(k in event for k in keys)):
                return 422, f"This event needs event_data with {', '.join(keys)}."
        data = body.get("data")
        if isinstance(data, list) and len(data) < needed:
            return 422, f"This call needs {needed} input values in 'data'."
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        headers = Headers(scope=scope)
        if _CLOSED_API.match(path):
            await _refuse(403, "This server accepts no file uploads.")(scope, receive, send)
            return
        body = b""
        if scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            body, refusal = await self._read_body(headers, receive)
            if refusal:
                log.info("Refused a request to %s: body over %d bytes", path, self.max_bytes)
                await refusal(scope, receive, send)
                return
        fields = _json_object(body, headers)
        problem = self.check_call(path, fields)
        if problem:
            log.info("Refused a call to %s: %s", path, problem[1])
            await _refuse(*problem)(scope, receive, send)
            return

        cookie = _cookies(headers)
        owner = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else ""
        new_owner = "" if owner else secrets.token_urlsafe(18)
        for session_hash in _session_hashes(scope, path, fields):
            if not self.owners.claim(session_hash, owner):
                log.info("Refused a request to %s for a session another browser started", path)
                await _refuse(403, "This session belongs to another browser. Reload the page.")(scope, receive, send)
                return

        flags = _cookie_flags(scope, headers)

        started = False

        async def send_with_cookie(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                out = MutableHeaders(scope=message)
                if new_owner and scope["method"] == "GET" and out.get("content-type", "").startswith("text/html"):
                    out.append("Set-Cookie", f"{SESSION_COOKIE}={new_owner}; Path=/; HttpOnly{flags}")
            await send(message)

        try:
            await self.app(scope, _replay(body, receive) if body else receive, send_with_cookie)
        except Exception as exc:
            # Gradio ends an event stream for an unknown session or event by raising 404 after the stream has
            # started; uncaught, every such request logs a traceback. Log one line and end the stream instead.
            refused = exc if isinstance(exc, HTTPException) else exc.__cause__
            if not (started and isinstance(refused, HTTPException)):
                raise
            log.info("Ended the stream of %s: %s", path, refused.status_code)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _read_body(self, headers: Headers, receive: Receive) -> tuple[bytes, PlainTextResponse | None]:
        """The whole body, or a 413 as soon as it is known to be too large (from Content-Length or while reading)."""
        too_large = _refuse(413, f"Request too large: the limit is {self.max_bytes:,} bytes. Send a shorter question "
                                 "or fewer history messages.")
        length = headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > self.max_bytes):
            return b"", too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), None


def _json_object(body: bytes, headers: Headers) -> dict[str, Any] | None:
    if not body or "json" not in headers.get("content-type", "json"):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _session_hashes(scope: Scope, path: str, fields: dict[str, Any] | None) -> list[str]:
    """Every session_hash the request names: query string, path (heartbeat) or JSON body."""
    found = [v for v in parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", []) if v]
    in_path = _SESSION_IN_PATH.match(path)
    if in_path:
        found.append(in_path.group(1))
    if fields and isinstance(fields.get("session_hash"), str) and fields["session_hash"]:
        found.append(fields["session_hash"])
    return found


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def add_security(
    app: FastAPI, widget: WidgetConfig, max_bytes: int, pages: Mapping[str, PageCalls] | None = None
) -> None:
    """Request checks innermost, then CORS, then the origin/token guard outermost.

    A parent app's ``CORSMiddleware`` replaces Gradio's own CORS handling, so it must never be looser than Gradio's:
    credentials only for listed origins (or, with none listed, for pages on this machine); ``"*"`` allows any
    origin without credentials.
    """
    allowed = [normalize_origin(o) for o in widget.allowed_origins]
    if "*" in allowed:
        cors: dict[str, Any] = {"allow_origins": ["*"], "allow_credentials": False}
    elif allowed:
        cors = {"allow_origins": allowed, "allow_credentials": True}
    else:
        cors = {"allow_origins": [], "allow_origin_regex": LOOPBACK_ORIGIN, "allow_credentials": True}
    app.add_middleware(RequestGuard, max_bytes=max_bytes, pages=pages)
    app.add_middleware(CORSMiddleware, allow_methods=["*"], allow_headers=["*"], **cors)
    app.add_middleware(EmbedGuard, allowed_origins=allowed, access_token=widget.access_token)  # outermost


__all__ = [
    "EmbedGuard", "PageCalls", "RequestGuard", "SessionOwners", "add_security", "frame_ancestors", "max_request_bytes",
    "normalize_origin",
]
