"""/api/v1/contacts/ with move and transitions (API.md "Contacts")."""

import pytest

from funnel.api.serializers import ContactSerializer
from funnel.models import Contact, StageTransition, Tag
from funnel.services import contact_set_tags
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company",
    "stage",
    "owner",
    "tags",
    "source",
    "persona",
    "consent_email",
    "properties",
    "score",
    "fit_score",
    "engagement_score",
    "created_at",
    "updated_at",
}


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def stored():
    """What a rejected request must leave untouched."""
    return Contact.objects.count(), StageTransition.objects.count(), Tag.objects.count()


# Create ------------------------------------------------------------------------------------------


def test_create_with_all_fields(api, sales_user):
    company = CompanyFactory()
    response = api.post(
        "/api/v1/contacts/",
        {
            "email": "Anna@Example.com",
            "first_name": "Anna",
            "last_name": "Schmidt",
            "phone": "+49 30 1234",
            "job_title": "Einkauf",
            "company": company.pk,
            "stage": "lead",
            "owner": sales_user.pk,
            "tags": ["VIP", "messe"],
            "consent_email": True,
            "properties": {"source": "fair", "n": [1, 2]},
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    assert body["stage"] == "lead"
    assert body["company"] == company.pk
    assert body["owner"] == sales_user.pk
    assert body["tags"] == ["messe", "VIP"]
    assert (body["score"], body["fit_score"], body["engagement_score"]) == (0, 0, 0)
    contact = Contact.objects.get(pk=body["id"])
    assert contact.email == "Anna@Example.com"
    assert contact.stage.key == "lead"
    assert contact.consent_email is True
    assert contact.properties == {"source": "fair", "n": [1, 2]}
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "messe"]
    # The entry into the funnel is recorded, by the requesting user.
    [entry] = contact.transitions.all()
    assert (entry.from_stage, entry.to_stage.key, entry.by) == (None, "lead", sales_user)


def test_create_defaults_to_suspect(api):
    body = api.post("/api/v1/contacts/", {"last_name": "Neu"}, format="json").json()
    assert body["stage"] == "suspect"
    assert body["email"] is None
    assert body["tags"] == []
    assert body["properties"] == {}
    assert body["company"] is None
    assert body["owner"] is None
    assert StageTransition.objects.get(contact_id=body["id"]).to_stage.key == "suspect"


def test_read_only_fields_are_ignored_on_create(api):
    body = api.post(
        "/api/v1/contacts/",
        {"last_name": "X", "score": 99, "id": 12345, "created_at": "2000-01-01T00:00:00Z"},
        format="json",
    ).json()
    assert body["score"] == 0
    assert body["id"] != 12345
    assert not body["created_at"].startswith("2000")


def test_blank_email_is_stored_as_null_and_never_collides(api):
    for _ in range(2):
        assert (
            api.post("/api/v1/contacts/", {"email": "", "last_name": "X"}, format="json").status_code == 201
        )
    assert api.post("/api/v1/contacts/", {"email": None, "last_name": "Y"}, format="json").status_code == 201
    assert list(Contact.objects.values_list("email", flat=True)) == [None, None, None]


def test_duplicate_email_is_400_case_insensitive(api):
    ContactFactory(email="anna@example.com")
    before = stored()
    response = api.post("/api/v1/contacts/", {"email": " ANNA@example.COM "}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["email"]
    assert stored() == before


def test_duplicate_email_that_slips_past_validation_is_still_400(api, monkeypatch):
    """Two requests racing past the uniqueness check: the database constraint decides, the
    loser gets the same 400 (not a 500)."""
    ContactFactory(email="anna@example.com")
    monkeypatch.setattr(ContactSerializer, "validate_email", lambda self, value: value)
    monkeypatch.setattr(Contact, "clean", lambda self: None)
    before = stored()
    response = api.post("/api/v1/contacts/", {"email": "Anna@example.com", "tags": ["x"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["email"]
    assert stored() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"stage": "nope"}, "stage"),
        ({"stage": None}, "stage"),
        ({"stage": 1}, "stage"),
        ({"owner": 999999}, "owner"),
        ({"owner": "abc"}, "owner"),
        ({"owner": 99999999999999999999999}, "owner"),
        ({"company": 999999}, "company"),
        ({"company": "abc"}, "company"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@x.de"}, "email"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"last_name": "x" * 101}, "last_name"),
        ({"phone": "1" * 41}, "phone"),
        ({"job_title": "x" * 121}, "job_title"),
        ({"last_name": "a\x00b"}, "last_name"),
        ({"consent_email": "maybe"}, "consent_email"),
        ({"tags": "vip"}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["   "]}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"tags": [None]}, "tags"),
        ({"tags": [["nested"]]}, "tags"),
        ({"properties": ["a"]}, "properties"),
        ({"properties": "a"}, "properties"),
        ({"properties": 1}, "properties"),
        ({"properties": {"k": "x" * 16 * 1024}}, "properties"),
        ({"properties": {"a\x00": 1}}, "properties"),
        ({"properties": {"k": [{"k": "\x00"}]}}, "properties"),
        ({"properties": {"k": nested(40)}}, "properties"),
    ],
)
def test_invalid_create_is_400_naming_the_field_and_stores_nothing(api, body, field):
    before = stored()
    response = api.post("/api/v1/contacts/", {"last_name": "Valid", "tags": ["ok"], **body}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert stored() == before


def test_owner_must_be_active(api):
    gone = UserFactory(username="gone", is_active=False)
    response = api.post("/api/v1/contacts/", {"owner": gone.pk}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()
    assert Contact.objects.count() == 0


def test_fifty_tags_of_fifty_chars_are_fine(api):
    tags = [f"{i:02d}" + "x" * 48 for i in range(50)]
    response = api.post("/api/v1/contacts/", {"tags": tags}, format="json")
    assert response.status_code == 201
    assert response.json()["tags"] == tags


def test_tags_are_trimmed_and_deduplicated_case_insensitively(api):
    Tag.objects.create(name="VIP")
    body = api.post("/api/v1/contacts/", {"tags": [" vip ", "Messe", "messe"]}, format="json").json()
    assert body["tags"] == ["Messe", "VIP"]
    assert Tag.objects.count() == 2


# Read --------------------------------------------------------------------------------------------


def test_retrieve(api):
    company = CompanyFactory()
    contact = ContactFactory(company=company, stage=stage("prospect"))
    contact_set_tags(contact=contact, tags=["b", "a"])
    body = api.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert body["id"] == contact.pk
    assert body["email"] == contact.email
    assert body["stage"] == "prospect"
    assert body["company"] == company.pk
    assert body["tags"] == ["a", "b"]


def test_retrieve_ignores_list_filters(api):
    contact = ContactFactory()
    assert api.get(f"/api/v1/contacts/{contact.pk}/?stage=lead").status_code == 200
    assert api.get(f"/api/v1/contacts/{contact.pk}/?ordering=bogus").status_code == 200


# Update ------------------------------------------------------------------------------------------


def test_patch_changes_only_given_fields(api):
    contact = ContactFactory(first_name="Anna", last_name="Alt", phone="1")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"last_name": "Neu"}, format="json")
    assert response.status_code == 200
    assert response.json()["last_name"] == "Neu"
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.phone) == ("Anna", "Neu", "1")
    assert contact.transitions.count() == 1


def test_patch_stage_records_transition_by_user(api, sales_user):
    contact = ContactFactory()
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"stage": "prospect"}, format="json")
    assert response.status_code == 200
    assert response.json()["stage"] == "prospect"
    contact.refresh_from_db()
    assert contact.stage.key == "prospect"
    last = contact.transitions.last()
    assert (last.from_stage.key, last.to_stage.key, last.by) == ("suspect", "prospect", sales_user)


def test_patch_to_current_stage_records_nothing(api):
    contact = ContactFactory()
    assert (
        api.patch(f"/api/v1/contacts/{contact.pk}/", {"stage": "suspect"}, format="json").status_code == 200
    )
    assert contact.transitions.count() == 1


def test_patch_tags_replaces_them(api):
    contact = ContactFactory()
    contact_set_tags(contact=contact, tags=["old", "keep"])
    body = api.patch(f"/api/v1/contacts/{contact.pk}/", {"tags": ["keep", "new"]}, format="json").json()
    assert body["tags"] == ["keep", "new"]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["keep", "new"]
    body = api.patch(f"/api/v1/contacts/{contact.pk}/", {"tags": []}, format="json").json()
    assert body["tags"] == []


def test_patch_may_keep_own_email_and_clear_it(api):
    contact = ContactFactory(email="anna@example.com")
    url = f"/api/v1/contacts/{contact.pk}/"
    assert api.patch(url, {"email": "ANNA@example.com"}, format="json").status_code == 200
    assert api.patch(url, {"email": ""}, format="json").json()["email"] is None
    contact.refresh_from_db()
    assert contact.email is None


