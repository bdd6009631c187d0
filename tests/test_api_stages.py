"""/api/v1/stages/ (API.md "Stages")."""

import pytest

from funnel.models import STAGE_TEXT_COLUMNS, Stage
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db

DEFAULT_KEYS = ["suspect", "lead", "prospect", "customer", "consumption", "reference"]
FIELDS = {"key", "name", "position", *STAGE_TEXT_COLUMNS, "contact_count"}


def test_list_is_the_six_stages_in_order_with_counts(api_client_for, sales_user):
    ContactFactory.create_batch(2)
    ContactFactory(stage=stage("customer"))
    body = api_client_for(sales_user).get("/api/v1/stages/").json()
    assert body["count"] == 6
    assert [s["key"] for s in body["results"]] == DEFAULT_KEYS
    assert [s["position"] for s in body["results"]] == list(range(6))
    assert all(set(s) == FIELDS for s in body["results"])
    counts = {s["key"]: s["contact_count"] for s in body["results"]}
    assert counts == {"suspect": 2, "lead": 0, "prospect": 0, "customer": 1, "consumption": 0, "reference": 0}


def test_retrieve_by_key(api_client_for, sales_user):
    ContactFactory(stage=stage("lead"))
    body = api_client_for(sales_user).get("/api/v1/stages/lead/").json()
    assert body["key"] == "lead"
    assert body["position"] == 1
    assert body["contact_count"] == 1
    assert set(body) == FIELDS


def test_unknown_key_is_404(api_client_for, sales_user, marketing_user):
    assert api_client_for(sales_user).get("/api/v1/stages/nope/").status_code == 404
    assert api_client_for(marketing_user).patch("/api/v1/stages/nope/", {}, format="json").status_code == 404


@pytest.mark.parametrize("role_user", ["marketing_user", "admin_user"])
def test_marketing_and_admin_change_name_and_texts(api_client_for, request, role_user):
    ContactFactory(stage=stage("lead"))
    texts = {column: f"new {column}" for column in STAGE_TEXT_COLUMNS}
    response = api_client_for(request.getfixturevalue(role_user)).patch(
        "/api/v1/stages/lead/", {"name": "Interessent", **texts}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Interessent"
    assert body["contact_count"] == 1
    lead = stage("lead")
    assert lead.name == "Interessent"
    assert all(getattr(lead, column) == f"new {column}" for column in STAGE_TEXT_COLUMNS)


def test_patch_of_one_text_leaves_the_others(api_client_for, marketing_user):
    before = stage("prospect")
    api_client_for(marketing_user).patch("/api/v1/stages/prospect/", {"metric": "Demos"}, format="json")
    after = stage("prospect")
    assert after.metric == "Demos"
    assert (after.name, after.task, after.discovery) == (before.name, before.task, before.discovery)


def test_key_position_and_count_are_read_only(api_client_for, marketing_user):
    response = api_client_for(marketing_user).patch(
        "/api/v1/stages/lead/",
        {"key": "hacked", "position": 5, "contact_count": 99, "task": "T"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["key"] == "lead"
    lead = Stage.objects.get(key="lead")
    assert lead.position == 1
    assert lead.task == "T"
    assert not Stage.objects.filter(key="hacked").exists()


def test_sales_may_not_patch(api_client_for, sales_user):
    before = stage("lead").name
    response = api_client_for(sales_user).patch("/api/v1/stages/lead/", {"name": "X"}, format="json")
    assert response.status_code == 403
    assert stage("lead").name == before


def test_outsider_may_not_patch(api_client_for, outsider):
    assert (
        api_client_for(outsider).patch("/api/v1/stages/lead/", {"name": "X"}, format="json").status_code
        == 403
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"task": "x" * 2001}, "task"),
        ({"discovery": ["a"]}, "discovery"),
        ({"metric": "a\x00b"}, "metric"),
    ],
)
def test_invalid_texts_are_400_and_nothing_changes(api_client_for, marketing_user, body, field):
    before = Stage.objects.values().get(key="lead")
    response = api_client_for(marketing_user).patch("/api/v1/stages/lead/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Stage.objects.values().get(key="lead") == before


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_other_methods_are_405(api_client_for, admin_user, method):
    client = api_client_for(admin_user)
    url = "/api/v1/stages/" if method == "post" else "/api/v1/stages/lead/"
    response = getattr(client, method)(url, {"key": "new", "name": "New", "position": 9}, format="json")
    assert response.status_code == 405
    assert Stage.objects.count() == 6


def test_list_runs_constant_queries(api_client_for, sales_user, django_assert_num_queries):
    client = api_client_for(sales_user)
    client.get("/api/v1/stages/")  # the first request records the token's use
    ContactFactory.create_batch(3)
    # token + roles + stages + their live counts
    with django_assert_num_queries(4):
        assert client.get("/api/v1/stages/").json()["results"][0]["contact_count"] == 3
    ContactFactory.create_batch(30, stage=stage("lead"))
    with django_assert_num_queries(4):
        assert client.get("/api/v1/stages/").json()["results"][1]["contact_count"] == 30
