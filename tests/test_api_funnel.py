"""GET /api/v1/funnel/ and POST /api/v1/funnel/plan/ (API.md, "Funnel figures"): conversion on
hand-built histories (skips, backward moves, periods that cut through a history) and the plan formula."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import contact_with_history as history

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_client_for, sales_user):
    return api_client_for(sales_user)


def at(month, day):
    return datetime(2026, month, day, 12, tzinfo=UTC)


def figures(api, **params):
    response = api.get("/api/v1/funnel/", params)
    assert response.status_code == 200, response.json()
    return {row["key"]: row for row in response.json()["stages"]}


def test_entries_conversion_skips_and_backward_moves(api):
    # A: suspect → lead → prospect → customer, all in March.
    history(
        (None, "suspect", at(3, 1)),
        ("suspect", "lead", at(3, 5)),
        ("lead", "prospect", at(3, 10)),
        ("prospect", "customer", at(3, 20)),
    )
    # B: suspect → lead, then skips prospect: lead → customer.
    history((None, "suspect", at(3, 2)), ("suspect", "lead", at(3, 3)), ("lead", "customer", at(3, 25)))
    # C: suspect → lead → back to suspect → lead again: entered lead once, never prospect.
    history(
        (None, "suspect", at(3, 3)),
        ("suspect", "lead", at(3, 4)),
        ("lead", "suspect", at(3, 6)),
        ("suspect", "lead", at(3, 8)),
    )
    # D: became a lead in February (before the period), prospect in March.
    history((None, "suspect", at(2, 1)), ("suspect", "lead", at(2, 10)), ("lead", "prospect", at(3, 15)))
    rows = figures(api, since="2026-03-01", until="2026-03-31")
    assert [
        rows[k]["entered"] for k in ("suspect", "lead", "prospect", "customer", "consumption", "reference")
    ] == [3, 3, 3, 2, 0, 0]
    assert rows["suspect"]["conversion_to_next"] == 1.0  # A, B, C all became leads
    assert rows["lead"]["conversion_to_next"] == pytest.approx(2 / 3)  # A, and B by skipping; not C
    assert rows["prospect"]["conversion_to_next"] == pytest.approx(2 / 3)  # A and B (skipped it); not D
    assert rows["customer"]["conversion_to_next"] == 0.0
    assert rows["consumption"]["conversion_to_next"] is None  # nothing entered
    assert rows["reference"]["conversion_to_next"] is None  # no next stage
    assert rows["suspect"]["cumulative_conversion"] == 1.0
    assert rows["prospect"]["cumulative_conversion"] == pytest.approx(2 / 3)
    assert rows["customer"]["cumulative_conversion"] == pytest.approx(4 / 9)
    assert (
        rows["lead"]["count"] == 1 and rows["customer"]["count"] == 2
    )  # now: C is a lead, A and B customers
    # A stayed in prospect 10 days (10 → 20 March); D is still there (no time counted).
    assert rows["prospect"]["median_days_in_stage"] == 10.0


def test_a_period_that_cuts_through_a_history(api):
    history((None, "suspect", at(1, 5)), ("suspect", "lead", at(1, 20)), ("lead", "prospect", at(4, 2)))
    january = figures(api, since="2026-01-01", until="2026-01-31")
    assert january["lead"]["entered"] == 1
    assert january["lead"]["conversion_to_next"] == 1.0  # became a prospect later, after the period
    april = figures(api, since="2026-04-01", until="2026-04-30")
    assert (april["lead"]["entered"], april["prospect"]["entered"]) == (0, 1)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-05-01", "until": "2026-04-01"}, "until"),
    ],
)
def test_bad_periods_are_400(api, params, field):
    response = api.get("/api/v1/funnel/", params)
    assert response.status_code == 400 and field in response.json()


def test_roles(api_client_for, outsider):
    assert api_client_for(None).get("/api/v1/funnel/").status_code == 401
    assert api_client_for(outsider).get("/api/v1/funnel/").status_code == 403
    assert api_client_for(outsider).post("/api/v1/funnel/plan/", {}, format="json").status_code == 403


# --- The plan -------------------------------------------------------------------------------------

RATES = {"suspect": 0.1, "lead": 0.3, "prospect": 0.5, "customer": 0.8, "consumption": 0.25}


def plan(api, body):
    response = api.post("/api/v1/funnel/plan/", body, format="json")
    return response.status_code, response.json()


def test_the_plan_follows_the_formula(api):
    status, body = plan(api, {"revenue_goal": 2_400_000, "average_order_value": 12_000, "rates": RATES})
    assert status == 200
    required = {row["key"]: row["required"] for row in body["stages"]}
    customers = math.ceil(2_400_000 / 12_000)  # 200
    prospects = math.ceil(customers / 0.5)  # 400
    leads = math.ceil(prospects / 0.3)  # 1334 (1333.3…)
    suspects = math.ceil(leads / 0.1)  # 13340 — exact decimal arithmetic, not 13340.000…1
    consumers = math.ceil(customers * 0.8)  # 160
    references = math.ceil(consumers * 0.25)  # 40
    assert required == {
        "suspect": suspects,
        "lead": leads,
        "prospect": prospects,
        "customer": customers,
        "consumption": consumers,
        "reference": references,
    }
    assert [row["key"] for row in body["stages"]] == [
        "suspect",
        "lead",
        "prospect",
        "customer",
        "consumption",
        "reference",
    ]


def test_rounding_always_up(api):
    status, body = plan(api, {"revenue_goal": 1000.01, "average_order_value": 1000, "rates": RATES})
    assert status == 200 and body["stages"][3] == {"key": "customer", "required": 2}


def test_a_missing_rate_comes_from_measured_conversion_or_is_400(api):
    rates = {k: v for k, v in RATES.items() if k != "lead"}
    status, body = plan(api, {"revenue_goal": 100, "average_order_value": 10, "rates": rates})
    assert status == 400 and "rates.lead" in body  # nothing measured yet
    # Two leads in the last year, one became a prospect: a measured lead rate of 0.5.
    now = datetime.now(UTC)
    history((None, "lead", now - timedelta(days=20)), ("lead", "prospect", now - timedelta(days=10)))
    history((None, "lead", now - timedelta(days=15)))
    status, body = plan(api, {"revenue_goal": 100, "average_order_value": 10, "rates": rates})
    assert status == 200
    required = {row["key"]: row["required"] for row in body["stages"]}
    assert required["lead"] == math.ceil(required["prospect"] / 0.5)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"average_order_value": 10, "rates": RATES}, "revenue_goal"),
        ({"revenue_goal": 0, "average_order_value": 10, "rates": RATES}, "revenue_goal"),
        ({"revenue_goal": 100, "average_order_value": -5, "rates": RATES}, "average_order_value"),
        ({"revenue_goal": "lots", "average_order_value": 10, "rates": RATES}, "revenue_goal"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": {**RATES, "lead": 0}}, "rates"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": {**RATES, "lead": 1.5}}, "rates"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": {**RATES, "reference": 0.5}}, "rates"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": {**RATES, "vip": 0.5}}, "rates"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": {**RATES, "lead": "x"}}, "rates"),
        ({"revenue_goal": 100, "average_order_value": 10, "rates": [0.1]}, "rates"),
    ],
)
def test_bad_plans_are_400(api, body, field):
    status, answer = plan(api, body)
    assert status == 400 and field in answer


# --- The planning page ----------------------------------------------------------------------------


def test_planning_page(client_for, sales_user, outsider, client):
    page = client_for(sales_user)
    assert page.get("/plan/").status_code == 200
    answer = page.get(
        "/plan/",
        {"revenue_goal": "2400000", "average_order_value": "12000", "months": "12"}
        | {f"rate_{k}": v for k, v in RATES.items()},
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "13,340" in html and "1,334" in html  # suspects and leads needed (see the formula test)
    assert "1,112" in html  # suspects per month: ceil(13340 / 12)
    bad = page.get(
        "/plan/", {"revenue_goal": "-1", "average_order_value": "x", "months": "0", "rate_lead": "2"}
    )
    assert bad.status_code == 400
    missing = page.get("/plan/", {"revenue_goal": "100", "average_order_value": "10", "months": "12"})
    assert missing.status_code == 400 and "none measured" in missing.content.decode()
    client.force_login(outsider)
    assert client.get("/plan/").status_code == 403
