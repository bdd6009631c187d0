"""The user pages (/users/…): role checks, the list (queries, search, filters, inline role editing),
creating users, deactivation, and revoking other users' API tokens."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from accounts import roles
from accounts.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
LIST_URL = reverse("user-list")
CREATE_URL = reverse("user-create")
HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD_PASSWORD = "Kaffeemaschine-42"


def detail_url(user):
    return reverse("user-detail", args=[user.pk])


def roles_url(user):
    return reverse("user-roles", args=[user.pk])


def deactivate_url(user):
    return reverse("user-deactivate", args=[user.pk])


def reactivate_url(user):
    return reverse("user-reactivate", args=[user.pk])


def token_revoke_url(token):
    return reverse("user-token-revoke", args=[token.user_id, token.pk])


def html(response) -> str:
    return response.content.decode()


# --- who may enter ---------------------------------------------------------------------------------


def _every_view(target, token):
    """(method, url) of every user-management view, for a target user and one of their tokens."""
    return [
        ("get", LIST_URL),
        ("get", CREATE_URL),
        ("post", CREATE_URL),
        ("get", detail_url(target)),
        ("get", roles_url(target)),
        ("post", roles_url(target)),
        ("get", deactivate_url(target)),
        ("post", deactivate_url(target)),
        ("get", reactivate_url(target)),
        ("post", reactivate_url(target)),
        ("get", token_revoke_url(token)),
        ("post", token_revoke_url(token)),
    ]


VIEW_COUNT = 12


@pytest.mark.parametrize("index", range(VIEW_COUNT))
@pytest.mark.parametrize("who", ["sales_user", "marketing_user", "outsider"])
def test_only_admins_may_use_the_user_pages(request, client_for, who, index):
    target = UserFactory(username="target", roles=[roles.SALES])
    token, _ = ApiToken.objects.issue(user=target, name="shop")
    method, url = _every_view(target, token)[index]
    client = client_for(request.getfixturevalue(who))
    response = getattr(client, method)(url, {"roles": ["admin"]} if method == "post" else None)
    assert response.status_code == 403
    # Nothing changed.
    fresh = User.objects.get(pk=target.pk)
    assert fresh.is_active and roles.roles_of(fresh) == {roles.SALES}
    assert ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("index", range(VIEW_COUNT))
def test_anonymous_visitors_go_to_the_login_page(client, index):
    target = UserFactory(username="target", roles=[roles.SALES])
    token, _ = ApiToken.objects.issue(user=target, name="shop")
    method, url = _every_view(target, token)[index]
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.parametrize("index", range(VIEW_COUNT))
def test_admins_may_use_every_user_page(client_for, admin_user, index):
    UserFactory(username="admin2", roles=[roles.ADMIN])
    target = UserFactory(username="target", roles=[roles.SALES])
    token, _ = ApiToken.objects.issue(user=target, name="shop")
    method, url = _every_view(target, token)[index]
    response = getattr(client_for(admin_user), method)(url)
    assert response.status_code in (200, 302, 400)


def test_a_superuser_without_the_admin_group_may_manage_users(client_for):
    root = UserFactory(username="root", is_superuser=True)
    assert client_for(root).get(LIST_URL).status_code == 200


def test_the_administration_link_leads_to_the_user_list(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).get(reverse("account-settings")))
    assert f'href="{LIST_URL}"' in page
    assert f'href="{reverse("admin:index")}"' not in page
    page = html(client_for(sales_user).get(reverse("account-settings")))
    assert f'href="{LIST_URL}"' not in page


def test_the_django_admin_link_is_for_staff_only(client_for, admin_user):
    client = client_for(admin_user)
    assert reverse("admin:index") not in html(client.get(LIST_URL))
    staff = UserFactory(username="staff", roles=[roles.ADMIN], is_staff=True)
    assert reverse("admin:index") in html(client_for(staff).get(LIST_URL))


def test_user_pages_refuse_other_methods(client_for, admin_user):
    client = client_for(admin_user)
    assert client.post(LIST_URL).status_code == 405
    assert client.post(detail_url(admin_user)).status_code == 405


# --- the list ----------------------------------------------------------------------------------------


def test_user_list_shows_the_columns(client_for, admin_user):
    anna = UserFactory(
        username="anna",
        first_name="Anna",
        last_name="Schmidt",
        email="anna@firma.de",
        roles=["sales", "marketing"],
    )
    ApiToken.objects.issue(user=anna, name="a")
    ApiToken.objects.issue(user=anna, name="b")
    page = html(client_for(admin_user).get(LIST_URL))
    assert "<html" in page
    row = page[page.index(f'id="user-{anna.pk}"') :]
    row = row[: row.index("</tr>")]
    for text in ("anna", "Anna Schmidt", "anna@firma.de", "Sales", "Marketing", "active", "never"):
        assert text in row
    assert '<td class="num">2</td>' in row


@pytest.mark.parametrize("count", [3, 30])
def test_user_list_queries_do_not_grow_with_the_rows(
    client_for, admin_user, django_assert_num_queries, count
):
    for i in range(count):
        user = UserFactory(username=f"u{i:02}", roles=[["sales"], ["marketing", "admin"], []][i % 3])
        ApiToken.objects.issue(user=user, name="t")
    client = client_for(admin_user)
    # session, request user, request user's roles, the page of users (with token counts), their
    # role groups (one prefetch).
    with django_assert_num_queries(5):
        response = client.get(LIST_URL)
    assert response.status_code == 200
    assert html(response).count('<tr id="user-') == count + 1  # + the admin


def test_user_list_paginates_at_50(client_for, admin_user, django_assert_num_queries):
    for i in range(60):
        UserFactory(username=f"u{i:02}")
    client = client_for(admin_user)
    # A full first page also counts the total: one more (bounded) query.
    with django_assert_num_queries(6):
        page1 = html(client.get(LIST_URL))
    assert page1.count('<tr id="user-') == 50
    assert "1–50 of 61 users" in page1
    # The last page knows the total from its rows: no COUNT, the same queries as the first page.
    with django_assert_num_queries(5):
        page2 = html(client.get(LIST_URL, {"page": 2}))
    assert page2.count('<tr id="user-') == 11
    assert "51–61 of 61 users" in page2


def test_user_list_search_and_filters(client_for, admin_user, sales_user, marketing_user, outsider):
    UserFactory(
        username="anna", first_name="Anna", last_name="Schmidt", email="anna@firma.de", roles=["sales"]
    )
    UserFactory(username="gone", roles=["sales"], is_active=False)
    client = client_for(admin_user)

    def rows(**params):
        page = html(client.get(LIST_URL, params))
        return sorted(u.username for u in User.objects.all() if f'id="user-{u.pk}"' in page)

    assert rows(search="schmidt") == ["anna"]
    assert rows(search="firma.de") == ["anna"]
    assert rows(role="sales") == ["anna", "gone", "sales"]
    assert rows(role="admin") == ["admin"]
    assert rows(role="none") == ["outsider"]
    assert rows(status="inactive") == ["gone"]
    assert rows(status="active", role="sales") == ["anna", "sales"]
    assert rows(search="nobody-at-all") == []
    assert "No users match your search and filters." in html(client.get(LIST_URL, {"search": "nobody"}))


def test_user_list_ignores_unknown_filter_values_and_says_so(client_for, admin_user):
    page = html(client_for(admin_user).get(LIST_URL, {"role": "boss", "status": "sleeping"}))
    assert "Unknown role “boss” ignored" in page
    assert "Unknown status “sleeping” ignored" in page
    assert f'id="user-{admin_user.pk}"' in page


def test_user_list_search_via_htmx_returns_the_results_only(client_for, admin_user):
    UserFactory(username="anna")
    response = client_for(admin_user).get(LIST_URL, {"search": "anna"}, **HTMX)
    page = html(response)
    assert "<html" not in page
    assert page.startswith('<section id="user-results"')
    assert "anna" in page and f'id="user-{admin_user.pk}"' not in page
    assert "HX-Request" in response["Vary"]


# --- creating users ----------------------------------------------------------------------------------


def create_data(**overrides):
    data = {
        "username": "anna",
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Schmidt",
        "password": GOOD_PASSWORD,
        "password_confirm": GOOD_PASSWORD,
        "roles": ["sales", "marketing"],
    }
    data.update(overrides)
    return data


def test_create_form_renders(client_for, admin_user):
    page = html(client_for(admin_user).get(CREATE_URL))
    for name in ("username", "email", "first_name", "last_name", "password", "password_confirm"):
        assert f'name="{name}"' in page
    assert page.count('type="checkbox" name="roles"') == 3
    assert 'autocomplete="new-password"' in page


def test_create_user(client_for, admin_user):
    response = client_for(admin_user).post(CREATE_URL, create_data(), follow=True)
    anna = User.objects.get(username="anna")
    assert response.redirect_chain[-1][0] == detail_url(anna)
    assert "User “anna” created." in html(response)
    assert anna.check_password(GOOD_PASSWORD)
    assert roles.roles_of(anna) == {roles.SALES, roles.MARKETING}
    assert (anna.first_name, anna.last_name, anna.email) == ("Anna", "Schmidt", "anna@example.com")


def test_create_user_without_roles(client_for, admin_user):
    data = create_data()
    del data["roles"]
    assert client_for(admin_user).post(CREATE_URL, data).status_code == 302
    assert roles.roles_of(User.objects.get(username="anna")) == frozenset()


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"username": "Admin"}, "username", "A user with that username already exists."),
        ({"password_confirm": "something-else-99"}, "password_confirm", "The two passwords do not match."),
        (
            {"password": "12345678", "password_confirm": "12345678"},
            "password",
            "This password is too common.",
        ),
        ({"username": ""}, "username", "This field is required."),
        ({"email": "nope"}, "email", "Enter a valid email address."),
        ({"roles": ["sales", "root"]}, "roles", "Select a valid choice."),
    ],
)
def test_create_user_errors_are_shown_inline_and_nothing_is_stored(
    client_for, admin_user, overrides, field, message
):
    before = User.objects.count()
    response = client_for(admin_user).post(CREATE_URL, create_data(**overrides))
    assert response.status_code == 400
    assert message in html(response)
    assert field in response.context["form"].errors
    assert User.objects.count() == before
    assert GOOD_PASSWORD not in html(response)  # passwords are not echoed back


# --- editing roles -----------------------------------------------------------------------------------


def test_roles_edit_row_via_htmx(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).get(roles_url(sales_user), {"edit": "1"}, **HTMX))
    assert "<html" not in page
    assert page.startswith(f'<tr id="user-{sales_user.pk}"')
    assert f'hx-post="{roles_url(sales_user)}"' in page
    assert f'id="id_user{sales_user.pk}_roles_0"' in page  # ids unique per row
    assert 'value="sales" checked' in page.replace(f' id="id_user{sales_user.pk}_roles_0"', "")


def test_roles_cancel_gives_the_plain_row(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).get(roles_url(sales_user), **HTMX))
    assert page.startswith(f'<tr id="user-{sales_user.pk}"')
    assert "<form" not in page


def test_roles_get_without_htmx_goes_to_the_users_page(client_for, admin_user, sales_user):
    response = client_for(admin_user).get(roles_url(sales_user))
    assert response.status_code == 302
    assert response["Location"] == detail_url(sales_user) + "#roles"


def test_role_change_via_htmx_returns_only_the_row(client_for, admin_user, sales_user):
    response = client_for(admin_user).post(roles_url(sales_user), {"roles": ["marketing", "admin"]}, **HTMX)
    assert response.status_code == 200
    page = html(response)
    assert "<html" not in page
    assert page.startswith(f'<tr id="user-{sales_user.pk}"') and page.rstrip().endswith("</tr>")
    assert "Marketing" in page and "Administrator" in page
    assert "Roles of “sales” saved." in page
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == {roles.MARKETING, roles.ADMIN}


def test_role_change_to_no_role(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).post(roles_url(sales_user), {}, **HTMX))
    assert "No role" in page
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == frozenset()


def test_role_change_without_htmx_redirects_to_the_users_page(client_for, admin_user, sales_user):
    response = client_for(admin_user).post(roles_url(sales_user), {"roles": ["marketing"]}, follow=True)
    assert response.redirect_chain[-1][0] == detail_url(sales_user)
    assert "Roles of “sales” saved." in html(response)
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == {roles.MARKETING}


def test_last_admin_cannot_drop_their_admin_role_via_htmx(client_for, admin_user):
    response = client_for(admin_user).post(roles_url(admin_user), {"roles": ["sales"]}, **HTMX)
    assert response.status_code == 200  # HTMX swaps only 2xx: the error must be seen
    page = html(response)
    assert "<html" not in page and page.startswith(f'<tr id="user-{admin_user.pk}"')
    assert "“admin” is the last active administrator." in page
    assert "<form" in page  # still editing
    assert roles.roles_of(User.objects.get(pk=admin_user.pk)) == {roles.ADMIN}


def test_last_admin_cannot_drop_their_admin_role_on_their_page(client_for, admin_user):
    response = client_for(admin_user).post(roles_url(admin_user), {"roles": []})
    assert response.status_code == 400
    assert "“admin” is the last active administrator." in html(response)
    assert roles.roles_of(User.objects.get(pk=admin_user.pk)) == {roles.ADMIN}


def test_admin_losing_the_role_loses_the_page(client_for, admin_user):
    UserFactory(username="admin2", roles=[roles.ADMIN])
    client = client_for(admin_user)
    assert client.post(roles_url(admin_user), {"roles": ["sales"]}).status_code == 302
    assert client.get(LIST_URL).status_code == 403


def test_unknown_role_is_refused_via_htmx(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).post(roles_url(sales_user), {"roles": ["root"]}, **HTMX))
    assert "Select a valid choice." in page
    assert roles.roles_of(User.objects.get(pk=sales_user.pk)) == {roles.SALES}


def test_unknown_user_is_404(client_for, admin_user):
    client = client_for(admin_user)
    assert client.get(reverse("user-detail", args=[999999])).status_code == 404
    assert client.post(reverse("user-roles", args=[999999]), {"roles": ["sales"]}).status_code == 404


# --- deactivating ------------------------------------------------------------------------------------


def test_deactivate_asks_first(client_for, admin_user, sales_user):
    page = html(client_for(admin_user).get(deactivate_url(sales_user)))
    assert "Deactivate “sales”?" in page
    assert 'method="post"' in page
    assert User.objects.get(pk=sales_user.pk).is_active


def test_deactivated_user_can_neither_log_in_nor_use_tokens(
    client, client_for, api_client_for, admin_user, sales_user
):
    from django.test import Client

    victim_session = Client()
    victim_session.force_login(sales_user)
    assert victim_session.get(reverse("funnel:contact-list")).status_code == 200
    api = api_client_for(sales_user)
    assert api.get("/api/v1/contacts/").status_code == 200

    response = client_for(admin_user).post(deactivate_url(sales_user), follow=True)
    assert response.redirect_chain[-1][0] == detail_url(sales_user)
    assert "was deactivated" in html(response)
    assert not User.objects.get(pk=sales_user.pk).is_active

    # The open session ends, a new login is refused, the token is refused.
    assert victim_session.get(reverse("funnel:contact-list")).status_code == 302
    fresh = Client()
    response = fresh.post(reverse("login"), {"username": "sales", "password": "pw-for-tests-1"})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in fresh.session
    assert api.get("/api/v1/contacts/").status_code == 401

    # Reactivating restores both.
    client_for(admin_user).post(reverse("user-reactivate", args=[sales_user.pk]))
    assert api.get("/api/v1/contacts/").status_code == 200
    response = fresh.post(reverse("login"), {"username": "sales", "password": "pw-for-tests-1"})
    assert response.status_code == 302


def test_last_admin_cannot_deactivate_themselves(client_for, admin_user):
    response = client_for(admin_user).post(deactivate_url(admin_user))
    assert response.status_code == 400
    assert "“admin” is the last active administrator and cannot be deactivated." in html(response)
    assert User.objects.get(pk=admin_user.pk).is_active


def test_admin_role_user_cannot_deactivate_a_superuser(client_for, admin_user):
    root = UserFactory(username="root", is_superuser=True)
    response = client_for(admin_user).post(deactivate_url(root))
    assert response.status_code == 400
    assert "Only a superuser can" in html(response)
    assert User.objects.get(pk=root.pk).is_active


# --- the user's page and their tokens ----------------------------------------------------------------


def test_user_detail_lists_the_users_tokens(client_for, admin_user, sales_user):
    token, key = ApiToken.objects.issue(user=sales_user, name="website forms")
    ApiToken.objects.issue(user=admin_user, name="admins own token")
    page = html(client_for(admin_user).get(detail_url(sales_user)))
    assert "website forms" in page
    assert token.prefix in page
    assert key not in page  # the key itself is never shown again
    assert "admins own token" not in page
    assert reverse("user-token-revoke", args=[sales_user.pk, token.pk]) in page


def test_admin_revokes_another_users_token(client_for, api_client_for, admin_user, sales_user):
    token, key = ApiToken.objects.issue(user=sales_user, name="website forms")
    api = api_client_for(None)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/contacts/").status_code == 200

    client = client_for(admin_user)
    confirm = html(client.get(token_revoke_url(token)))
    assert "Revoke API token?" in confirm and "website forms" in confirm
    assert ApiToken.objects.filter(pk=token.pk).exists()

    response = client.post(token_revoke_url(token), follow=True)
    assert response.redirect_chain[-1][0] == detail_url(sales_user)
    assert "The token “website forms” was revoked." in html(response)
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert api.get("/api/v1/contacts/").status_code == 401


def test_token_revoke_url_must_match_the_tokens_user(client_for, admin_user, sales_user, marketing_user):
    token, _ = ApiToken.objects.issue(user=sales_user, name="shop")
    url = reverse("user-token-revoke", args=[marketing_user.pk, token.pk])
    assert client_for(admin_user).post(url).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


# --- escaping ------------------------------------------------------------------------------------------


def test_user_text_is_escaped_everywhere(client_for, admin_user):
    evil = UserFactory(
        username="evil",
        first_name="<script>alert(1)</script>",
        last_name="<b>bold</b>",
        email="x@example.com",
    )
    ApiToken.objects.issue(user=evil, name="<img src=x onerror=alert(2)>")
    client = client_for(admin_user)
    pages = [
        html(client.get(LIST_URL)),
        html(client.get(LIST_URL, {"search": "<script>"}, **HTMX)),
        html(client.get(detail_url(evil))),
        html(client.post(roles_url(evil), {"roles": ["sales"]}, **HTMX)),
        html(client.get(deactivate_url(evil))),
        html(client.get(token_revoke_url(evil.api_tokens.get()))),
    ]
    for page in pages:
        assert "<script>alert(1)" not in page
        assert "<b>bold" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages[2]


def test_search_text_is_escaped(client_for, admin_user):
    page = html(client_for(admin_user).get(LIST_URL, {"search": '"><script>x</script>'}))
    assert "<script>x</script>" not in page


# --- German ----------------------------------------------------------------------------------------


@pytest.fixture
def back_to_english():
    # LocaleMiddleware leaves the request's language active in this thread; later tests expect English.
    yield
    translation.activate("en")


def test_user_pages_in_german(client_for, admin_user, sales_user, back_to_english):
    de = {"HTTP_ACCEPT_LANGUAGE": "de"}
    client = client_for(admin_user)
    page = html(client.get(LIST_URL, **de))
    for text in (
        "Benutzer anlegen",
        "Letzte Anmeldung",
        "Vertrieb",
        "Administrator",
        "aktiv",
        "Rollen bearbeiten",
    ):
        assert text in page
    assert "Add user" not in page
    page = html(client.post(roles_url(admin_user), {"roles": []}, **de, **HTMX))
    assert "„admin“ ist der letzte aktive Administrator." in page
    page = html(client.get(deactivate_url(sales_user), **de))
    assert "„sales“ deaktivieren?" in page