def test_patch_to_taken_email_is_400(api):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory(email="mine@example.com")
    response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"email": "Taken@Example.com"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["email"]
    contact.refresh_from_db()
    assert contact.email == "mine@example.com"


def test_invalid_patch_changes_nothing(api):
    contact = ContactFactory(last_name="Alt")
    contact_set_tags(contact=contact, tags=["a"])
    response = api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"last_name": "Neu", "stage": "lead", "tags": ["b"], "owner": 999999},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["owner"]
    contact.refresh_from_db()
    assert contact.last_name == "Alt"
    assert contact.stage.key == "suspect"
    assert list(contact.tags.values_list("name", flat=True)) == ["a"]
    assert contact.transitions.count() == 1


def test_patch_of_read_only_score_is_ignored(api):
    contact = ContactFactory()
    assert api.patch(f"/api/v1/contacts/{contact.pk}/", {"score": 100}, format="json").json()["score"] == 0
    contact.refresh_from_db()
    assert contact.score == 0


def test_put_is_405(api):
    contact = ContactFactory()
    assert api.put(f"/api/v1/contacts/{contact.pk}/", {"last_name": "X"}, format="json").status_code == 405


def test_unknown_contact_is_404_for_every_method(api):
    url = "/api/v1/contacts/999999/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"last_name": "X"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    assert api.post(url + "move/", {"stage": "lead"}, format="json").status_code == 404
    assert api.get(url + "transitions/").status_code == 404


# Delete ------------------------------------------------------------------------------------------


def test_delete(api):
    contact = ContactFactory()
    assert api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not StageTransition.objects.filter(contact_id=contact.pk).exists()


# Move and transitions ----------------------------------------------------------------------------


