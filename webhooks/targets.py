"""Which URLs a webhook may be sent to.

Webhooks make this server send requests to addresses its users choose, so a target is refused when
its host resolves to a loopback, private, link-local, reserved, multicast or unspecified address
(server-side request forgery into the internal network, the cloud metadata endpoint 169.254.169.254,
…). The check runs when a subscription is saved and again before each delivery, because DNS answers
may change. ``settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS`` turns it off (development, tests, receivers on
the internal network).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SCHEMES = ("http", "https")


def check_target(url: str) -> None:
    """Raise ``ValidationError`` (on ``url``) when webhooks must not be sent to ``url``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError({"url": [_("This is not a valid URL.")]}) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValidationError({"url": [_("Only http:// and https:// URLs with a host name are allowed.")]})
    if parts.username or parts.password:
        raise ValidationError({"url": [_("The URL must not contain a user name or password.")]})
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return
    port = port or (443 if parts.scheme == "https" else 80)
    for address in resolve(parts.hostname, port):
        if not is_public(address):
            raise ValidationError(
                {
                    "url": [
                        _("The host %(host)s resolves to a non-public address (%(address)s).")
                        % {"host": parts.hostname, "address": address}
                    ]
                }
            )


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ValidationError(
            {"url": [_("The host %(host)s cannot be resolved.") % {"host": host}]}
        ) from None
    return sorted({info[4][0] for info in infos})


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id ("fe80::1%eth0") is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )
