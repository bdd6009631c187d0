"""View decorators for the browser UI.

Every page view starts with ``@role_required(<capability>)``: anonymous visitors go to the login
page, logged-in users whose roles lack the capability (outsiders, or sales on a marketing page) get
a 403. Capabilities are the frozensets in ``accounts.roles`` (``WORK_CONTACTS``, ``EDIT_FUNNEL``,
``MANAGE_USERS``).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from accounts import roles


def role_required(capability: frozenset[str]):
    """Allow the view only to users holding one of the roles in ``capability``."""
    if not isinstance(capability, frozenset) or not capability:
        raise TypeError("role_required() takes a capability from accounts.roles, e.g. roles.WORK_CONTACTS")

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not roles.has_any(user, capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def login_required_any_user(view):
    """Logged-in users with or without a role (used by the account settings page)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper
