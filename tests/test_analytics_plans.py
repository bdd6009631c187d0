"""Saved plans (analytics.plans, analytics.plan_selectors, analytics/views/plans.py): saving from the
planning page, editing and deleting, who may do what, and plan vs actual on hand-built histories with
the clock frozen."""

import csv
import io
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from analytics import plans
from analytics.models import SavedPlan
from analytics.plan_selectors import OVER, RUNNING, UPCOMING, cumulative_series, plan_progress
from analytics.planning import funnel_plan
from analytics.selectors import refresh
from tests.factories import contact_with_history as history

pytestmark = pytest.mark.django_db

RATES = {"suspect": 0.1, "lead": 0.3, "prospect": 0.5, "customer": 0.8, "consumption": 0.25}
INPUTS = {"revenue_goal": "2400000", "average_order_value": "12000", "months": "12"} | {
    f"rate_{key}": str(rate) for key, rate in RATES.items()
}
# 2,400,000 / 12,000 at RATES (see tests/test_api_funnel.py's formula test).
REQUIRED = {
    "suspect": 13340,
    "lead": 1334,
    "prospect": 400,
    "customer": 200,
    "consumption": 160,
    "reference": 40,
}


def at(year, month, day):
    return datetime(year, month, day, 12, tzinfo=timezone.get_current_timezone())


def freeze(monkeypatch, moment: datetime):
    monkeypatch.setattr(timezone, "now", lambda: moment)


def make_plan(**changes) -> SavedPlan:
    fields = {
        "name": "Year 2026",
        "revenue_goal": Decimal("2400000"),
        "average_order_value": Decimal("12000"),
        "starts_on": date(2026, 1, 1),
        "months": 12,
        "rates": RATES,
    }
    return plans.plan_save(**(fields | changes))


def chart_config(html: str) -> dict:
    match = re.search(r'<script id="plan-chart-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no chart config on the page"
    return json.loads(match.group(1))


@pytest.fixture(params=["sales_user", "marketing_user", "admin_user"])
def any_role(request):
    return request.getfixturevalue(request.param)


# --- the planning page moved ----------------------------------------------------------------------


def test_the_planning_page_lives_in_the_analytics_app(client_for, sales_user):
    assert reverse("analytics:plan") == "/plan/"
    with pytest.raises(NoReverseMatch):
        reverse("funnel:plan")
    html = client_for(sales_user).get(reverse("funnel:table")).content.decode()
    assert 'href="/plan/"' in html


# --- saving ---------------------------------------------------------------------------------------


def test_save_from_the_planning_page(client_for, marketing_user, monkeypatch):
    freeze(monkeypatch, at(2026, 2, 14))
    client = client_for(marketing_user)
    page = client.get("/plan/", INPUTS)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Save this plan" in html and 'action="/plans/new/"' in html
    assert 'value="2026-03"' in html  # the first month defaults to the next one

    response = client.post("/plans/new/", INPUTS | {"name": "Growth 2026", "starts_on": "2026-03"})
    plan = SavedPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"
    assert plan.name == "Growth 2026"
    assert plan.starts_on == date(2026, 3, 1) and plan.months == 12
    assert plan.revenue_goal == Decimal("2400000") and plan.average_order_value == Decimal("12000")
    assert plan.rates == RATES
    expected = funnel_plan(revenue_goal=Decimal("2400000"), average_order_value=Decimal("12000"), rates=RATES)
    assert plan.required == dict(expected) == REQUIRED
    assert plan.created_by == marketing_user


def test_the_measured_rates_used_are_stored(client_for, admin_user):
    # Two leads in the last year, one became a prospect: a measured lead rate of 0.5.
    now = timezone.now()
    history((None, "lead", now - timedelta(days=20)), ("lead", "prospect", now - timedelta(days=10)))
    history((None, "lead", now - timedelta(days=15)))
    inputs = {k: v for k, v in INPUTS.items() if k != "rate_lead"}
    client = client_for(admin_user)
    html = client.get("/plan/", inputs).content.decode()
    # The save form carries the rate the plan was calculated with, the measured one included.
    assert re.search(r'<input type="hidden" name="rate_lead" value="0.5"', html)
    response = client.post(
        "/plans/new/", inputs | {"rate_lead": "0.5", "name": "Measured", "starts_on": "2026-01"}
    )
    assert response.status_code == 302
    saved = SavedPlan.objects.get()
    assert saved.rates == RATES | {"lead": 0.5}
    # The service fills a rate left out in the same way.
    other = make_plan(rates={k: v for k, v in RATES.items() if k != "lead"})
    assert other.rates == saved.rates
    assert other.required == saved.required
    assert other.required["lead"] == 800  # ceil(400 / 0.5)


def test_sales_may_plan_but_not_save(client_for, sales_user):
    client = client_for(sales_user)
    page = client.get("/plan/", INPUTS)
    assert page.status_code == 200 and "Save this plan" not in page.content.decode()
    response = client.post("/plans/new/", INPUTS | {"name": "Mine", "starts_on": "2026-03"})
    assert response.status_code == 403
    assert not SavedPlan.objects.exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"rate_lead": "0"}, "A rate must be more than 0 and at most 1."),
        ({"rate_lead": "1.5"}, "Ensure this value is less than or equal to 1."),
        ({"revenue_goal": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"average_order_value": "-3"}, "Ensure this value is greater than or equal to 0.01."),
        ({"months": "61"}, "Ensure this value is less than or equal to 60."),
        ({"starts_on": "next spring"}, "Enter a valid date."),
    ],
)
def test_bad_input_is_400_with_the_message(client_for, marketing_user, change, message):
    client = client_for(marketing_user)
    response = client.post("/plans/new/", INPUTS | {"name": "Plan", "starts_on": "2026-03"} | change)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SavedPlan.objects.exists()

    plan = make_plan()
    edit = client.post(f"/plans/{plan.pk}/edit/", INPUTS | {"name": "Plan", "starts_on": "2026-03"} | change)
    assert edit.status_code == 400
    assert message in edit.content.decode()
    plan.refresh_from_db()
    assert plan.name == "Year 2026"


