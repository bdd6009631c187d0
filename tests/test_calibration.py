"""Scoring calibration: the statistics (pure functions), the data set and report on a synthetic
history, the page and the API for each role and for bad input, and the demo activity of load_demo."""

from __future__ import annotations

import random
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from funnel.models import Contact, StageTransition
from scoring import calibration
from scoring.calibration import (
    FeatureStat,
    calibration_report,
    fit_logistic,
    lift_counts,
    roc_auc,
    suggest_points,
    threshold_table,
)
from scoring.models import EngagementRule, Event, EventType, FitRule, ThresholdCrossing
from tests.factories import stage

API_REPORT = "/api/v1/scoring/calibration/"
API_APPLY = "/api/v1/scoring/calibration/apply/"


# --- The statistics --------------------------------------------------------------------------------


def test_logistic_regression_recovers_known_weights():
    rng = np.random.default_rng(20260)
    n = 6000
    X = np.column_stack(
        [
            np.log1p(rng.poisson(2.0, n)),  # strong positive
            np.log1p(rng.poisson(1.0, n)),  # negative
            rng.integers(0, 2, n),  # positive attribute
            rng.integers(0, 2, n),  # no effect
        ]
    ).astype(float)
    true = np.array([1.6, -0.9, 0.7, 0.0])
    p = 1 / (1 + np.exp(-(-2.0 + X @ true)))
    y = (rng.random(n) < p).astype(float)

    intercept, coefs = fit_logistic(X, y)

    assert np.all(np.abs(coefs - true) < 0.2), coefs
    assert abs(intercept - -2.0) < 0.3
    assert coefs[0] > coefs[2] > coefs[3] > coefs[1]  # the order of the true weights
    assert np.sign(coefs[0]) == 1 and np.sign(coefs[1]) == -1 and np.sign(coefs[2]) == 1
    # Deterministic: the same data gives the same numbers.
    again = fit_logistic(X, y)
    assert again[0] == intercept and np.array_equal(again[1], coefs)


def test_logistic_regression_gives_a_constant_column_no_weight_and_stays_finite_when_separable():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])  # perfectly separated by the first column
    intercept, coefs = fit_logistic(X, y)
    assert coefs[1] == 0.0
    assert 0 < coefs[0] < 50 and np.isfinite(intercept)


def test_lift_on_a_hand_built_data_set():
    has = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    lift = lift_counts(has, y)
    assert lift == {
        "with_contacts": 4,
        "with_converters": 2,
        "without_contacts": 6,
        "without_converters": 1,
        "rate_with": 0.5,
        "rate_without": pytest.approx(1 / 6),
        "lift": pytest.approx(3.0),
    }
    # Nobody without it converted: no finite lift; nobody has it: no rate.
    assert lift_counts([1, 0], [1, 0])["lift"] is None
    assert lift_counts([0, 0], [1, 0])["rate_with"] is None


def test_roc_auc_with_ties_by_hand():
    # Positives 0.35, 0.8, 0.4; negatives 0.1, 0.4. Pairs won: 0.35>0.1, 0.8>0.1, 0.8>0.4, 0.4>0.1,
    # and 0.4 = 0.4 counts half: (1 + 0 + 1 + 1 + 1 + 0.5) / 6.
    assert roc_auc([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1]) == pytest.approx(4.5 / 6)
    assert roc_auc([5, 5, 5, 5], [1, 0, 1, 0]) == 0.5
    assert roc_auc([1, 2, 3], [0, 1, 1]) == 1.0
    assert roc_auc([3, 2, 1], [0, 1, 1]) == 0.0
    assert roc_auc([1, 2], [1, 1]) is None


