"""The public collect endpoint the snippet posts to: ``POST /t/collect/?site=<public key>``.

No login and no CSRF token: a page of the customer's website sends it. What protects it instead:
the site's public key, the ``Origin`` header checked against the site's allowed origins (browsers
set it on every cross-origin POST and scripts cannot forge it), a rate per site and client address,
a small body limit, and answers that never contain anything from the request — fixed JSON messages
or an empty 204. The server sets no cookies: the visitor id is the snippet's first-party cookie.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from rest_framework.throttling import BaseThrottle

from tracking.models import TrackedSite
from tracking.services import InvalidEvent, tracking_event_record

MAX_BODY = 8 * 1024
DEFAULT_RATE = "120/min"
CONTENT_TYPES = {"", "application/json", "text/plain"}


@csrf_exempt
def collect(request):
    if request.method not in {"POST", "OPTIONS"}:
        response = _error("method not allowed", 405)
        response["Allow"] = "POST, OPTIONS"
        return response
    origin = request.headers.get("Origin", "")
    site = _site(request.GET.get("site", ""))
    if site is None or not site.allows(origin):
        # Unknown key, inactive site and foreign origin get the same answer, without CORS headers.
        return _error("forbidden", 403)
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        return _cors(response, origin)
    retry_after = _throttle(site, request)
    if retry_after:
        response = _cors(_error("too many requests", 429), origin)
        response["Retry-After"] = str(retry_after)
        return response
    body = _read_body(request)
    if body is None:
        return _cors(_error("payload too large", 413), origin)
    content_type = request.content_type.split(";")[0].strip().lower() if request.content_type else ""
    try:
        if content_type not in CONTENT_TYPES:
            raise InvalidEvent
        payload = json.loads(body.decode("utf-8"))
        tracking_event_record(site=site, payload=payload)
    except (InvalidEvent, ValueError, RecursionError):
        return _cors(_error("invalid event", 400), origin)
    return _cors(HttpResponse(status=204), origin)


def _site(key: str) -> TrackedSite | None:
    if not key or len(key) > 40:
        return None
    return TrackedSite.objects.filter(public_key=key, is_active=True).first()


def _read_body(request) -> bytes | None:
    """The body, or None if it exceeds MAX_BODY; never reads more than one byte beyond the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if declared > MAX_BODY:
        return None
    body = request.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _throttle(site: TrackedSite, request) -> int:
    """0 if the request may pass, else the seconds until the current window ends.

    A fixed window counted in the cache (Redis in production, so all web processes share it). The
    client address is found as the API's throttles find it (REST_FRAMEWORK's NUM_PROXIES)."""
    rate = getattr(settings, "TRACKING_RATE_LIMIT", DEFAULT_RATE)
    allowed, period = _parse_rate(rate)
    now = time.time()
    window = int(now // period)
    key = f"tracking:rate:{site.pk}:{BaseThrottle().get_ident(request)}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        count = 1
    if count <= allowed:
        return 0
    return max(1, int((window + 1) * period - now))


def _parse_rate(rate: str) -> tuple[int, int]:
    """``120/min`` → (120, 60), in the notation of ``config.env.env_rate``."""
    number, period = rate.split("/")
    return int(number), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


def _error(message: str, status: int) -> JsonResponse:
    # Only fixed texts: nothing from the request is ever echoed.
    response = JsonResponse({"error": message}, status=status)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ("Origin",))
    return response


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    """Allow the (already checked) origin to read the answer; never ``*``, no credentials."""
    response["Access-Control-Allow-Origin"] = origin
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ("Origin",))
    return response