def test_a_missing_rate_with_nothing_measured_is_400(client_for, marketing_user):
    inputs = {k: v for k, v in INPUTS.items() if k != "rate_lead"}
    response = client_for(marketing_user).post(
        "/plans/new/", inputs | {"name": "Plan", "starts_on": "2026-03"}
    )
    assert response.status_code == 400
    assert "No rate for “Lead” given, and none measured in the last 365 days." in response.content.decode()
    assert not SavedPlan.objects.exists()


def test_a_duplicate_name_is_saved_with_a_warning(client_for, marketing_user):
    make_plan(name="Year 2026")
    response = client_for(marketing_user).post(
        "/plans/new/", INPUTS | {"name": "year 2026", "starts_on": "2026-03"}, follow=True
    )
    assert response.status_code == 200
    assert SavedPlan.objects.count() == 2
    assert "Another plan is also called “year 2026”." in response.content.decode()


# --- editing and deleting -------------------------------------------------------------------------


def test_edit_computes_the_requirements_again(client_for, admin_user):
    plan = make_plan()
    client = client_for(admin_user)
    form = client.get(f"/plans/{plan.pk}/edit/")
    assert form.status_code == 200
    assert 'value="2026-01"' in form.content.decode()
    response = client.post(
        f"/plans/{plan.pk}/edit/",
        INPUTS
        | {"name": "Year 2026, doubled", "starts_on": "2026-04", "revenue_goal": "4800000", "months": "6"},
    )
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"
    plan.refresh_from_db()
    assert plan.name == "Year 2026, doubled"
    assert plan.starts_on == date(2026, 4, 1) and plan.months == 6
    expected = funnel_plan(revenue_goal=Decimal("4800000"), average_order_value=Decimal("12000"), rates=RATES)
    assert plan.required == dict(expected)
    assert plan.required["customer"] == 400