def test_suggested_points_keep_the_median_and_are_clamped():
    def rule(points, coef, kind="engagement"):
        return FeatureStat(
            key=f"{kind}:{points}", kind=kind, label="r", current_points=points, coefficient=coef
        )

    rules = [rule(10, 1.0), rule(30, 2.0), rule(40, 5.0), rule(5, -0.5), rule(15, 0.01, "fit")]
    untouched = FeatureStat(key="event_type:x", kind="event_type", label="x", coefficient=3.0)
    no_coefficient = rule(30, None)
    scale = suggest_points([*rules, untouched, no_coefficient])
    # Points ÷ coefficient of the rules positive in both, weighted by points: 8 (40), 10 (10),
    # 15 (30), 1500 (15); half of the 95 points is reached at 10, so the 10-point rule keeps its points.
    # The fit rule's tiny coefficient does not blow up the scale.
    assert scale == pytest.approx(10.0)
    assert [r.suggested_points for r in rules] == [10, 20, 50, -5, 0]
    assert untouched.suggested_points is None and no_coefficient.suggested_points is None
    big = [rule(10, 1.0), rule(20, 2.0), rule(20, 300.0)]
    suggest_points(big)
    assert [r.suggested_points for r in big] == [10, 20, 1000]  # clamped to the points' range


def test_suggested_points_are_stable_when_applied_one_by_one():
    def rules(points):
        coefs = [0.3, 1.1, 2.5, -0.7, 0.9]
        return [
            FeatureStat(key=f"engagement:{n}", kind="engagement", label="r", current_points=p, coefficient=c)
            for n, (p, c) in enumerate(zip(points, coefs, strict=True))
        ]

    points = [1, 10, 40, 15, 5]
    first = rules(points)
    suggest_points(first)
    for n in range(len(points)):  # apply one suggestion at a time
        points[n] = first[n].suggested_points
        again = rules(points)
        suggest_points(again)
        drift = [abs(a.suggested_points - b.suggested_points) for a, b in zip(again, first, strict=True)]
        assert max(drift) <= 1, drift


def test_threshold_table_precision_and_recall():
    engagement = [0, 10, 20, 30, 60, 80]
    y = [0, 0, 1, 0, 1, 1]
    rows = threshold_table(engagement, y, [20, 50, 100], current=50)
    assert [(r.threshold, r.flagged, r.converted) for r in rows] == [(20, 4, 3), (50, 2, 2), (100, 0, 0)]
    assert rows[0].precision == 0.75 and rows[0].recall == 1.0
    assert rows[1].current and rows[1].recall == pytest.approx(2 / 3)
    assert rows[2].precision is None


# --- A synthetic history ---------------------------------------------------------------------------


@pytest.fixture
def rebuild_calls(monkeypatch):
    calls = []
    monkeypatch.setattr("scoring.rules.rebuild_request", lambda *, by=None, reason="": calls.append(reason))
    return calls


@pytest.fixture
def history(db):
    """200 contacts created 400 days ago; 50 became customers 30 days ago. Before the cut-off (180 days
    ago) the converters downloaded twice, a few others once; converters clicked newsletters and sent
    forms more often, opened fewer emails; everyone viewed pages; ten asked for a demo (too few for a
    suggestion); converters' price requests come after the cut-off (must not count).
    """
    rng = random.Random(7)
    now = timezone.now()
    created = now - timedelta(days=400)
    before = now - timedelta(days=250)
    after = now - timedelta(days=100)
    suspect, customer = stage("suspect"), stage("customer")
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                email=f"c{n}@firma{n % 7}.de",
                job_title="Hardware engineer" if n % 2 else "Einkauf",
                stage=customer if n < 50 else suspect,
                created_at=created,
            )
            for n in range(200)
        ]
    )
    transitions = [StageTransition(contact=c, to_stage=suspect, at=created) for c in contacts]
    transitions += [
        StageTransition(contact=c, from_stage=suspect, to_stage=customer, at=now - timedelta(days=30))
        for c in contacts[:50]
    ]
    StageTransition.objects.bulk_create(transitions)
    types = dict(EventType.objects.values_list("key", "pk"))
    events = []

    def add(contact, key, at, **fields):
        events.append(
            Event(
                external_id=f"t-{contact.pk}-{len(events)}",
                type_id=types[key],
                contact=contact,
                occurred_at=at,
                applied_at=at,
                **fields,
            )
        )

    for n, contact in enumerate(contacts):
        converter = n < 50
        for _ in range(rng.randint(1, 4)):
            add(contact, "page_view", before, properties={"url": "/"})
        if converter or rng.random() < 0.15:
            for _ in range(2 if converter else 1):
                add(contact, "download", before, topic="emv")
        if rng.random() < (0.6 if converter else 0.3):
            for _ in range(rng.randint(1, 3)):
                add(contact, "newsletter_click", before)
        if rng.random() < (0.3 if converter else 0.7):
            add(contact, "email_open", before)
        if rng.random() < (0.5 if converter else 0.2):
            add(contact, "form_submit", before)
        if n % 20 == 0:
            add(contact, "demo_request", before)
        if converter:
            add(contact, "price_request", after)  # after the cut-off: leakage if it counted
    Event.objects.bulk_create(events)
    return {"now": now, "contacts": contacts}


