from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts import roles


class HasAnyRole(BasePermission):
    """The default for every endpoint: authenticated and holding one of the roles."""

    message = "Your account has no role in Trichter; ask an administrator."

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.WORK_CONTACTS)


class ReadOrEdit(BasePermission):
    """Every role reads; only the roles of ``capability`` change. Subclass per resource with
    ``capability`` and ``message`` (what a 403 says)."""

    capability: frozenset[str] = frozenset()
    message = "Your role may not change this."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return roles.has_any(request.user, roles.WORK_CONTACTS)
        return roles.has_any(request.user, self.capability)


class CanEditFunnelOrReadOnly(ReadOrEdit):
    capability = roles.EDIT_FUNNEL
    message = "Only marketing and admin may change the funnel."