def test_delete_asks_then_deletes_on_post(client_for, marketing_user):
    plan = make_plan(name="Old plan")
    client = client_for(marketing_user)
    confirm = client.get(f"/plans/{plan.pk}/delete/")
    assert confirm.status_code == 200 and "Delete “Old plan”?" in confirm.content.decode()
    assert SavedPlan.objects.filter(pk=plan.pk).exists()
    response = client.post(f"/plans/{plan.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/plans/"
    assert not SavedPlan.objects.filter(pk=plan.pk).exists()
    assert client.post(f"/plans/{plan.pk}/delete/").status_code == 404


def test_sales_may_not_edit_or_delete(client_for, sales_user):
    plan = make_plan()
    client = client_for(sales_user)
    assert client.get(f"/plans/{plan.pk}/edit/").status_code == 403
    assert (
        client.post(f"/plans/{plan.pk}/edit/", INPUTS | {"name": "x", "starts_on": "2026-01"}).status_code
        == 403
    )
    assert client.get(f"/plans/{plan.pk}/delete/").status_code == 403
    assert client.post(f"/plans/{plan.pk}/delete/").status_code == 403
    assert SavedPlan.objects.get(pk=plan.pk).name == "Year 2026"


# --- who sees what --------------------------------------------------------------------------------


def test_list_detail_and_csv_for_every_role(client_for, any_role):
    plan = make_plan(name="Year 2026")
    client = client_for(any_role)
    listing = client.get("/plans/")
    assert listing.status_code == 200 and "Year 2026" in listing.content.decode()
    detail = client.get(f"/plans/{plan.pk}/")
    assert detail.status_code == 200 and "Plan vs actual" in detail.content.decode()
    assert (f'href="/plans/{plan.pk}/edit/"' in detail.content.decode()) == (any_role.username != "sales")
    assert client.get(f"/plans/{plan.pk}/csv/").status_code == 200


def test_empty_list(client_for, sales_user):
    html = client_for(sales_user).get("/plans/").content.decode()
    assert "No saved plans yet." in html


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/plan/"),
        ("get", "/plans/"),
        ("post", "/plans/new/"),
        ("get", "/plans/{pk}/"),
        ("get", "/plans/{pk}/csv/"),
        ("get", "/plans/{pk}/edit/"),
        ("post", "/plans/{pk}/edit/"),
        ("get", "/plans/{pk}/delete/"),
        ("post", "/plans/{pk}/delete/"),
    ],
)
def test_outsiders_get_403_and_anonymous_visitors_the_login(client, outsider, method, url):
    plan = make_plan()
    url = url.format(pk=plan.pk)
    anonymous = getattr(client, method)(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login") + "?next=")
    client.force_login(outsider)
    assert getattr(client, method)(url).status_code == 403
    assert SavedPlan.objects.filter(pk=plan.pk).exists()


# --- plan vs actual -------------------------------------------------------------------------------


def small_plan() -> SavedPlan:
    """2 customers (24,000 / 12,000) in 2026: 140 suspects, 14 leads, 4 prospects, 2 customers,
    2 consumption, 1 reference."""
    return make_plan(name="Small", revenue_goal=Decimal("24000"))


def small_history():
    # A: a suspect before the plan began; lead, prospect and customer in it.
    history(
        (None, "suspect", at(2025, 12, 20)),
        ("suspect", "lead", at(2026, 1, 10)),
        ("lead", "prospect", at(2026, 2, 5)),
        ("prospect", "customer", at(2026, 3, 3)),
    )
    # B: skips prospect (lead → customer passes it, on April 10).
    history(
        (None, "suspect", at(2026, 1, 5)),
        ("suspect", "lead", at(2026, 1, 6)),
        ("lead", "customer", at(2026, 4, 10)),
    )
    # C: lead, back to suspect, lead again: one lead.
    history(
        (None, "suspect", at(2026, 2, 1)),
        ("suspect", "lead", at(2026, 2, 2)),
        ("lead", "suspect", at(2026, 2, 3)),
        ("suspect", "lead", at(2026, 2, 4)),
    )
    # D: after "today" (April 15): not counted yet.
    history((None, "suspect", at(2026, 4, 20)))


def test_plan_vs_actual_on_a_hand_built_history(client_for, sales_user, monkeypatch):
    plan = small_plan()
    assert plan.required == {
        "suspect": 140,
        "lead": 14,
        "prospect": 4,
        "customer": 2,
        "consumption": 2,
        "reference": 1,
    }
    small_history()
    refresh(wait=True)
    freeze(monkeypatch, at(2026, 4, 15))  # day 105 of 365
    progress = plan_progress(plan=plan)
    assert progress.status == RUNNING and progress.elapsed_days == 105 and progress.total_days == 365
    rows = {row.key: row for row in progress.stages}
    assert [rows[k].actual for k in REQUIRED] == [2, 3, 2, 2, 0, 0]
    # required × 105 ÷ 365, rounded down
    assert [rows[k].expected for k in REQUIRED] == [40, 4, 1, 0, 0, 0]
    assert [rows[k].difference for k in REQUIRED] == [-38, -1, 1, 2, 0, 0]
    assert [rows[k].on_track for k in REQUIRED] == [False, False, True, True, True, True]
    assert progress.revenue.actual == Decimal("24000")  # 2 customers × 12,000
    assert progress.revenue.expected == Decimal("6904.11")  # 24,000 × 105 / 365
    assert progress.revenue.on_track

    # Cumulative per month, the current month up to today; months to come are None.
    actual, planned = cumulative_series(progress, "customer")
    assert actual == [0, 0, 1, 2] + [None] * 8
    assert planned[-1] == 2 and planned[0] == 2 * 31 // 365
    assert cumulative_series(progress, "lead")[0][:4] == [2, 3, 3, 3]

    html = client_for(sales_user).get(f"/plans/{plan.pk}/").content.decode()
    assert "Day 105 of 365" in html
    made_with = [
        html.index(f"{name} → next") for name in ("Suspect", "Lead", "Prospect", "Customer", "Consumption")
    ]
    assert made_with == sorted(made_with)  # the rates in funnel order, whatever the JSON keeps
    assert html.count("badge-red") == 2 and "Behind" in html and "On track" in html
    config = chart_config(html)
    assert config["type"] == "line"
    assert [d["data"] for d in config["data"]["datasets"]] == [planned, actual]
    assert config["data"]["labels"][0] == "January 2026"


def test_the_chart_shows_the_chosen_stage_and_htmx_gets_only_the_chart(client_for, sales_user, monkeypatch):
    plan = small_plan()
    small_history()
    freeze(monkeypatch, at(2026, 4, 15))
    client = client_for(sales_user)
    html = client.get(f"/plans/{plan.pk}/", {"stage": "lead"}).content.decode()
    assert chart_config(html)["data"]["datasets"][1]["data"][:5] == [2, 3, 3, 3, None]
    fragment = client.get(f"/plans/{plan.pk}/", {"stage": "lead"}, HTTP_HX_REQUEST="true")
    assert "<html" not in fragment.content.decode() and 'id="plan-chart"' in fragment.content.decode()
    assert chart_config(fragment.content.decode())["data"]["datasets"][1]["data"][:2] == [2, 3]
    # An unknown stage falls back to customers.
    html = client.get(f"/plans/{plan.pk}/", {"stage": "nonsense"}).content.decode()
    assert chart_config(html)["data"]["datasets"][1]["data"][:4] == [0, 0, 1, 2]


@pytest.mark.parametrize(
    "today, status, elapsed",
    [
        (at(2025, 12, 31), UPCOMING, 0),
        (at(2026, 1, 1), RUNNING, 1),
        (at(2026, 4, 15), RUNNING, 105),
        (at(2026, 12, 31), RUNNING, 365),
        (at(2027, 1, 1), OVER, 365),
        (at(2030, 6, 1), OVER, 365),
    ],
)
def test_expected_by_today_is_pro_rata_by_days(monkeypatch, today, status, elapsed):
    # 365 customers in 2026: one a day.
    plan = make_plan(revenue_goal=Decimal(365 * 12000))
    freeze(monkeypatch, today)
    progress = plan_progress(plan=plan)
    assert progress.status == status and progress.elapsed_days == elapsed
    assert progress.stage("customer").expected == elapsed
    assert progress.stage("customer").required == 365
    assert progress.revenue.expected == Decimal(elapsed * 12000)


def test_a_plan_not_started_and_a_plan_that_is_over(client_for, sales_user, monkeypatch):
    small_history()
    plan = small_plan()
    freeze(monkeypatch, at(2025, 11, 30))
    client = client_for(sales_user)
    html = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "This plan starts on Jan. 1, 2026: there is nothing to compare yet." in html
    assert "Not started" in html and "Behind" not in html

    freeze(monkeypatch, at(2027, 3, 1))
    client = client_for(sales_user)  # a new session: the old one would have expired by then
    html = client.get(f"/plans/{plan.pk}/").content.decode()
    assert "This plan ended on Dec. 31, 2026: the final result." in html
    progress = plan_progress(plan=plan)
    assert progress.status == OVER
    # D's suspect of April 20 counts now; the expectation is the whole requirement.
    assert progress.stage("suspect").actual == 3 and progress.stage("suspect").expected == 140
    assert "Reached" in html and "Missed" in html


def test_the_list_shows_each_plans_status(client_for, sales_user, monkeypatch):
    make_plan(name="Past", starts_on=date(2025, 1, 1))
    make_plan(name="Current", starts_on=date(2026, 1, 1))
    make_plan(name="Next", starts_on=date(2027, 1, 1))
    freeze(monkeypatch, at(2026, 4, 15))
    html = client_for(sales_user).get("/plans/").content.decode()
    assert html.index("Next") < html.index("Current") < html.index("Past")  # newest start first
    for badge in ("Not started", "Running", "Over"):
        assert badge in html


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_has_the_numbers_and_neutralises_formulas(client_for, sales_user, monkeypatch):
    plan = make_plan(name="=cmd|' /C calc'!A0", revenue_goal=Decimal("24000"))
    small_history()
    freeze(monkeypatch, at(2026, 4, 15))
    response = client_for(sales_user).get(f"/plans/{plan.pk}/csv/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "Plan",
        "First day",
        "Last day",
        "As of",
        "Stage",
        "Required",
        "Actual",
        "Expected by today",
        "Difference",
        "Status",
    ]
    by_stage = {row[4]: row for row in rows[1:]}
    assert by_stage["Suspect"] == [
        "'=cmd|' /C calc'!A0",
        "2026-01-01",
        "2026-12-31",
        "2026-04-15",
        "Suspect",
        "140",
        "2",
        "40",
        "-38",
        "Behind",
    ]
    assert by_stage["Customer"][5:] == ["2", "2", "0", "2", "On track"]
    assert by_stage["Revenue"][5:] == ["24000.00", "24000.00", "6904.11", "17095.89", "On track"]
    assert all(row[0].startswith("'=") for row in rows[1:])


# --- query count ----------------------------------------------------------------------------------


def test_the_detail_page_reads_a_fixed_number_of_queries(client_for, sales_user, monkeypatch):
    plan = small_plan()
    small_history()
    freeze(monkeypatch, at(2026, 4, 15))
    client = client_for(sales_user)
    refresh(wait=True)
    client.get(f"/plans/{plan.pk}/")  # warm up: session, content types

    def count(url):
        refresh(wait=True)
        nonlocal last
        with CaptureQueriesContext(connection) as last:
            assert client.get(url).status_code == 200
        return len(last)

    last = None

    few = {url: count(url) for url in (f"/plans/{plan.pk}/", f"/plans/{plan.pk}/csv/")}
    for i in range(10):
        history((None, "suspect", at(2026, 1, 2 + i)), ("suspect", "lead", at(2026, 2, 2 + i)))
    many = {url: count(url) for url in few}
    assert many == few, [q["sql"] for q in last.captured_queries]
    assert few == {f"/plans/{plan.pk}/": DETAIL_QUERIES, f"/plans/{plan.pk}/csv/": CSV_QUERIES}


DETAIL_QUERIES = 7
CSV_QUERIES = 7
