"""Login page, account settings, personal API tokens, password change, and the role decorator."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts import roles
from accounts.decorators import role_required
from accounts.models import ApiToken, hash_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("account-settings")
CREATE_URL = reverse("account-token-create")


def revoke_url(token):
    return reverse("account-token-revoke", args=[token.pk])


# --- role_required ----------------------------------------------------------------------------------


def _view(request):
    return HttpResponse("ok")


def test_role_required_redirects_anonymous_to_login(rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/somewhere/?q=1")
    request.user = AnonymousUser()
    response = role_required(roles.WORK_CONTACTS)(_view)(request)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/somewhere/%3Fq%3D1"


def test_role_required_refuses_users_without_the_capability(rf, sales_user, outsider):
    for user, capability in [(outsider, roles.WORK_CONTACTS), (sales_user, roles.EDIT_FUNNEL)]:
        request = rf.get("/")
        request.user = user
        with pytest.raises(PermissionDenied):
            role_required(capability)(_view)(request)


def test_role_required_lets_the_right_roles_in(rf, sales_user, marketing_user):
    request = rf.get("/")
    request.user = marketing_user
    assert role_required(roles.EDIT_FUNNEL)(_view)(request).status_code == 200
    request.user = sales_user
    assert role_required(roles.WORK_CONTACTS)(_view)(request).status_code == 200


def test_role_required_wants_a_capability():
    with pytest.raises(TypeError):
        role_required("sales")


def test_superuser_counts_as_admin(rf):
    boss = UserFactory(username="boss", is_superuser=True)
    request = rf.get("/")
    request.user = boss
    assert role_required(roles.MANAGE_USERS)(_view)(request).status_code == 200


# --- login ------------------------------------------------------------------------------------------


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "Log in to Trichter" in html


def test_login_with_the_form_lands_on_the_funnel(client, marketing_user):
    response = client.post(reverse("login"), {"username": "marketing", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("funnel:table")


def test_wrong_password_shows_an_error(client, marketing_user):
    response = client.post(reverse("login"), {"username": "marketing", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="alert alert-error"' in response.content.decode()


def test_logout_is_a_post(client_for, sales_user):
    client = client_for(sales_user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(SETTINGS_URL).status_code == 302


# --- account settings page -------------------------------------------------------------------------


def test_settings_need_login(client):
    response = client.get(SETTINGS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("user_fixture", "label"),
    [("sales_user", "Sales"), ("marketing_user", "Marketing"), ("admin_user", "Administrator")],
)
def test_settings_show_name_and_role(request, client_for, user_fixture, label):
    user = request.getfixturevalue(user_fixture)
    user.first_name, user.last_name = "Erika", "Muster"
    user.save()
    html = client_for(user).get(SETTINGS_URL).content.decode()
    assert "Erika Muster" in html
    assert f'<span class="badge badge-blue">{label}</span>' in html
    assert f'action="{CREATE_URL}"' in html
    assert reverse("password_change") in html


def test_outsider_sees_settings_without_tokens(client_for, outsider):
    client = client_for(outsider)
    response = client.get(SETTINGS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No role" in html
    assert CREATE_URL not in html
    assert client.post(CREATE_URL, {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


# --- API tokens -------------------------------------------------------------------------------------


def test_create_token_shows_the_key_once_and_stores_only_its_hash(client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(CREATE_URL, {"name": "Website forms"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["new_key"]
    assert len(key) == 40
    html = response.content.decode()
    assert key in html
    assert "shown only this once" in html

    token = ApiToken.objects.get(user=admin_user)
    assert token.name == "Website forms"
    assert token.key_hash == hash_key(key)
    assert token.prefix == key[:8]
    assert key not in {token.key_hash, token.name}

    later = client.get(SETTINGS_URL).content.decode()
    assert key not in later
    assert token.prefix in later
    assert "Website forms" in later


def test_created_token_authenticates_as_its_user(client_for, sales_user):
    from accounts.authentication import ApiTokenAuthentication

    key = client_for(sales_user).post(CREATE_URL, {"name": "sync"}).context["new_key"]
    user, token = ApiTokenAuthentication().authenticate_credentials(key)
    assert user == sales_user
    assert token.name == "sync"


def test_create_token_needs_a_name(client_for, marketing_user):
    response = client_for(marketing_user).post(CREATE_URL, {"name": ""})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_create_token_refuses_get(client_for, marketing_user):
    assert client_for(marketing_user).get(CREATE_URL).status_code == 405


def test_token_list_shows_only_own_tokens(client_for, sales_user, marketing_user):
    ApiToken.objects.issue(user=sales_user, name="mine")
    ApiToken.objects.issue(user=marketing_user, name="theirs")
    html = client_for(sales_user).get(SETTINGS_URL).content.decode()
    assert "mine" in html
    assert "theirs" not in html


def test_token_name_is_escaped(client_for, sales_user):
    ApiToken.objects.issue(user=sales_user, name="<b>x</b>")
    html = client_for(sales_user).get(SETTINGS_URL).content.decode()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_revoke_page_escapes_the_token_name(client_for, sales_user):
    token, _ = ApiToken.objects.issue(user=sales_user, name="<i>x</i>")
    html = client_for(sales_user).get(revoke_url(token)).content.decode()
    assert "<i>x</i>" not in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html


def test_revoke_asks_then_deletes(client_for, marketing_user):
    token, _ = ApiToken.objects.issue(user=marketing_user, name="old")
    client = client_for(marketing_user)
    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200
    assert "Revoke API token?" in confirm.content.decode()
    assert ApiToken.objects.filter(pk=token.pk).exists()

    response = client.post(revoke_url(token), follow=True)
    assert response.redirect_chain[-1][0] == SETTINGS_URL
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert "was revoked" in response.content.decode()


def test_cannot_revoke_another_users_token(client_for, sales_user, admin_user):
    token, _ = ApiToken.objects.issue(user=admin_user, name="admin's")
    client = client_for(sales_user)
    assert client.get(revoke_url(token)).status_code == 404
    assert client.post(revoke_url(token)).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_revoke_needs_login(client, sales_user):
    token, _ = ApiToken.objects.issue(user=sales_user, name="t")
    response = client.post(revoke_url(token))
    assert response.status_code == 302
    assert ApiToken.objects.filter(pk=token.pk).exists()


# --- password change --------------------------------------------------------------------------------


def test_password_change(client_for, sales_user):
    client = client_for(sales_user)
    url = reverse("password_change")
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()
    response = client.post(
        url,
        {
            "old_password": "pw-for-tests-1",
            "new_password1": "a-new-Secret-42",
            "new_password2": "a-new-Secret-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == SETTINGS_URL
    sales_user.refresh_from_db()
    assert sales_user.check_password("a-new-Secret-42")


def test_password_change_needs_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_outsider_gets_a_friendly_403_page_with_navigation(client_for, outsider):
    response = client_for(outsider).get(reverse("funnel:table"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "has no role in Trichter" in body
    assert reverse("logout") in body
