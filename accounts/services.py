"""Write-side logic for users, their roles and their API tokens. The user pages call these; so may
commands and the admin later.

Two rules hold however a change arrives:

* Roles are the groups named in ``accounts.roles.ALL_ROLES``; other groups a user has are left alone.
* Trichter always keeps at least one active administrator (admin group or superuser), so nobody can
  lock everybody out of user management. Changes that could break this take a row lock on the admin
  group first, so two administrators demoting each other at the same moment are serialised and the
  second one is refused.

Errors are ``ValidationError``s keyed by field name (``username``, ``email``, ``password``, ``roles``)
or without a field (``active``-type refusals), so that a form can show them next to its fields.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts import roles as role_rules
from accounts.models import ApiToken
from audit.models import Action
from audit.services import audit_record

User = get_user_model()


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    password: str,
    roles: Iterable[str] = (),
    by=None,
):
    """Create an active user with a usable password and the given roles (none: an outsider).

    Everything is checked before anything is written, so a refused user leaves no trace.
    """
    username = (username or "").strip()
    email = User.objects.normalize_email((email or "").strip())
    first_name = (first_name or "").strip()
    last_name = (last_name or "").strip()
    wanted = _clean_roles(roles)

    errors: dict[str, list] = {}
    username_field = User._meta.get_field("username")
    if not username:
        errors.setdefault("username", []).append(_("Enter a username."))
    else:
        try:
            username_field.run_validators(username)
        except ValidationError as exc:
            errors.setdefault("username", []).extend(exc.messages)
        else:
            # Case-insensitive, like Django's own user creation form: "Anna" and "anna" would be
            # indistinguishable at the login prompt.
            if User.objects.filter(username__iexact=username).exists():
                errors.setdefault("username", []).append(_("A user with that username already exists."))
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors.setdefault("email", []).extend(exc.messages)
    if not password:
        errors.setdefault("password", []).append(_("Enter a password."))
    else:
        candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            errors.setdefault("password", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)

    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
    except IntegrityError:
        # Someone created the same username between our check and the insert.
        raise ValidationError({"username": [_("A user with that username already exists.")]}) from None
    if wanted:
        user.groups.add(*_role_groups(wanted))
    return user


@transaction.atomic
def user_set_roles(*, user, roles: Iterable[str], by=None) -> frozenset[str]:
    """Give ``user`` exactly these roles (an empty set makes them an outsider); returns the roles.

    Refused when it would take the admin role from the last active administrator. A superuser stays
    an administrator whatever their groups say.
    """
    wanted = _clean_roles(roles)
    current = _group_roles(user)
    if role_rules.ADMIN in current and role_rules.ADMIN not in wanted:
        _lock_admins()
        if user.is_active and not user.is_superuser and not _other_active_admins_exist(user):
            raise ValidationError(
                {
                    "roles": [
                        _(
                            "“%(username)s” is the last active administrator. Give another user the "
                            "Administrator role first."
                        )
                        % {"username": user.get_username()}
                    ]
                }
            )
    removed, added = current - wanted, wanted - current
    if removed:
        user.groups.remove(*_role_groups(removed))
    if added:
        user.groups.add(*_role_groups(added))
    _forget_cached_roles(user)
    return wanted


@transaction.atomic
def user_set_active(*, user, active: bool, by=None):
    """Deactivate (or reactivate) a user. A deactivated user cannot log in, their open sessions end
    and their API tokens are refused; nothing of theirs is deleted, so reactivating restores all.

    Refused for the last active administrator, and for a superuser unless ``by`` is a superuser too
    (an admin-role user must not be able to lock out the people who run the installation).
    """
    if user.is_active == active:
        return user
    if user.is_superuser and not getattr(by, "is_superuser", False):
        raise ValidationError(_("Only a superuser can deactivate or reactivate a superuser."))
    if not active and _is_admin(user):
        _lock_admins()
        if not _other_active_admins_exist(user):
            raise ValidationError(
                _(
                    "“%(username)s” is the last active administrator and cannot be deactivated. Give "
                    "another user the Administrator role first."
                )
                % {"username": user.get_username()}
            )
    user.is_active = active
    user.save(update_fields=["is_active"])
    _forget_cached_roles(user)
    return user


@transaction.atomic
def token_issue(*, user, name: str = "", by=None) -> tuple[ApiToken, str]:
    """A new API token for ``user`` (``by``: who asked, the user themselves or None for the command
    line); the key is returned once, only its hash is stored. Recorded in the audit log."""
    token, key = ApiToken.objects.issue(user=user, name=name)
    audit_record(actor=by, action=Action.TOKEN_CREATED, target=token, user_id=user.pk, prefix=token.prefix)
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, by=None) -> None:
    """Delete an API token; requests that send its key are refused from now on."""
    audit_record(
        actor=by, action=Action.TOKEN_REVOKED, target=token, user_id=token.user_id, prefix=token.prefix
    )
    token.delete()


# --- helpers -------------------------------------------------------------------------------------


def _clean_roles(roles: Iterable[str]) -> frozenset[str]:
    if isinstance(roles, str):
        # A lone string would be split into letters; it is a caller's mistake.
        raise TypeError("roles must be a collection of role names, not a string")
    wanted = frozenset(roles or ())
    unknown = sorted(wanted - set(role_rules.ALL_ROLES))
    if unknown:
        raise ValidationError({"roles": [_("Unknown role: %(roles)s.") % {"roles": ", ".join(unknown)}]})
    return wanted


def _role_groups(names: Iterable[str]) -> list[Group]:
    names = set(names)
    groups = list(Group.objects.filter(name__in=names))
    if len(groups) != len(names):
        # The groups come from a data migration; without them roles cannot be stored.
        raise RuntimeError(f"role groups missing: {sorted(names - {g.name for g in groups})}")
    return groups


def _group_roles(user) -> frozenset[str]:
    return frozenset(user.groups.filter(name__in=role_rules.ALL_ROLES).values_list("name", flat=True))


def _is_admin(user) -> bool:
    return user.is_superuser or user.groups.filter(name=role_rules.ADMIN).exists()


def _lock_admins() -> None:
    """Serialise changes that may remove an administrator (no-op on SQLite, which locks anyway)."""
    list(Group.objects.select_for_update().filter(name=role_rules.ADMIN).values_list("pk", flat=True))


def _other_active_admins_exist(user) -> bool:
    admins = User.objects.filter(Q(is_superuser=True) | Q(groups__name=role_rules.ADMIN))
    return admins.filter(is_active=True).exclude(pk=user.pk).exists()


def _forget_cached_roles(user) -> None:
    # roles_of() caches on the instance; a view that renders the same object after a change must
    # not show the old roles.
    user.__dict__.pop("_trichter_roles", None)
