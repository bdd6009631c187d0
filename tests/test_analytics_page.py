"""The analytics page (/analytics/) and its CSV downloads: figures of a hand-built history, the
period selector and its errors, breakdowns, cohorts, CSV safety, roles and a pinned query count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.csv import csv_response, safe_cell
from funnel.models import Contact
from tests.factories import CompanyFactory, UserFactory
from tests.factories import contact_with_history as history
from tests.test_browser import browser_page, log_in  # noqa: F401 (the browser test's fixture, login)

pytestmark = pytest.mark.django_db

PAGE = "/analytics/"
MARCH = {"period": "month", "month": "2025-03"}
EVIL_INDUSTRY = '=HYPERLINK("http://evil.example/x","click")'


def at(month, day, year=2025):
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def march(db):
    """A: suspect → lead → prospect in March 2025, customer in April (evil industry, owner "@Evil").
    B: suspect → lead in March (from an event). C: a lead since February, prospect in March."""
    evil_owner = UserFactory(username="evil", first_name="@Evil", last_name="Owner", roles=["sales"])
    a = history(
        (None, "suspect", at(3, 1)),
        ("suspect", "lead", at(3, 5)),
        ("lead", "prospect", at(3, 10)),
        ("prospect", "customer", at(4, 20)),
        company=CompanyFactory(industry=EVIL_INDUSTRY),
        owner=evil_owner,
        source=Contact.Source.WEBSITE,
    )
    b = history((None, "suspect", at(3, 2)), ("suspect", "lead", at(3, 3)), source=Contact.Source.EVENT)
    c = history((None, "lead", at(2, 10)), ("lead", "prospect", at(3, 15)), source=Contact.Source.EVENT)
    return a, b, c


@pytest.fixture
def page(client_for, sales_user):
    return client_for(sales_user)


class Tables(HTMLParser):
    """The body rows of every table with a class, as lists of cell texts: ``tables["summary-table"]``."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._in_body = False
        self._row = None
        self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault((attrs.get("class") or "").split()[-1], [])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    return Tables(response.content.decode()).tables


def rows_by_first_cell(rows):
    return {row[0]: row[1:] for row in rows}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trichter-')
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # BOM: Excel opens umlauts right
    return list(csv.reader(io.StringIO(text[1:])))


# --- The page -------------------------------------------------------------------------------------


