"""accounts.services: creating users, setting roles, (de)activating, revoking tokens, and the rule that
Trichter always keeps an active administrator. Also the user list selector."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts import roles, selectors, services
from accounts.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
GOOD_PASSWORD = "Kaffeemaschine-42"


@pytest.fixture(autouse=True)
def english():
    # Messages are checked in English; a page test before may have left German active in this thread.
    with translation.override("en"):
        yield


def new_user(**overrides):
    data = {
        "username": "anna",
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "password": GOOD_PASSWORD,
        "roles": [roles.SALES],
    }
    data.update(overrides)
    return data


# --- user_create -----------------------------------------------------------------------------------


def test_user_create_stores_an_active_user_with_roles_and_password(admin_user):
    user = services.user_create(**new_user(roles=[roles.SALES, roles.MARKETING]), by=admin_user)
    user = User.objects.get(pk=user.pk)
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert user.check_password(GOOD_PASSWORD)
    assert (user.email, user.first_name, user.last_name) == ("anna@example.com", "Anna", "Schmidt")
    assert roles.roles_of(user) == {roles.SALES, roles.MARKETING}


def test_user_create_without_roles_makes_an_outsider(admin_user):
    user = services.user_create(**new_user(roles=[]), by=admin_user)
    assert roles.roles_of(User.objects.get(pk=user.pk)) == frozenset()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"username": "ADMIN"}, "username"),  # taken, whatever the case
        ({"username": ""}, "username"),
        ({"username": "anna schmidt!"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "123"}, "password"),  # too short, numeric
        ({"password": "anna.schmidt"}, "password"),  # too similar to the user
        ({"password": ""}, "password"),
        ({"roles": ["sales", "boss"]}, "roles"),
    ],
)
def test_user_create_refuses_bad_data_and_stores_nothing(admin_user, overrides, field):
    before = User.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.user_create(**new_user(**overrides), by=admin_user)
    assert field in exc.value.message_dict
    assert User.objects.count() == before


def test_user_create_refuses_a_string_as_roles(admin_user):
    with pytest.raises(TypeError):
        services.user_create(**new_user(roles="admin"), by=admin_user)


# --- user_set_roles --------------------------------------------------------------------------------


def test_user_set_roles_replaces_the_roles_and_keeps_other_groups(admin_user, sales_user):
    from django.contrib.auth.models import Group

    other = Group.objects.create(name="newsletter-editors")
    sales_user.groups.add(other)
    assert services.user_set_roles(user=sales_user, roles=[roles.MARKETING], by=admin_user) == {
        roles.MARKETING
    }
    fresh = User.objects.get(pk=sales_user.pk)
    assert roles.roles_of(fresh) == {roles.MARKETING}
    assert fresh.groups.filter(pk=other.pk).exists()


def test_user_set_roles_to_none_makes_an_outsider(admin_user, sales_user):
    services.user_set_roles(user=sales_user, roles=[], by=admin_user)
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == frozenset()


def test_user_set_roles_refreshes_the_cached_roles(admin_user, sales_user):
    assert roles.roles_of(sales_user) == {roles.SALES}  # now cached on the instance
    services.user_set_roles(user=sales_user, roles=[roles.ADMIN], by=admin_user)
    assert roles.roles_of(sales_user) == {roles.ADMIN}


def test_user_set_roles_refuses_unknown_roles(admin_user, sales_user):
    with pytest.raises(ValidationError) as exc:
        services.user_set_roles(user=sales_user, roles=["root"], by=admin_user)
    assert "roles" in exc.value.message_dict
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == {roles.SALES}


def test_the_last_admin_cannot_drop_their_admin_role(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.user_set_roles(user=admin_user, roles=[roles.SALES], by=admin_user)
    assert "last active administrator" in exc.value.message_dict["roles"][0]
    assert roles.roles_of(User.objects.get(pk=admin_user.pk)) == {roles.ADMIN}


def test_an_admin_may_drop_their_role_when_another_admin_remains(admin_user):
    UserFactory(username="admin2", roles=[roles.ADMIN])
    services.user_set_roles(user=admin_user, roles=[roles.SALES], by=admin_user)
    assert roles.roles_of(User.objects.get(pk=admin_user.pk)) == {roles.SALES}


def test_inactive_admins_and_superusers_count_correctly(admin_user):
    UserFactory(username="old-admin", roles=[roles.ADMIN], is_active=False)
    with pytest.raises(ValidationError):
        services.user_set_roles(user=admin_user, roles=[], by=admin_user)
    UserFactory(username="root", is_superuser=True)
    services.user_set_roles(user=admin_user, roles=[], by=admin_user)
    assert roles.roles_of(User.objects.get(pk=admin_user.pk)) == frozenset()


def test_a_superuser_stays_admin_without_the_group():
    root = UserFactory(username="root", is_superuser=True, roles=[roles.ADMIN])
    services.user_set_roles(user=root, roles=[], by=root)  # allowed: a superuser is admin anyway
    assert roles.roles_of(User.objects.get(pk=root.pk)) == {roles.ADMIN}


# --- user_set_active -------------------------------------------------------------------------------


def test_deactivate_and_reactivate(admin_user, sales_user):
    services.user_set_active(user=sales_user, active=False, by=admin_user)
    assert not User.objects.get(pk=sales_user.pk).is_active
    services.user_set_active(user=sales_user, active=True, by=admin_user)
    fresh = User.objects.get(pk=sales_user.pk)
    assert fresh.is_active
    assert roles.roles_of(fresh) == {roles.SALES}  # roles survive deactivation


def test_the_last_admin_cannot_deactivate_themselves(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.user_set_active(user=admin_user, active=False, by=admin_user)
    assert "last active administrator" in exc.value.messages[0]
    assert User.objects.get(pk=admin_user.pk).is_active


def test_an_admin_may_deactivate_another_admin_while_one_remains(admin_user):
    other = UserFactory(username="admin2", roles=[roles.ADMIN])
    services.user_set_active(user=other, active=False, by=admin_user)
    assert not User.objects.get(pk=other.pk).is_active
    with pytest.raises(ValidationError):
        services.user_set_active(user=admin_user, active=False, by=admin_user)


def test_only_a_superuser_may_deactivate_a_superuser(admin_user):
    root = UserFactory(username="root", is_superuser=True)
    with pytest.raises(ValidationError):
        services.user_set_active(user=root, active=False, by=admin_user)
    assert User.objects.get(pk=root.pk).is_active
    other_root = UserFactory(username="root2", is_superuser=True)
    services.user_set_active(user=root, active=False, by=other_root)
    assert not User.objects.get(pk=root.pk).is_active


# --- token_revoke ----------------------------------------------------------------------------------


def test_token_revoke_deletes_the_token(admin_user, sales_user):
    token, _ = ApiToken.objects.issue(user=sales_user, name="shop")
    services.token_revoke(token=token, by=admin_user)
    assert not ApiToken.objects.filter(pk=token.pk).exists()


# --- selectors.user_list ---------------------------------------------------------------------------


def usernames(qs):
    return [u.username for u in qs]


def test_user_list_searches_username_name_and_email():
    UserFactory(username="anna", first_name="Anna", last_name="Schmidt", email="a@firma.de")
    UserFactory(username="bernd", first_name="Bernd", last_name="Maier", email="bm@example.org")
    assert usernames(selectors.user_list(search="ANN")) == ["anna"]
    assert usernames(selectors.user_list(search="maier")) == ["bernd"]
    assert usernames(selectors.user_list(search="firma.de")) == ["anna"]
    assert usernames(selectors.user_list(search="anna schmidt")) == ["anna"]
    assert usernames(selectors.user_list(search="nobody")) == []


def test_user_list_filters_by_role_and_status(sales_user, marketing_user, admin_user, outsider):
    UserFactory(username="root", is_superuser=True)
    UserFactory(username="gone", roles=[roles.SALES], is_active=False)
    assert usernames(selectors.user_list(role=roles.SALES)) == ["gone", "sales"]
    assert usernames(selectors.user_list(role=roles.MARKETING)) == ["marketing"]
    assert usernames(selectors.user_list(role=roles.ADMIN)) == ["admin", "root"]
    assert usernames(selectors.user_list(role=selectors.NO_ROLE)) == ["outsider"]
    assert usernames(selectors.user_list(active=False)) == ["gone"]
    assert usernames(selectors.user_list(role=roles.SALES, active=True)) == ["sales"]


def test_user_list_has_roles_and_token_counts():
    multi = UserFactory(username="multi", roles=[roles.ADMIN, roles.SALES])
    ApiToken.objects.issue(user=multi, name="a")
    ApiToken.objects.issue(user=multi, name="b")
    [row] = selectors.user_list(search="multi")
    assert row.token_count == 2
    assert selectors.role_names(row) == [roles.SALES, roles.ADMIN]