def _rule(name):
    return EngagementRule.objects.get(name=name)


def test_report_measures_lift_and_suggests_points_from_events_before_the_cut_off(history):
    report = calibration_report(window_days=180, now=history["now"])
    assert report.enough_history and not report.message
    assert (report.contacts, report.converters) == (200, 50)
    rows = {f.label: f for f in report.engagement}

    download = rows["Download (paid with contact details)"]
    assert download.with_converters == 50 and download.with_contacts > 50
    assert download.lift is None  # no converter without a download: the lift is unbounded
    assert download.suggested_points is not None and download.suggested_points > 0
    assert download.coefficient > 0

    demo = rows["Demo request"]
    assert demo.with_contacts == 10 and demo.suggested_points is None and demo.note == "not enough data"

    price = rows["Price request"]
    assert price.with_contacts == 0 and price.suggested_points is None  # after the cut-off: not counted

    visit = rows["Website visit"]
    assert visit.with_contacts == 200 and visit.suggested_points is None  # everyone: not measurable

    fit = {f.label: f for f in report.fit}
    assert fit["Technical decision maker"].with_contacts == 100
    assert fit["Business email address"].with_contacts == 200
    assert report.thresholds.auc_current is not None and report.thresholds.auc_current > 0.5
    assert report.thresholds.auc_model > 0.9
    payload = report.as_dict()
    assert payload["engagement"][0]["key"].startswith("engagement:")


def test_report_says_when_there_is_not_enough_history(db):
    report = calibration_report(window_days=180)
    assert not report.enough_history
    assert "Not enough history" in report.message
    assert all(f.suggested_points is None for f in (*report.engagement, *report.fit))
    assert report.thresholds.auc_current is None


def test_report_rejects_a_window_out_of_range(db):
    for bad in (29, 731, "180", 180.0, True):
        with pytest.raises(ValueError):
            calibration_report(window_days=bad)


def test_threshold_report_counts_right_and_missed_calls(history):
    now = history["now"]
    converters, others = history["contacts"][:50], history["contacts"][50:]
    crossing = [
        *[
            ThresholdCrossing(contact=c, crossed_at=now - timedelta(days=60), engagement=55, threshold=50)
            for c in converters[:30]
        ],
        *[
            ThresholdCrossing(contact=c, crossed_at=now - timedelta(days=60), engagement=55, threshold=50)
            for c in others[:90]
        ],
        # Already a customer when crossing: not a call of the threshold.
        ThresholdCrossing(
            contact=converters[40], crossed_at=now - timedelta(days=10), engagement=70, threshold=50
        ),
        # Before the window: not counted as crossed in it, but the customer was flagged, not missed.
        ThresholdCrossing(
            contact=converters[45], crossed_at=now - timedelta(days=300), engagement=60, threshold=50
        ),
    ]
    ThresholdCrossing.objects.bulk_create(crossing)
    t = calibration_report(window_days=180, now=now).thresholds
    assert (t.crossed, t.became_customers) == (120, 30)
    assert t.precision == pytest.approx(0.25)
    assert t.customers == 50
    assert t.missed == 19  # 50 − 30 flagged in the window − 1 flagged before it
    assert t.missed_share == pytest.approx(19 / 50)
    assert any(row.current for row in t.table)


