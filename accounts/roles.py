"""The three roles of Trichter and what each may do.

A role is a Django group (created by a data migration). Superusers count as admins. A user with no
role — an *outsider* — may log in but sees nothing.

| role      | may                                                                  |
|-----------|----------------------------------------------------------------------|
| sales     | contacts, companies, stage moves                                     |
| marketing | all of sales, plus the funnel texts, scoring rules, nurture sequences |
| admin     | everything, including users and API tokens                           |
"""

from __future__ import annotations

SALES = "sales"
MARKETING = "marketing"
ADMIN = "admin"
ALL_ROLES = (SALES, MARKETING, ADMIN)

# What each capability requires; views and API permissions ask by capability, not by role name.
WORK_CONTACTS = frozenset({SALES, MARKETING, ADMIN})
EDIT_FUNNEL = frozenset({MARKETING, ADMIN})
# Nurture sequences, email templates, the fast-lane settings.
EDIT_SEQUENCES = frozenset({MARKETING, ADMIN})
# The product catalogue (products and the topics that show interest in them).
EDIT_CATALOG = frozenset({MARKETING, ADMIN})
# The R/U/C detector's settings (interest threshold, repeat interval); deciding signals is for their owner.
EDIT_DETECTOR = frozenset({MARKETING, ADMIN})
MANAGE_USERS = frozenset({ADMIN})


def roles_of(user) -> frozenset[str]:
    """The user's roles, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_trichter_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(ADMIN)
        cached = frozenset(names)
        user._trichter_roles = cached
    return cached


def has_any(user, allowed: frozenset[str]) -> bool:
    return bool(roles_of(user) & allowed)
