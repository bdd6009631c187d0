from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts import roles


class HasAnyRole(BasePermission):
    """The default for every endpoint: authenticated and holding one of the roles."""

    message = "Your account has no role in Trichter; ask an administrator."

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.WORK_CONTACTS)


class CanEditFunnelOrReadOnly(BasePermission):
    """Every role reads the funnel; only marketing and admin change its texts."""

    message = "Only marketing and admin may change the funnel."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return roles.has_any(request.user, roles.WORK_CONTACTS)
        return roles.has_any(request.user, roles.EDIT_FUNNEL)