def test_report_takes_a_few_queries_whatever_the_number_of_contacts(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        calibration_report(window_days=180, now=history["now"])


# --- The page ----------------------------------------------------------------------------------------


URL = "/scoring/calibration/"
APPLY_URL = "/scoring/calibration/apply/"


def test_page_url_names():
    assert reverse("scoring:calibration") == URL
    assert reverse("scoring:calibration-apply") == APPLY_URL


def test_anonymous_goes_to_login_and_outsider_gets_403(client, client_for, outsider, db):
    assert client.get(URL).status_code == 302
    assert client.post(APPLY_URL, {"all": "1", "window_days": "180"}).status_code == 302
    logged_in = client_for(outsider)
    assert logged_in.get(URL).status_code == 403
    assert logged_in.post(APPLY_URL, {"all": "1", "window_days": "180"}).status_code == 403


def test_sales_reads_the_page_without_apply_buttons_and_cannot_apply(
    client_for, sales_user, history, rebuild_calls
):
    client = client_for(sales_user)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Download (paid with contact details)" in page and "ROC AUC" in page
    assert "not enough data" in page
    assert APPLY_URL not in page
    points = _rule("Download (paid with contact details)").points
    assert client.post(APPLY_URL, {"all": "1", "window_days": "180"}).status_code == 403
    assert _rule("Download (paid with contact details)").points == points and not rebuild_calls


@pytest.mark.parametrize("role", ["marketing_user", "admin_user"])
def test_marketing_and_admin_see_apply_buttons_and_the_rebuild_notice(request, client_for, role, history):
    page = client_for(request.getfixturevalue(role)).get(URL).content.decode()
    assert APPLY_URL in page and "Apply all" in page
    assert "starts a rebuild" in page


def test_page_says_when_there_is_not_enough_history(client_for, sales_user):
    page = client_for(sales_user).get(URL).content.decode()
    assert "Not enough history" in page


@pytest.mark.parametrize("window", ["29", "731", "abc", "", "1e3"])
def test_page_rejects_a_bad_window(client_for, sales_user, window):
    response = client_for(sales_user).get(URL, {"window_days": window})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()


def test_page_window_choice(client_for, sales_user, history):
    response = client_for(sales_user).get(URL, {"window_days": "365"})
    assert response.status_code == 200
    assert response.context["report"].window_days == 365


def test_apply_one_suggestion_changes_points_through_the_rules_service(
    client_for, marketing_user, history, rebuild_calls
):
    download = _rule("Download (paid with contact details)")
    suggested = calibration_report(window_days=180).engagement
    expected = next(f.suggested_points for f in suggested if f.rule_id == download.pk)
    assert expected != download.points
    others = {r.pk: r.points for r in EngagementRule.objects.exclude(pk=download.pk)}

    response = client_for(marketing_user).post(
        APPLY_URL, {"rule": f"engagement:{download.pk}", "window_days": "180"}
    )

    assert response.status_code == 302 and response["Location"] == f"{URL}?window_days=180"
    assert _rule(download.name).points == expected
    assert {r.pk: r.points for r in EngagementRule.objects.exclude(pk=download.pk)} == others
    assert len(rebuild_calls) == 1
    page = client_for(marketing_user).get(response["Location"]).content.decode()
    assert "Points changed" in page


def test_apply_all_changes_every_rule_with_a_suggestion(client_for, admin_user, history, rebuild_calls):
    report = calibration_report(window_days=180)
    expected = {f.key: f.suggested_points for f in report.suggestions}
    assert len(expected) >= 2
    response = client_for(admin_user).post(APPLY_URL, {"all": "1", "window_days": "180"})
    assert response.status_code == 302
    for key, points in expected.items():
        kind, pk = key.split(":")
        model = EngagementRule if kind == "engagement" else FitRule
        assert model.objects.get(pk=pk).points == points
    assert len(rebuild_calls) == len(expected)
    assert calibration_report(window_days=180).thresholds is not None


def _snapshot():
    return sorted(EngagementRule.objects.values_list("pk", "points")) + sorted(
        FitRule.objects.values_list("pk", "points")
    )


@pytest.mark.parametrize(
    "data",
    [
        {},  # neither a rule nor all
        {"window_days": "180"},
        {"window_days": "180", "rule": "engagement:1", "all": "1"},  # both
        {"window_days": "10", "all": "1"},  # window out of range
        {"window_days": "abc", "all": "1"},
        {"window_days": "180", "rule": "engagement:999999"},  # no such rule
        {"window_days": "180", "rule": "nonsense"},
        {"window_days": "180", "rule": "x" * 60},
        {"window_days": "180", "rule": "DEMO"},  # a rule without a suggestion (replaced below)
    ],
)
def test_apply_bad_input_is_400_and_changes_nothing(client_for, marketing_user, history, rebuild_calls, data):
    if data.get("rule") == "DEMO":
        data = {**data, "rule": f"engagement:{_rule('Demo request').pk}"}
    before = _snapshot()
    response = client_for(marketing_user).post(APPLY_URL, data)
    assert response.status_code == 400
    assert 'class="alert alert-error"' in response.content.decode()
    assert _snapshot() == before and not rebuild_calls


def test_apply_is_post_only(client_for, marketing_user, db):
    assert client_for(marketing_user).get(APPLY_URL).status_code == 405


def test_overview_links_to_the_calibration(client_for, sales_user):
    assert URL in client_for(sales_user).get("/scoring/").content.decode()


# --- The API -----------------------------------------------------------------------------------------


def test_api_report_for_every_role(api_client_for, sales_user, history):
    response = api_client_for(sales_user).get(API_REPORT, {"window_days": 180})
    assert response.status_code == 200
    data = response.json()
    assert data["window_days"] == 180 and data["contacts"] == 200 and data["converters"] == 50
    assert data["enough_history"] is True
    download = next(r for r in data["engagement"] if r["event_type"] == "download")
    assert download["suggested_points"] > 0 and download["key"].startswith("engagement:")
    assert {"crossed", "became_customers", "precision", "missed", "auc_current", "table"} <= set(
        data["thresholds"]
    )
    assert data["cutoff"].endswith("Z") or data["cutoff"].endswith("+00:00")


def test_api_report_default_window_and_auth(api_client_for, sales_user, outsider, db):
    assert api_client_for(sales_user).get(API_REPORT).json()["window_days"] == 180
    assert api_client_for(None).get(API_REPORT).status_code == 401
    assert api_client_for(outsider).get(API_REPORT).status_code == 403


@pytest.mark.parametrize("window", ["29", "731", "abc", "1.5", "-180"])
def test_api_report_rejects_a_bad_window(api_client_for, sales_user, window):
    response = api_client_for(sales_user).get(API_REPORT, {"window_days": window})
    assert response.status_code == 400
    assert "window_days" in response.json()


def test_api_apply_roles(api_client_for, sales_user, outsider, history, rebuild_calls):
    before = _snapshot()
    assert api_client_for(sales_user).post(API_APPLY, {"all": True}, format="json").status_code == 403
    assert api_client_for(outsider).post(API_APPLY, {"all": True}, format="json").status_code == 403
    assert api_client_for(None).post(API_APPLY, {"all": True}, format="json").status_code == 401
    assert _snapshot() == before and not rebuild_calls


def test_api_apply_rules_by_key(api_client_for, marketing_user, history, rebuild_calls):
    download = _rule("Download (paid with contact details)")
    key = f"engagement:{download.pk}"
    response = api_client_for(marketing_user).post(
        API_APPLY, {"rules": [key], "window_days": 180}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["rebuild"] is True
    assert [c["key"] for c in body["changed"]] == [key]
    assert _rule(download.name).points == body["changed"][0]["new_points"]
    assert rebuild_calls
    # Applying again changes nothing and asks for no rebuild.
    again = api_client_for(marketing_user).post(API_APPLY, {"rules": [key]}, format="json").json()
    assert again == {"changed": [], "rebuild": False}


def test_api_apply_all(api_client_for, admin_user, history, rebuild_calls):
    expected = {f.key for f in calibration_report(window_days=180).suggestions}
    response = api_client_for(admin_user).post(API_APPLY, {"all": True}, format="json")
    assert response.status_code == 200
    assert {c["key"] for c in response.json()["changed"]} == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"all": False},
        {"rules": []},
        {"rules": "engagement:1"},
        {"rules": [1, {"x": 1}]},
        {"rules": ["engagement:1"], "all": True},
        {"all": "maybe"},
        {"all": True, "window_days": 10},
        {"all": True, "window_days": "many"},
        {"rules": ["engagement:999999"]},
        {"rules": ["fit:abc"]},
        {"rules": ["DEMO"]},
        ["all"],
    ],
)
def test_api_apply_bad_input_is_400_and_changes_nothing(
    api_client_for, marketing_user, history, rebuild_calls, body
):
    if body == {"rules": ["DEMO"]}:
        body = {"rules": [f"engagement:{_rule('Demo request').pk}"]}
    before = _snapshot()
    response = api_client_for(marketing_user).post(API_APPLY, body, format="json")
    assert response.status_code == 400, response.content
    assert _snapshot() == before and not rebuild_calls