def test_summary_funnel_and_charts_of_a_month(page, march):
    response = page.get(PAGE, MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    summary = rows_by_first_cell(tables(response)["summary-table"])
    # Columns: now, entered, conversion to next, cumulative, median days, p90 days.
    assert summary["Suspect"][:4] == ["0", "2", "100 %", "100 %"]
    assert summary["Lead"][:4] == ["1", "2", "50 %", "100 %"]  # A and B (C in February); A moved on
    assert summary["Prospect"][:4] == ["1", "2", "50 %", "50 %"]  # A and C; A became a customer in April
    assert summary["Prospect"][4] == "41"  # A: 10 March → 20 April
    assert summary["Customer"][:2] == ["1", "0"] and summary["Customer"][2] == "–"
    # The printable SVG funnel of entries, with the conversion between its bands.
    assert "2 entered" in html and "↓ 50 %" in html
    assert 'aria-labelledby="entries-funnel-title entries-funnel-desc"' in html
    # Both charts: a canvas naming its JSON config, the config, and the numbers as a table beside it.
    assert (
        '<canvas data-chart="chart-entries"' in html and 'id="chart-entries" type="application/json"' in html
    )
    assert 'data-chart="chart-conversion" data-chart-format="percent"' in html
    assert "vendor/chartjs/chart.umd.js" in html and "js/charts.js" in html
    assert html.count('<details class="chart-table">') == 2
    assert "Figures for <strong>March 2025</strong>" in html
    # CSV links carry the period.
    assert "/analytics/csv/entries/?period=month&amp;month=2025-03" in html


def test_breakdown_by_industry_escapes_user_text(page, march):
    response = page.get(PAGE, {**MARCH, "dimension": "industry"})
    html = response.content.decode()
    assert EVIL_INDUSTRY not in html  # escaped, never raw
    assert "=HYPERLINK(&quot;http://evil.example/x&quot;,&quot;click&quot;)" in html
    rows = rows_by_first_cell(tables(response)["breakdown-table"])
    # Per stage: entries, to next. A (evil industry) entered suspect, lead and prospect, moved on from each…
    assert rows[EVIL_INDUSTRY][:6] == ["1", "100 %", "1", "100 %", "1", "100 %"]
    # …B and C have no company: "Not known".
    assert rows["Not known"][:6] == ["1", "100 %", "1", "0 %", "1", "0 %"]


def test_breakdown_by_source_and_owner(page, march, sales_user):
    rows = rows_by_first_cell(tables(page.get(PAGE, {**MARCH, "dimension": "source"}))["breakdown-table"])
    assert rows["Trade fair or event"][:6] == ["1", "100 %", "1", "0 %", "1", "0 %"]
    assert rows["Website"][:2] == ["1", "100 %"]
    rows = rows_by_first_cell(tables(page.get(PAGE, {**MARCH, "dimension": "owner"}))["breakdown-table"])
    assert rows["@Evil Owner"][:2] == ["1", "100 %"]


def test_breakdown_empty_state(page, march):
    html = page.get(PAGE, {"period": "month", "month": "2025-06"}).content.decode()
    assert "Nothing entered in this period" in html
    assert "No contact entered a stage in this period." in html
    assert 'data-chart="chart-entries"' not in html  # no charts of zeros


def test_cohorts(page, march):
    response = page.get(PAGE, MARCH)
    rows = rows_by_first_cell(tables(response)["cohort-table"])
    # March 2025: A and B became leads; A was a customer in April (M+1). C became a lead in February.
    assert rows["March 2025"][:4] == ["2", "0 %", "50 %", "50 %"]
    assert rows["February 2025"][:3] == ["1", "0 %", "0 %"]
    assert rows["January 2025"][:2] == ["0", "–"]  # no leads that month
    assert len(rows) == 12  # a single month is widened to the 12 months up to it
    html = response.content.decode()
    assert 'class="num heat-3">50 %' in html
    # The target stage is a choice: by prospect, March's cohort reached 50 % in the same month (A).
    rows = rows_by_first_cell(tables(page.get(PAGE, {**MARCH, "stage": "prospect"}))["cohort-table"])
    assert rows["March 2025"][:3] == ["2", "50 %", "50 %"]
    assert rows["February 2025"][:3] == ["1", "0 %", "100 %"]


def test_cohort_cells_beyond_today_are_empty(page):
    now = timezone.now()
    history((None, "lead", now - timedelta(seconds=1)))
    response = page.get(PAGE)  # the current month
    rows = rows_by_first_cell(tables(response)["cohort-table"])
    this_month = date_label(timezone.localdate())
    assert rows[this_month] == ["1", "0 %"] + [""] * 12


def date_label(day: date) -> str:
    from django.utils.formats import date_format

    return date_format(day, "YEAR_MONTH_FORMAT")


def test_quarter_year_and_custom_periods(page, march):
    for params in (
        {"period": "quarter", "quarter": "2025-Q1"},
        {"period": "year", "year": "2025"},
        {"period": "custom", "since": "2025-03-01", "until": "2025-03-31"},
    ):
        response = page.get(PAGE, params)
        assert response.status_code == 200, params
        summary = rows_by_first_cell(tables(response)["summary-table"])
        # C came in as a lead in February: it passed suspect then, inside the quarter and year.
        expected = "2" if params["period"] == "custom" else "3"
        assert summary["Suspect"][1] == summary["Lead"][1] == expected, params
    html = page.get(PAGE, {"period": "quarter", "quarter": "2025-Q1"}).content.decode()
    assert "Figures for <strong>Q1 2025</strong>" in html


def test_the_default_is_the_current_month_so_far(page):
    history((None, "suspect", timezone.now() - timedelta(seconds=1)))
    response = page.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "(so far)" in html or timezone.localdate().day == _last_day(timezone.localdate())
    assert rows_by_first_cell(tables(response)["summary-table"])["Suspect"][1] == "1"


def _last_day(day: date) -> int:
    import calendar

    return calendar.monthrange(day.year, day.month)[1]


@pytest.mark.parametrize(
    "params",
    [
        {"period": "month", "month": "2025-13"},
        {"period": "month", "month": "March"},
        {"period": "quarter", "quarter": "2025-Q5"},
        {"period": "year", "year": "abc"},
        {"period": "year", "year": "1850"},
        {"period": "weekly"},
        {"period": "custom", "since": "2025-05-01", "until": "2025-04-01"},
        {"period": "custom", "since": "yesterday", "until": "2025-04-01"},
        {"period": "custom", "since": "2025-04-01"},
        {"period": "custom", "since": "0001-01-01", "until": "9999-12-31"},
        {"period": "custom", "since": "2001-01-01", "until": "2025-01-01"},  # more than ten years
        {"period": "month", "month": f"{timezone.localdate().year + 1}-01"},  # not begun
        {"dimension": "shoe_size"},
        {"stage": "suspect"},  # cohorts follow leads to later stages only
    ],
)
def test_bad_params_are_400_not_500(page, params):
    response = page.get(PAGE, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errorlist"' in html or "The period could not be read" in html
    csv_answer = page.get("/analytics/csv/summary/", params)
    assert csv_answer.status_code == 400
    assert csv_answer["Content-Type"] == "text/plain; charset=utf-8"
    assert csv_answer.content.decode().startswith("Invalid parameters:")


def test_a_bad_period_shows_the_error_on_the_form(page):
    response = page.get(PAGE, {"period": "custom", "since": "2025-05-01", "until": "2025-04-01"})
    assert response.status_code == 400
    assert "The end must not be before the start." in response.content.decode()


def test_empty_state_on_a_fresh_install(page):
    response = page.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No stage moves yet" in html
    assert "summary-table" not in html and "data-chart=" not in html


# --- HTMX -----------------------------------------------------------------------------------------


def test_htmx_swaps_the_figures_or_one_section(page, march):
    hx = {"HTTP_HX_REQUEST": "true"}
    whole = page.get(PAGE, MARCH, **hx, HTTP_HX_TARGET="analytics-figures")
    html = whole.content.decode()
    assert html.startswith('<div id="analytics-figures"') and "<html" not in html
    assert "HX-Request" in whole["Vary"] and "HX-Target" in whole["Vary"]
    section = page.get(PAGE, {**MARCH, "dimension": "owner"}, **hx, HTTP_HX_TARGET="analytics-breakdown")
    assert section.content.decode().startswith('<section id="analytics-breakdown"')
    assert "@Evil Owner" in section.content.decode()
    cohorts = page.get(PAGE, {**MARCH, "stage": "reference"}, **hx, HTTP_HX_TARGET="analytics-cohorts")
    assert cohorts.content.decode().startswith('<section id="analytics-cohorts"')
    # A bad period in an HTMX request: the errors replace the figures (htmx swaps no 400s).
    bad = page.get(PAGE, {"period": "month", "month": "2025-13"}, **hx, HTTP_HX_TARGET="analytics-breakdown")
    assert bad.status_code == 200 and bad["HX-Retarget"] == "#analytics-figures"
    assert "The period could not be read" in bad.content.decode()


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_summary(page, march):
    response = page.get("/analytics/csv/summary/", MARCH)
    assert 'filename="trichter-summary-2025-03-01-2025-03-31.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:3] == ["Stage", "In the stage now", "Entries"]
    body = rows_by_first_cell(rows[1:])
    assert body["Lead"][:4] == ["1", "2", "1", "0.5"]  # now, entered, moved on, share
    assert body["Prospect"][5:] == ["41.0", "41.0"]
    assert body["Customer"][3:] == ["", "", "", ""]


def test_csv_entries_and_conversion(page, march):
    rows = read_csv(page.get("/analytics/csv/entries/", MARCH))
    assert rows[0] == ["Week (Monday)", "Suspect", "Lead", "Prospect", "Customer", "Consumption", "Reference"]
    weeks = rows_by_first_cell(rows[1:])
    # A (Saturday 1 March) and B (Sunday 2 March) are in the week from Monday 24 February.
    assert weeks["2025-02-24"][:2] == ["2", "0"]
    assert weeks["2025-03-03"][:3] == ["0", "2", "0"]
    assert weeks["2025-03-10"][2] == "2"  # A and C became prospects
    rows = read_csv(page.get("/analytics/csv/conversion/", {"period": "quarter", "quarter": "2025-Q1"}))
    assert rows[0] == ["Month of entry", "Suspect", "Lead", "Prospect", "Customer", "Consumption"]
    months = rows_by_first_cell(rows[1:])
    # C came in as a lead in February, passing suspect on the way, and became a prospect since.
    assert months["2025-02-01"][:3] == ["1.0", "1.0", ""]
    assert months["2025-03-01"][:3] == ["1.0", "0.5", "0.5"]


def test_csv_breakdown_neutralises_formulas_and_keeps_numbers(page, march):
    rows = read_csv(page.get("/analytics/csv/breakdown/", {**MARCH, "dimension": "industry"}))
    assert rows[0][:3] == ["Industry", "Suspect: entries", "Suspect: conversion to next (share)"]
    labels = [row[0] for row in rows[1:]]
    assert "'" + EVIL_INDUSTRY in labels and EVIL_INDUSTRY not in labels
    evil = rows_by_first_cell(rows[1:])["'" + EVIL_INDUSTRY]
    assert evil[:2] == ["1", "1.0"]  # numbers stay numbers: not quoted, no apostrophe
    rows = read_csv(page.get("/analytics/csv/breakdown/", {**MARCH, "dimension": "owner"}))
    assert "'@Evil Owner" in [row[0] for row in rows[1:]]
    raw = page.get("/analytics/csv/breakdown/", {**MARCH, "dimension": "owner"}).content.decode()
    assert '"\'@Evil Owner"' not in raw and ",1," in raw  # plain cells, nothing quoted without need


def test_csv_cohorts(page, march):
    response = page.get("/analytics/csv/cohorts/", {**MARCH, "stage": "customer"})
    assert "trichter-cohorts-customer-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:4] == ["Month became a lead", "Leads", "M+0", "M+1"] and rows[0][-1] == "M+12"
    cohorts = rows_by_first_cell(rows[1:])
    assert cohorts["2025-03-01"][:4] == ["2", "0.0", "0.5", "0.5"]
    assert cohorts["2025-01-01"][:2] == ["0", ""]


def test_csv_unknown_kind_is_404(page):
    assert page.get("/analytics/csv/everything/", MARCH).status_code == 404
    assert page.get("/analytics/csv/summary/", MARCH).status_code == 200


def test_safe_cell():
    assert safe_cell(-3) == "-3" and safe_cell(2.5) == "2.5" and safe_cell(None) == ""
    for text in ("-3", "=1+1", "+49 30 1234", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Müller GmbH") == "Müller GmbH"
    assert safe_cell(date(2025, 3, 1)) == "2025-03-01"


def test_csv_response_filename_is_safe():
    response = csv_response('a"b\r\n/../x', ["h"], [[1]])
    assert response["Content-Disposition"] == 'attachment; filename="a-b-.-x.csv"'


# --- Roles and cost -------------------------------------------------------------------------------


def test_roles(client, client_for, outsider, marketing_user, admin_user):
    for url in (PAGE, "/analytics/csv/summary/"):
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    for url in (PAGE, "/analytics/csv/summary/"):
        assert client_for(outsider).get(url).status_code == 403
    for user in (marketing_user, admin_user):
        assert client_for(user).get(PAGE).status_code == 200


def test_nav_links_to_the_page(page):
    html = page.get(reverse("funnel:table")).content.decode()
    assert 'href="/analytics/"' in html


def _build(n: int):
    """n contacts, each with its own owner, industry and persona: breakdown labels must not cost a
    query per value."""
    from content.models import Persona

    for i in range(n):
        owner = UserFactory(username=f"owner{n}-{i}", first_name=f"Owner {i}", roles=["sales"])
        persona = Persona.objects.create(name=f"Persona {n}-{i}")
        history(
            (None, "suspect", at(3, 1 + i % 28)),
            ("suspect", "lead", at(3, 2 + i % 27)),
            company=CompanyFactory(industry=f"Industry {i}"),
            owner=owner,
            persona=persona,
        )


@pytest.mark.parametrize("dimension", ["owner", "persona"])
def test_query_count_does_not_grow_with_contacts(page, dimension, django_assert_max_num_queries):
    counts = []
    for n in (3, 30):
        _build(n)
        params = {**MARCH, "dimension": dimension}
        assert page.get(PAGE, params).status_code == 200  # folds the new transitions
        with CaptureQueriesContext(connection) as queries:
            assert page.get(PAGE, params).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # Session, user, roles; the fold's check; stages (once, for every part of the page), daily rows,
    # counts and a second stage list (the figures), dwell; the breakdown and its labels; cohort sizes
    # and cohorts.
    with django_assert_max_num_queries(14):
        page.get(PAGE, {**MARCH, "dimension": dimension})


# --- In a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_charts_render_and_htmx_swaps_rebuild_them(live_server, browser_page):  # noqa: F811
    from playwright.sync_api import expect

    UserFactory(username="owner", roles=["admin"])
    now = timezone.now()
    for i in range(12):  # demo-like: a few weeks of contacts moving on
        steps = [(None, "suspect", now - timedelta(days=50 - 3 * i))]
        if i % 2 == 0:
            steps.append(("suspect", "lead", now - timedelta(days=45 - 3 * i)))
        if i % 4 == 0:
            steps.append(("lead", "prospect", now - timedelta(days=40 - 3 * i)))
        history(*steps, source=Contact.Source.WEBSITE if i % 3 else Contact.Source.EVENT)
    page = browser_page
    log_in(page, live_server.url, "owner")
    since = (timezone.localdate() - timedelta(days=60)).isoformat()
    page.goto(
        f"{live_server.url}/analytics/?period=custom&since={since}&until={timezone.localdate().isoformat()}"
    )

    def chart_sizes():
        return page.evaluate(
            """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
                const chart = window.Chart && window.Chart.getChart(c);
                return {id: c.dataset.chart, drawn: !!chart, width: c.clientWidth, height: c.clientHeight,
                        points: chart ? chart.data.datasets[0].data.length : 0};
            })"""
        )

    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))"
    )
    sizes = chart_sizes()
    assert [s["id"] for s in sizes] == ["chart-entries", "chart-conversion"]
    assert all(s["drawn"] and s["width"] > 100 and s["height"] > 100 and s["points"] > 0 for s in sizes), (
        sizes
    )

    # A breakdown change swaps only its section; the URL keeps the whole state.
    page.evaluate("window.stillTheSamePage = true")
    page.select_option("#breakdown-dimension", "source")
    page.select_option("#breakdown-dimension", "owner")
    expect(page.locator("#breakdown-title")).to_contain_text("Owner")
    page.wait_for_url("**dimension=owner**")
    assert "since=" in page.url
    # A period change swaps all figures: the charts are built again, the old ones destroyed.
    page.select_option("#id_period", "year")
    page.wait_for_url("**period=year**")
    expect(page.locator(".period-shown")).to_contain_text(f"Figures for {timezone.localdate().year},")
    page.wait_for_function("() => Object.keys(Chart.instances).length === 2")
    assert page.evaluate("window.stillTheSamePage") is True
    sizes = chart_sizes()
    assert all(s["drawn"] and s["width"] > 100 for s in sizes), sizes
    assert "dimension=owner" in page.url and "period=year" in page.url
    # Back: htmx restores the page from its history cache, and the charts are drawn again.
    page.go_back()
    page.wait_for_url("**period=custom**")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))"
    )
    assert len(chart_sizes()) == 2
