"""Scoring configuration over the API: /api/v1/event-types/, /api/v1/scoring/{engagement,fit,stage}-rules/
and /api/v1/scoring/settings/."""

import pytest

from funnel.models import Stage
from scoring.ingest import events_ingest
from scoring.models import EngagementRule, EventType, FitRule, ScoringSettings, StageRule

pytestmark = pytest.mark.django_db

RULE_LISTS = [
    "/api/v1/event-types/",
    "/api/v1/scoring/engagement-rules/",
    "/api/v1/scoring/fit-rules/",
    "/api/v1/scoring/stage-rules/",
]
BUILTIN_TYPES = 15


@pytest.fixture
def rebuilds(monkeypatch):
    """Records rebuild requests instead of running the (separately tested) rebuild."""
    calls = []
    monkeypatch.setattr("scoring.rules.rebuild_request", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.fixture
def marketing(api_client_for, marketing_user):
    return api_client_for(marketing_user)


@pytest.fixture
def sales(api_client_for, sales_user):
    return api_client_for(sales_user)


def engagement_rule(**fields):
    return EngagementRule.objects.create(
        name=fields.pop("name", "Custom"),
        event_type=EventType.objects.get(key="download"),
        points=5,
        **fields,
    )


def fit_rule():
    return FitRule.objects.create(
        name="Engineers", attribute="job_title_contains", value="engineer", points=5
    )


def stage_rule():
    return StageRule.objects.create(
        name="Offer made",
        trigger="event_type",
        event_type=EventType.objects.get(key="offer_sent"),
        from_stage=Stage.objects.get(key="lead"),
        to_stage=Stage.objects.get(key="prospect"),
    )


# Roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [*RULE_LISTS, "/api/v1/scoring/settings/"])
@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_reads(api_client_for, request, url, role_user):
    assert api_client_for(request.getfixturevalue(role_user)).get(url).status_code == 200


@pytest.mark.parametrize("url", [*RULE_LISTS, "/api/v1/scoring/settings/"])
def test_outsider_is_403_and_no_token_is_401(api_client_for, outsider, url):
    assert api_client_for(outsider).get(url).status_code == 403
    assert api_client_for(None).get(url).status_code == 401


@pytest.mark.parametrize("url", RULE_LISTS)
def test_lists_are_paginated(sales, url):
    body = sales.get(url).json()
    assert set(body) == {"count", "next", "previous", "results"}


WRITES = {
    "event-type-create": ("post", lambda: "/api/v1/event-types/", {"key": "webinar"}),
    "event-type-patch": ("patch", lambda: "/api/v1/event-types/download/", {"name": "X"}),
    "event-type-delete": ("delete", lambda: "/api/v1/event-types/download/", None),
    "engagement-create": (
        "post",
        lambda: "/api/v1/scoring/engagement-rules/",
        {"name": "X", "event_type": "download", "points": 1},
    ),
    "engagement-patch": (
        "patch",
        lambda: f"/api/v1/scoring/engagement-rules/{engagement_rule().pk}/",
        {"points": 9},
    ),
    "engagement-delete": (
        "delete",
        lambda: f"/api/v1/scoring/engagement-rules/{engagement_rule().pk}/",
        None,
    ),
    "fit-create": (
        "post",
        lambda: "/api/v1/scoring/fit-rules/",
        {"name": "X", "attribute": "has_tag", "value": "vip", "points": 1},
    ),
    "fit-patch": ("patch", lambda: f"/api/v1/scoring/fit-rules/{fit_rule().pk}/", {"points": 9}),
    "fit-delete": ("delete", lambda: f"/api/v1/scoring/fit-rules/{fit_rule().pk}/", None),
    "stage-create": (
        "post",
        lambda: "/api/v1/scoring/stage-rules/",
        {"name": "X", "trigger": "fast_lane", "from_stage": "lead", "to_stage": "customer"},
    ),
    "stage-patch": ("patch", lambda: f"/api/v1/scoring/stage-rules/{stage_rule().pk}/", {"active": False}),
    "stage-delete": ("delete", lambda: f"/api/v1/scoring/stage-rules/{stage_rule().pk}/", None),
    "settings-patch": ("patch", lambda: "/api/v1/scoring/settings/", {"half_life_days": 60}),
}


def configuration():
    """Everything a refused write must leave as it was."""
    return (
        list(EventType.objects.values()),
        list(EngagementRule.objects.values()),
        list(FitRule.objects.values()),
        list(StageRule.objects.values()),
        list(ScoringSettings.objects.values()),
    )


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_sales_and_outsiders_may_not_write(api_client_for, sales_user, outsider, rebuilds, write):
    method, url, body = write
    url = url()
    before = configuration()
    for user, expected in ((sales_user, 403), (outsider, 403), (None, 401)):
        response = getattr(api_client_for(user), method)(url, body, format="json")
        assert response.status_code == expected
    assert configuration() == before
    assert rebuilds == []


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_marketing_and_admin_may_write(api_client_for, marketing_user, admin_user, rebuilds, write):
    method, url, body = write
    for user in (marketing_user, admin_user):
        if method == "delete" and "event-types" in url():
            continue  # built-in: see the event type tests
        response = getattr(api_client_for(user), method)(url(), body, format="json")
        assert response.status_code in (200, 201, 204), response.content
        if method == "post":
            break  # the second create would clash with the first


# Event types -------------------------------------------------------------------------------------


def test_event_types_list_the_builtins(sales):
    body = sales.get("/api/v1/event-types/", {"page_size": 100}).json()
    assert body["count"] == BUILTIN_TYPES
    demo = next(t for t in body["results"] if t["key"] == "demo_request")
    assert demo == {
        "key": "demo_request",
        "name": "Demo request",
        "description": "",
        "fast_lane": True,
        "builtin": True,
    }


def test_create_event_type(marketing, rebuilds):
    response = marketing.post(
        "/api/v1/event-types/",
        {"key": "webinar", "name": "Webinar", "description": "Attended a webinar", "fast_lane": False},
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {
        "key": "webinar",
        "name": "Webinar",
        "description": "Attended a webinar",
        "fast_lane": False,
        "builtin": False,
    }
    assert marketing.get("/api/v1/event-types/webinar/").json()["name"] == "Webinar"
    # Integrations may send it at once.
    assert events_ingest(payload={"id": "w", "type": "webinar", "anonymous_id": "v"}).accepted == 1
    assert rebuilds == []  # no points are given for a new type until a rule says so


def test_event_type_name_defaults_to_key_and_builtin_cannot_be_set(marketing):
    response = marketing.post("/api/v1/event-types/", {"key": "webinar", "builtin": True}, format="json")
    assert response.status_code == 201
    assert EventType.objects.get(key="webinar").name == "webinar"
    assert EventType.objects.get(key="webinar").builtin is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({"key": "Not a slug"}, "key"),
        ({"key": ""}, "key"),
        ({"key": "k" * 51}, "key"),
        ({"key": "page_view"}, "key"),  # taken
        ({"key": "ok", "name": "n" * 101}, "name"),
        ({"key": "ok", "description": "d" * 1001}, "description"),
        ({"key": "ok", "fast_lane": "maybe"}, "fast_lane"),
        ({"name": "No key"}, "key"),
    ],
)
def test_invalid_event_type_is_400(marketing, body, field):
    response = marketing.post("/api/v1/event-types/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert EventType.objects.count() == BUILTIN_TYPES


def test_builtin_event_type_name_and_fast_lane_may_change(marketing, rebuilds):
    response = marketing.patch(
        "/api/v1/event-types/service_call/", {"name": "Support call", "fast_lane": True}, format="json"
    )
    assert response.status_code == 200
    event_type = EventType.objects.get(key="service_call")
    assert (event_type.name, event_type.fast_lane, event_type.builtin) == ("Support call", True, True)
    # Sending the same key is not a change.
    assert (
        marketing.patch(
            "/api/v1/event-types/service_call/", {"key": "service_call"}, format="json"
        ).status_code
        == 200
    )


def test_builtin_event_type_key_cannot_change(marketing):
    response = marketing.patch("/api/v1/event-types/download/", {"key": "downloads"}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()
    assert EventType.objects.filter(key="download").exists()


def test_custom_event_type_key_may_change(marketing):
    EventType.objects.create(key="webinar", name="Webinar")
    response = marketing.patch("/api/v1/event-types/webinar/", {"key": "web-seminar"}, format="json")
    assert response.status_code == 200
    assert response.json()["key"] == "web-seminar"


def test_builtin_event_type_cannot_be_deleted(marketing):
    response = marketing.delete("/api/v1/event-types/download/")
    assert response.status_code == 400
    assert "Built-in" in response.json()["non_field_errors"][0]
    assert EventType.objects.count() == BUILTIN_TYPES


def test_event_type_with_events_cannot_be_deleted(marketing):
    EventType.objects.create(key="webinar", name="Webinar")
    events_ingest(payload={"id": "w", "type": "webinar", "anonymous_id": "v"})
    response = marketing.delete("/api/v1/event-types/webinar/")
    assert response.status_code == 400
    assert "events" in response.json()["non_field_errors"][0]
    assert EventType.objects.filter(key="webinar").exists()


def test_unused_custom_event_type_can_be_deleted(marketing):
    EventType.objects.create(key="webinar", name="Webinar")
    assert marketing.delete("/api/v1/event-types/webinar/").status_code == 204
    assert not EventType.objects.filter(key="webinar").exists()


def test_unknown_event_type_is_404(sales):
    assert sales.get("/api/v1/event-types/nope/").status_code == 404


# Engagement rules --------------------------------------------------------------------------------


def test_engagement_rule_list_shows_event_type_keys(sales):
    body = sales.get("/api/v1/scoring/engagement-rules/").json()
    assert body["count"] == EngagementRule.objects.count()
    pricing = next(r for r in body["results"] if r["name"] == "Pricing page visit")
    assert pricing["event_type"] == "page_view"
    assert (pricing["points"], pricing["daily_cap"], pricing["property_key"]) == (10, 20, "url")
    assert set(pricing) == {
        "id",
        "name",
        "event_type",
        "points",
        "topic",
        "property_key",
        "property_contains",
        "daily_cap",
        "active",
        "created_at",
        "updated_at",
    }
    assert pricing["created_at"].endswith("Z")


def test_create_engagement_rule_requests_a_rebuild(marketing, marketing_user, rebuilds):
    response = marketing.post(
        "/api/v1/scoring/engagement-rules/",
        {"name": "PCB downloads", "event_type": "download", "points": 20, "topic": "pcb-design"},
        format="json",
    )
    assert response.status_code == 201
    rule = EngagementRule.objects.get(pk=response.json()["id"])
    assert (rule.event_type.key, rule.points, rule.topic, rule.daily_cap) == (
        "download",
        20,
        "pcb-design",
        None,
    )
    assert len(rebuilds) == 1
    assert rebuilds[0]["by"] == marketing_user


def test_scoring_change_rebuilds_and_name_change_does_not(marketing, rebuilds):
    rule = engagement_rule()
    url = f"/api/v1/scoring/engagement-rules/{rule.pk}/"
    assert marketing.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    assert rebuilds == []
    assert marketing.patch(url, {"points": 5}, format="json").status_code == 200  # unchanged value
    assert rebuilds == []
    for change in ({"points": 7}, {"active": False}, {"event_type": "form_submit"}, {"daily_cap": 3}):
        rebuilds.clear()
        response = marketing.patch(url, change, format="json")
        assert response.status_code == 200, response.content
        assert len(rebuilds) == 1, change
    rule.refresh_from_db()
    assert (rule.name, rule.points, rule.active, rule.event_type.key, rule.daily_cap) == (
        "Renamed",
        7,
        False,
        "form_submit",
        3,
    )


def test_delete_engagement_rule_requests_a_rebuild(marketing, rebuilds):
    rule = engagement_rule()
    assert marketing.delete(f"/api/v1/scoring/engagement-rules/{rule.pk}/").status_code == 204
    assert not EngagementRule.objects.filter(pk=rule.pk).exists()
    assert len(rebuilds) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"event_type": "nope", "points": 1}, "event_type"),
        ({"event_type": "download", "points": 1001}, "points"),
        ({"event_type": "download", "points": "many"}, "points"),
        ({"event_type": "download"}, "points"),
        ({"event_type": "download", "points": 1, "daily_cap": 0}, "daily_cap"),
        ({"event_type": "download", "points": 1, "daily_cap": 2**40}, "daily_cap"),
        ({"event_type": "download", "points": 1, "property_key": "url"}, "non_field_errors"),
        ({"event_type": "download", "points": 1, "topic": "t" * 101}, "topic"),
        ({"points": 1}, "event_type"),
    ],
)
def test_invalid_engagement_rule_is_400(marketing, rebuilds, body, field):
    before = EngagementRule.objects.count()
    response = marketing.post("/api/v1/scoring/engagement-rules/", {"name": "X", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert EngagementRule.objects.count() == before
    assert rebuilds == []


def test_invalid_patch_changes_nothing(marketing, rebuilds):
    rule = engagement_rule()
    response = marketing.patch(
        f"/api/v1/scoring/engagement-rules/{rule.pk}/", {"property_contains": "x", "points": 9}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    rule.refresh_from_db()
    assert (rule.points, rule.property_contains) == (5, "")
    assert rebuilds == []


# Fit rules ---------------------------------------------------------------------------------------


def test_fit_rules_create_patch_delete(marketing, rebuilds):
    response = marketing.post(
        "/api/v1/scoring/fit-rules/",
        {"name": "Big", "attribute": "employees_gte", "value": "1000", "points": 5},
        format="json",
    )
    assert response.status_code == 201
    url = f"/api/v1/scoring/fit-rules/{response.json()['id']}/"
    assert len(rebuilds) == 1
    assert marketing.patch(url, {"name": "Very big"}, format="json").status_code == 200
    assert len(rebuilds) == 1
    assert marketing.patch(url, {"value": "5000"}, format="json").status_code == 200
    assert len(rebuilds) == 2
    assert marketing.delete(url).status_code == 204
    assert len(rebuilds) == 3


@pytest.mark.parametrize(
    "body, field",
    [
        ({"attribute": "employees_gte", "value": "many"}, "value"),
        ({"attribute": "industry_in", "value": ""}, "value"),
        ({"attribute": "shoe_size", "value": "42"}, "attribute"),
    ],
)
def test_invalid_fit_rule_is_400(marketing, rebuilds, body, field):
    before = FitRule.objects.count()
    response = marketing.post("/api/v1/scoring/fit-rules/", {"name": "X", "points": 1, **body}, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert FitRule.objects.count() == before
    assert rebuilds == []


def test_business_email_fit_rule_needs_no_value(marketing, rebuilds):
    response = marketing.post(
        "/api/v1/scoring/fit-rules/",
        {"name": "Biz", "attribute": "business_email", "points": 3},
        format="json",
    )
    assert response.status_code == 201


# Stage rules -------------------------------------------------------------------------------------


def test_stage_rules_use_stage_and_event_type_keys(sales):
    body = sales.get("/api/v1/scoring/stage-rules/").json()
    purchase = next(r for r in body["results"] if r["name"] == "Purchase")
    assert purchase == {
        "id": purchase["id"],
        "name": "Purchase",
        "trigger": "event_type",
        "event_type": "purchase",
        "from_stage": "suspect",
        "to_stage": "customer",
        "active": True,
    }


def test_create_stage_rule_needs_no_rebuild(marketing, rebuilds):
    response = marketing.post(
        "/api/v1/scoring/stage-rules/",
        {
            "name": "Offer",
            "trigger": "event_type",
            "event_type": "offer_sent",
            "from_stage": "lead",
            "to_stage": "prospect",
        },
        format="json",
    )
    assert response.status_code == 201
    rule = StageRule.objects.get(pk=response.json()["id"])
    assert (rule.event_type.key, rule.from_stage.key, rule.to_stage.key) == ("offer_sent", "lead", "prospect")
    assert rebuilds == []  # stage rules act on future events


@pytest.mark.parametrize(
    "body, field",
    [
        ({"trigger": "event_type", "from_stage": "lead", "to_stage": "prospect"}, "event_type"),
        (
            {"trigger": "fast_lane", "event_type": "download", "from_stage": "lead", "to_stage": "prospect"},
            "event_type",
        ),
        ({"trigger": "fast_lane", "from_stage": "prospect", "to_stage": "lead"}, "non_field_errors"),
        ({"trigger": "fast_lane", "from_stage": "lead", "to_stage": "lead"}, "non_field_errors"),
        ({"trigger": "fast_lane", "from_stage": "nope", "to_stage": "lead"}, "from_stage"),
        ({"trigger": "whenever", "from_stage": "lead", "to_stage": "prospect"}, "trigger"),
    ],
)
def test_invalid_stage_rule_is_400(marketing, body, field):
    before = StageRule.objects.count()
    response = marketing.post("/api/v1/scoring/stage-rules/", {"name": "X", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert StageRule.objects.count() == before


# Settings ----------------------------------------------------------------------------------------


def test_settings_read(sales):
    assert sales.get("/api/v1/scoring/settings/").json() == {
        "half_life_days": 30,
        "sales_threshold": 50,
        "grade_a_min": 40,
        "grade_b_min": 25,
        "grade_c_min": 10,
        "updated_at": sales.get("/api/v1/scoring/settings/").json()["updated_at"],
    }


def test_settings_patch(marketing, rebuilds):
    response = marketing.patch("/api/v1/scoring/settings/", {"sales_threshold": 70}, format="json")
    assert response.status_code == 200
    assert response.json()["sales_threshold"] == 70
    assert rebuilds == []  # the threshold applies from the next score change on
    response = marketing.patch("/api/v1/scoring/settings/", {"half_life_days": 45}, format="json")
    assert response.status_code == 200
    assert ScoringSettings.load().half_life_days == 45
    assert len(rebuilds) == 1
    assert marketing.patch("/api/v1/scoring/settings/", {"grade_a_min": 50}, format="json").status_code == 200
    assert len(rebuilds) == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"half_life_days": 3}, "half_life_days"),
        ({"half_life_days": 10000}, "half_life_days"),
        ({"sales_threshold": 0}, "sales_threshold"),
        ({"grade_a_min": 10, "grade_b_min": 20}, "non_field_errors"),
        ({"grade_c_min": 2**40}, "grade_c_min"),
    ],
)
def test_invalid_settings_are_400(marketing, rebuilds, body, field):
    response = marketing.patch("/api/v1/scoring/settings/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    stored = ScoringSettings.load()
    assert (stored.half_life_days, stored.grade_a_min, stored.grade_b_min) == (30, 40, 25)
    assert rebuilds == []


def test_settings_cannot_be_posted_or_deleted(marketing):
    assert marketing.post("/api/v1/scoring/settings/", {}, format="json").status_code == 405
    assert marketing.delete("/api/v1/scoring/settings/").status_code == 405


# Query counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", RULE_LISTS)
def test_list_query_count_is_constant(sales, url, django_assert_num_queries):
    sales.get("/api/v1/stages/")  # the first request records the token's use
    # token, roles, count, page (with the keys joined)
    with django_assert_num_queries(4):
        sales.get(url)
    for i in range(5):
        engagement_rule(name=f"More {i}")
        fit_rule()
        EventType.objects.create(key=f"custom-{i}", name=f"Custom {i}")
        stage_rule()
    with django_assert_num_queries(4):
        assert sales.get(url).json()["count"] >= 5