def test_api_apply_refuses_all_or_nothing(api_client_for, marketing_user, history, rebuild_calls):
    """One good and one bad key: nothing is applied."""
    good = f"engagement:{_rule('Download (paid with contact details)').pk}"
    bad = f"engagement:{_rule('Demo request').pk}"
    before = _snapshot()
    response = api_client_for(marketing_user).post(API_APPLY, {"rules": [good, bad]}, format="json")
    assert response.status_code == 400
    assert "Demo request" in response.json()["rules"][0]
    assert _snapshot() == before and not rebuild_calls


# --- Demo activity ------------------------------------------------------------------------------------


def test_load_demo_events_are_idempotent_and_calibrate(settings, db):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    counts = (Event.objects.count(), ThresholdCrossing.objects.count(), Contact.objects.count())
    assert counts[0] > 5000 and counts[1] > 0
    assert not Event.objects.filter(applied_at__isnull=True).exists()
    assert Event.objects.filter(external_id__startswith="demo-").count() == counts[0]
    scores = sorted(Contact.objects.values_list("pk", "score"))

    out = StringIO()
    call_command("load_demo", stdout=out)
    assert (Event.objects.count(), ThresholdCrossing.objects.count(), Contact.objects.count()) == counts
    assert sorted(Contact.objects.values_list("pk", "score")) == scores
    assert "0 events" in out.getvalue()

    # Every demo contact is still in its planned stage (no stage rule ran), and the scores come from events.
    assert not StageTransition.objects.exclude(rule="demo import").filter(by__isnull=True).exists()
    assert Contact.objects.filter(score__gt=0).exists()

    # Before their purchase, customers did more of what matters than those who never converted.
    customers = Contact.objects.filter(stage__position__gte=stage("customer").position)
    never = Contact.objects.filter(stage__key__in=["suspect", "lead"])

    def per_contact(contacts, keys):
        firsts = dict(
            StageTransition.objects.filter(
                contact__in=contacts, to_stage__position__gte=stage("customer").position
            )
            .order_by("contact_id", "at")
            .values_list("contact_id", "at")
        )
        events = Event.objects.filter(contact__in=contacts, type__key__in=keys)
        n = sum(
            1
            for c, at in events.values_list("contact_id", "occurred_at")
            if c not in firsts or at < firsts[c]
        )
        return n / contacts.count()

    keys = ["download", "service_call", "price_request", "demo_request"]
    assert per_contact(customers, keys) > 2 * per_contact(never, keys)

    report = calibration_report(window_days=180)
    assert report.enough_history
    assert [f for f in report.engagement if f.lift is not None]
    assert report.suggestions
    assert report.thresholds.auc_current is not None and 0.5 < report.thresholds.auc_current <= 1
    assert report.thresholds.crossed > 0 and report.thresholds.precision is not None
    assert report.thresholds.missed is not None


def test_calibration_constants_are_consistent():
    assert calibration.WINDOW_MIN_DAYS <= calibration.WINDOW_DEFAULT_DAYS <= calibration.WINDOW_MAX_DAYS