def test_move_records_transition_and_returns_contact(api, sales_user):
    contact = ContactFactory()
    response = api.post(
        f"/api/v1/contacts/{contact.pk}/move/", {"stage": "lead", "reason": "Met at the fair"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body["id"] == contact.pk
    assert body["stage"] == "lead"
    contact.refresh_from_db()
    assert contact.stage.key == "lead"
    last = contact.transitions.last()
    assert (last.from_stage.key, last.to_stage.key, last.by, last.reason) == (
        "suspect",
        "lead",
        sales_user,
        "Met at the fair",
    )


def test_move_without_reason(api):
    contact = ContactFactory()
    assert (
        api.post(f"/api/v1/contacts/{contact.pk}/move/", {"stage": "customer"}, format="json").status_code
        == 200
    )
    assert contact.transitions.last().reason == ""


def test_move_to_current_stage_is_200_and_records_nothing(api):
    contact = ContactFactory(stage=stage("lead"))
    response = api.post(f"/api/v1/contacts/{contact.pk}/move/", {"stage": "lead"}, format="json")
    assert response.status_code == 200
    assert response.json()["stage"] == "lead"
    assert contact.transitions.count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "stage"),
        ({"stage": "nope"}, "stage"),
        ({"stage": ""}, "stage"),
        ({"stage": None}, "stage"),
        ({"stage": "lead", "reason": "x" * 1001}, "reason"),
        ({"stage": "lead", "reason": ["x"]}, "reason"),
    ],
)
def test_invalid_move_is_400_and_records_nothing(api, body, field):
    contact = ContactFactory()
    response = api.post(f"/api/v1/contacts/{contact.pk}/move/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    contact.refresh_from_db()
    assert contact.stage.key == "suspect"
    assert contact.transitions.count() == 1


def test_outsider_may_not_move(api_client_for, outsider):
    contact = ContactFactory()
    response = api_client_for(outsider).post(
        f"/api/v1/contacts/{contact.pk}/move/", {"stage": "lead"}, format="json"
    )
    assert response.status_code == 403
    assert contact.transitions.count() == 1


def test_transitions_oldest_first(api, sales_user):
    contact = ContactFactory()
    api.post(f"/api/v1/contacts/{contact.pk}/move/", {"stage": "lead", "reason": "r1"}, format="json")
    api.patch(f"/api/v1/contacts/{contact.pk}/", {"stage": "prospect"}, format="json")
    body = api.get(f"/api/v1/contacts/{contact.pk}/transitions/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    first, second, third = body["results"]
    assert set(first) >= {"from_stage", "to_stage", "at", "by", "reason"}
    assert (first["from_stage"], first["to_stage"], first["by"]) == (None, "suspect", None)
    assert (second["from_stage"], second["to_stage"], second["by"], second["reason"]) == (
        "suspect",
        "lead",
        sales_user.pk,
        "r1",
    )
    assert (third["from_stage"], third["to_stage"]) == ("lead", "prospect")
    assert first["at"] <= second["at"] <= third["at"]


def test_transitions_show_the_rule(api):
    contact = ContactFactory()
    StageTransition.objects.create(
        contact=contact, from_stage=stage("suspect"), to_stage=stage("lead"), rule="r"
    )
    assert api.get(f"/api/v1/contacts/{contact.pk}/transitions/").json()["results"][-1]["rule"] == "r"


def test_transitions_are_paginated(api):
    contact = ContactFactory()
    for key in ("lead", "prospect", "customer"):
        api.post(f"/api/v1/contacts/{contact.pk}/move/", {"stage": key}, format="json")
    body = api.get(f"/api/v1/contacts/{contact.pk}/transitions/?page_size=2").json()
    assert body["count"] == 4
    assert [t["to_stage"] for t in body["results"]] == ["suspect", "lead"]
    assert body["next"] is not None
    assert api.get(f"/api/v1/contacts/{contact.pk}/transitions/?page_size=501").status_code == 400


def test_transitions_ignore_list_filters(api):
    contact = ContactFactory()
    response = api.get(f"/api/v1/contacts/{contact.pk}/transitions/?stage=lead&ordering=bogus")
    assert response.status_code == 200
    assert response.json()["count"] == 1


# Filters and ordering ----------------------------------------------------------------------------


def ids(response):
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


def test_filter_by_stage(api):
    lead = ContactFactory(stage=stage("lead"))
    ContactFactory()
    assert ids(api.get("/api/v1/contacts/?stage=lead")) == [lead.pk]


def test_filter_by_owner(api, sales_user, marketing_user):
    mine = ContactFactory(owner=sales_user)
    ContactFactory(owner=marketing_user)
    ContactFactory()
    assert ids(api.get(f"/api/v1/contacts/?owner={sales_user.pk}")) == [mine.pk]
    assert ids(api.get("/api/v1/contacts/?owner=999999")) == []


def test_filter_by_search_on_name_email_and_company(api):
    anna = ContactFactory(first_name="Anna", last_name="Schmidt", email="a@x.de")
    by_email = ContactFactory(first_name="B", last_name="B", email="schmidt.b@y.de")
    by_company = ContactFactory(first_name="C", last_name="C", company=CompanyFactory(name="Schmidt & Co"))
    ContactFactory(first_name="Other", last_name="Person")
    assert sorted(ids(api.get("/api/v1/contacts/?search=schmidt"))) == sorted(
        [anna.pk, by_email.pk, by_company.pk]
    )
    assert ids(api.get("/api/v1/contacts/?search=Anna%20Schmidt")) == [anna.pk]


def test_filter_by_score_min(api):
    high = ContactFactory()
    low = ContactFactory()
    Contact.objects.filter(pk=high.pk).update(score=50)
    Contact.objects.filter(pk=low.pk).update(score=10)
    assert ids(api.get("/api/v1/contacts/?score_min=20")) == [high.pk]
    assert sorted(ids(api.get("/api/v1/contacts/?score_min=-5"))) == sorted([high.pk, low.pk])


def test_filter_by_tag_case_insensitive(api):
    tagged = ContactFactory()
    contact_set_tags(contact=tagged, tags=["VIP", "other"])
    ContactFactory()
    assert ids(api.get("/api/v1/contacts/?tag=vip")) == [tagged.pk]


def test_filters_combine(api, sales_user):
    match = ContactFactory(stage=stage("lead"), owner=sales_user)
    ContactFactory(stage=stage("lead"))
    ContactFactory(owner=sales_user)
    assert ids(api.get(f"/api/v1/contacts/?stage=lead&owner={sales_user.pk}")) == [match.pk]


def test_orderings(api):
    a = ContactFactory(last_name="Bauer")
    b = ContactFactory(last_name="Adler")
    c = ContactFactory(last_name="Christ")
    for contact, score in ((a, 5), (b, 30), (c, 10)):
        Contact.objects.filter(pk=contact.pk).update(score=score)
    assert ids(api.get("/api/v1/contacts/")) == [c.pk, b.pk, a.pk]  # default: newest first
    assert ids(api.get("/api/v1/contacts/?ordering=-created_at")) == [c.pk, b.pk, a.pk]
    assert ids(api.get("/api/v1/contacts/?ordering=created_at")) == [a.pk, b.pk, c.pk]
    assert ids(api.get("/api/v1/contacts/?ordering=-score")) == [b.pk, c.pk, a.pk]
    assert ids(api.get("/api/v1/contacts/?ordering=score")) == [a.pk, c.pk, b.pk]
    assert ids(api.get("/api/v1/contacts/?ordering=last_name")) == [b.pk, a.pk, c.pk]


@pytest.mark.parametrize(
    "query, param",
    [
        ("stage=nope", "stage"),
        ("owner=abc", "owner"),
        ("owner=1.5", "owner"),
        ("owner=99999999999999999999999", "owner"),
        ("score_min=abc", "score_min"),
        ("score_min=99999999999", "score_min"),
        ("ordering=email", "ordering"),
        ("ordering=-last_name", "ordering"),
        ("ordering=score,last_name", "ordering"),
        ("search=a%00b", "search"),
        ("tag=" + "x" * 51, "tag"),
    ],
)
def test_invalid_filter_is_400_naming_the_parameter(api, query, param):
    ContactFactory()
    response = api.get(f"/api/v1/contacts/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_list_runs_constant_queries(api, sales_user, django_assert_num_queries):
    api.get("/api/v1/contacts/")  # the first request records the token's use

    def add(n):
        for _ in range(n):
            contact = ContactFactory(company=CompanyFactory(), owner=sales_user)
            contact_set_tags(contact=contact, tags=["a", f"t{contact.pk}"])

    add(3)
    # token + roles + count + page (with stage, company, owner) + tags
    with django_assert_num_queries(5):
        results = api.get("/api/v1/contacts/").json()["results"]
    assert len(results) == 3
    assert all(len(c["tags"]) == 2 and c["company"] and c["owner"] == sales_user.pk for c in results)
    add(27)
    with django_assert_num_queries(5):
        assert len(api.get("/api/v1/contacts/").json()["results"]) == 30
    # Filtering adds a fixed number: the stage lookup, the search's company lookup, the tag lookup.
    with django_assert_num_queries(8):
        assert (
            api.get("/api/v1/contacts/?stage=suspect&search=firma&tag=a&ordering=-score").json()["count"]
            == 30
        )
