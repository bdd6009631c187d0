"""Read-side queries for the user pages. Each list returns its roles and token counts in a fixed
number of queries, however many users it holds."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from accounts import roles as role_rules
from accounts.models import ApiToken

User = get_user_model()

NO_ROLE = "none"  # the role filter's value for outsiders
ROLE_FILTERS = (*role_rules.ALL_ROLES, NO_ROLE)


def user_queryset() -> QuerySet:
    """Users with their role groups prefetched (``role_groups``) and ``token_count`` annotated."""
    return User.objects.prefetch_related(
        Prefetch(
            "groups",
            queryset=Group.objects.filter(name__in=role_rules.ALL_ROLES).order_by("name"),
            to_attr="role_groups",
        )
    ).annotate(token_count=Count("api_tokens", distinct=True))


def user_list(*, search: str = "", role: str = "", active: bool | None = None) -> QuerySet:
    """Users by username; ``role`` is one of ``ROLE_FILTERS`` (admin includes superusers, ``none``
    means outsiders), ``active`` True/False or None for both. Arguments are validated by the caller."""
    qs = user_queryset()
    if search.strip():
        qs = qs.filter(user_search_q(search))
    if role == NO_ROLE:
        qs = qs.filter(~Exists(_role_links(role_rules.ALL_ROLES)), is_superuser=False)
    elif role == role_rules.ADMIN:
        qs = qs.filter(Q(Exists(_role_links([role]))) | Q(is_superuser=True))
    elif role:
        qs = qs.filter(Exists(_role_links([role])))
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("username", "id")


def user_search_q(text: str) -> Q:
    """Username, first or last name or email contains ``text`` (case-insensitive)."""
    text = text.strip()
    q = (
        Q(username__icontains=text)
        | Q(email__icontains=text)
        | Q(first_name__icontains=text)
        | Q(last_name__icontains=text)
    )
    parts = text.split()
    if len(parts) >= 2:
        # "Anna Schmidt" finds first name Anna and last name Schmidt.
        q |= Q(first_name__icontains=parts[0], last_name__icontains=" ".join(parts[1:]))
    return q


def role_names(user) -> list[str]:
    """The user's roles in ``ALL_ROLES`` order, from the prefetched groups of :func:`user_queryset`
    (no query). Superusers count as admins, as everywhere in Trichter."""
    names = {group.name for group in user.role_groups}
    if user.is_superuser:
        names.add(role_rules.ADMIN)
    return [name for name in role_rules.ALL_ROLES if name in names]


def group_role_names(user) -> list[str]:
    """The roles stored as groups (what the role checkboxes show), from the prefetched groups."""
    names = {group.name for group in user.role_groups}
    return [name for name in role_rules.ALL_ROLES if name in names]


def user_tokens(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def _role_links(names):
    return User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name__in=names)
