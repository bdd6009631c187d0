"""The analytics fold: queued stage transitions → first passages → daily figures, dwell histograms and
lead cohorts; the selectors that sum them; and that a rebuild counts what the incremental fold did."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import fold
from analytics.models import Dimension, PendingTransition, StageCohort, StageDay, StageDwell, StagePassage
from analytics.selectors import (
    cohorts,
    conversion_by_month,
    daily_rows,
    entries_by_week,
    funnel_breakdown,
    funnel_figures,
    histogram_percentile,
    period,
)
from content.models import Persona
from funnel.models import Contact, StageTransition
from funnel.services import contact_move_stage
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage
from tests.factories import contact_with_history as history

pytestmark = pytest.mark.django_db


def at(month, day, hour=12):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def passages(contact):
    return {p.stage.key: p for p in StagePassage.objects.filter(contact=contact).select_related("stage")}


def day_row(key, day, dimension=Dimension.ALL, value=""):
    row = StageDay.objects.filter(stage=stage(key), day=day, dimension=dimension, value=value).first()
    return (row.entered, row.converted) if row else (0, 0)


def table_snapshot():
    return {
        "passages": sorted(
            StagePassage.objects.values_list(
                "contact_id", "stage_id", "at", "day", "landed", "next_at", "source"
            )
        ),
        "days": sorted(
            StageDay.objects.filter(entered__gt=0).values_list(
                "dimension", "day", "stage_id", "value", "entered", "converted"
            )
        ),
        "dwell": sorted(StageDwell.objects.values_list("day", "stage_id", "days", "contacts")),
        "cohorts": sorted(StageCohort.objects.values_list("month", "stage_id", "months_after", "contacts")),
    }


def test_every_transition_is_queued_by_the_trigger_whatever_wrote_it():
    contact = ContactFactory()  # the factory's entry transition: ORM create
    contact_move_stage(contact=contact, stage=stage("lead"))  # the service
    StageTransition.objects.bulk_create(
        [StageTransition(contact=contact, from_stage=stage("lead"), to_stage=stage("prospect"))]
    )
    queued = set(PendingTransition.objects.values_list("transition_id", flat=True))
    assert queued == set(StageTransition.objects.filter(contact=contact).values_list("id", flat=True))
    assert len(queued) == 3


def test_stage_count_and_queue_triggers_exist():
    """SQLite drops a table's triggers when a migration rebuilds the table (see funnel migration 0005)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    assert {
        "funnel_stage_count_insert",
        "funnel_stage_count_delete",
        "funnel_stage_count_move",
        "analytics_queue_transitions",
    } <= names


def test_passages_skips_backward_moves_and_coming_again():
    owner = UserFactory()
    contact = history(
        (None, "suspect", at(3, 1)),
        ("suspect", "lead", at(3, 5)),
        ("lead", "suspect", at(3, 6)),  # falls back …
        ("suspect", "lead", at(3, 8)),  # … and comes again: lead is not entered twice
        ("lead", "customer", at(3, 20)),  # skips prospect: passes it
        owner=owner,
        source=Contact.Source.EVENT,
    )
    assert fold.fold_pending() == 5
    assert not PendingTransition.objects.exists()
    got = passages(contact)
    assert {k: (p.at, p.landed) for k, p in got.items()} == {
        "suspect": (at(3, 1), True),
        "lead": (at(3, 5), True),
        "prospect": (at(3, 20), False),
        "customer": (at(3, 20), True),
    }
    assert got["suspect"].next_at == at(3, 5) and got["lead"].next_at == at(3, 20)
    assert got["customer"].next_at is None
    assert day_row("lead", date(2026, 3, 5)) == (1, 1)
    assert day_row("customer", date(2026, 3, 20)) == (1, 0)
    assert day_row("lead", date(2026, 3, 8)) == (0, 0)
    assert day_row("lead", date(2026, 3, 5), Dimension.SOURCE, "event") == (1, 1)
    assert day_row("lead", date(2026, 3, 5), Dimension.OWNER, str(owner.pk)) == (1, 1)
    # Days in stage only for stages it arrived in: lead 15 days (5 → 20 March); prospect was skipped.
    assert set(StageDwell.objects.values_list("stage__key", "days", "contacts")) == {
        ("suspect", 4, 1),
        ("lead", 15, 1),
    }


def test_a_later_fold_completes_earlier_passages():
    contact = history((None, "suspect", at(1, 10)), ("suspect", "lead", at(1, 20)))
    fold.fold_pending()
    assert day_row("lead", date(2026, 1, 20)) == (1, 0)
    contact_move_stage(contact=contact, stage=stage("prospect"))
    fold.fold_pending()
    assert day_row("lead", date(2026, 1, 20)) == (1, 1)  # converted counts on the day lead was entered
    assert passages(contact)["lead"].next_at is not None


def test_breakdowns_keep_what_the_contact_was_when_it_passed():
    persona = Persona.objects.create(name="Werkstattleiter")
    first, second = (
        UserFactory(first_name="Anna", last_name="Alt"),
        UserFactory(first_name="Ben", last_name="Neu"),
    )
    company = CompanyFactory(industry="Maschinenbau")
    contact = history(
        (None, "suspect", at(2, 1)),
        ("suspect", "lead", at(2, 3)),
        owner=first,
        company=company,
        persona=persona,
    )
    fold.fold_pending()
    Contact.objects.filter(pk=contact.pk).update(owner=second)
    contact_move_stage(contact=contact, stage=stage("prospect"))
    fold.fold_pending()
    p = period(date(2026, 2, 1), date(2026, 2, 28))
    owners = {row.label: row for row in funnel_breakdown(dimension="owner", since=p.since, until=p.until)}
    assert set(owners) == {"Anna Alt"}
    assert owners["Anna Alt"].entered["lead"] == 1 and owners["Anna Alt"].conversion["lead"] == 1.0
    industries = funnel_breakdown(dimension="industry", since=p.since, until=p.until)
    assert [(r.label, r.entered["suspect"]) for r in industries] == [("Maschinenbau", 1)]
    assert [r.label for r in funnel_breakdown(dimension="persona", since=p.since, until=p.until)] == [
        "Werkstattleiter"
    ]
    sources = funnel_breakdown(dimension="source", since=p.since, until=p.until)
    assert [r.label for r in sources] == ["Not known"]
    with pytest.raises(ValueError):
        funnel_breakdown(dimension="all")


def test_figures_median_p90_and_periods():
    # Five contacts arrive in prospect in April and stay 1, 2, 3, 10 and 30 days; one is still there.
    for index, stay in enumerate([1, 2, 3, 10, 30]):
        arrived = at(4, 1 + index)
        history(
            (None, "suspect", at(3, 1)),
            ("suspect", "prospect", arrived),
            ("prospect", "customer", arrived + timedelta(days=stay)),
        )
    history((None, "suspect", at(3, 1)), ("suspect", "prospect", at(4, 20)))
    fold.fold_pending()
    april = {f.key: f for f in funnel_figures(since=date(2026, 4, 1), until=date(2026, 4, 30))}
    assert april["prospect"].entered == 6 and april["prospect"].converted == 5
    assert april["prospect"].median_days_in_stage == 3.0
    assert april["prospect"].p90_days_in_stage == 30.0
    assert april["lead"].entered == 6 and april["lead"].median_days_in_stage is None  # all skipped lead
    assert april["suspect"].entered == 0 and april["suspect"].cumulative_conversion is None
    march = {f.key: f for f in funnel_figures(since=date(2026, 3, 1), until=date(2026, 3, 31))}
    assert march["suspect"].entered == 6 and march["suspect"].conversion_to_next == 1.0


@pytest.mark.parametrize(
    "histogram, q, expected",
    [
        ([], 0.5, None),
        ([(4, 1)], 0.5, 4.0),
        ([(1, 1), (3, 1)], 0.5, 2.0),  # even count: the mean of the two middle values
        ([(1, 2), (5, 1)], 0.5, 1.0),
        ([(10, 1), (1, 9)], 0.9, 1.0),  # nearest rank: the 9th of 10 is 1
        ([(10, 2), (1, 8)], 0.9, 10.0),
    ],
)
def test_histogram_percentile(histogram, q, expected):
    assert histogram_percentile(histogram, q) == expected


def test_series_by_week_and_month():
    history((None, "suspect", datetime(2026, 6, 1, 9, tzinfo=UTC)), ("suspect", "lead", at(6, 10)))  # Monday
    history((None, "suspect", at(6, 3)))
    history((None, "suspect", at(7, 2)), ("suspect", "lead", at(7, 3)))
    fold.fold_pending()
    p = period(date(2026, 6, 1), date(2026, 7, 31))
    rows = daily_rows(p)
    weeks = entries_by_week(p, rows)
    assert weeks.buckets[0] == date(2026, 6, 1) and weeks.buckets[-1] == date(2026, 7, 27)
    assert weeks.values["suspect"][0] == 2 and weeks.values["lead"][1] == 1 and sum(weeks.values["lead"]) == 2
    months = conversion_by_month(p, rows)
    assert months.buckets == [date(2026, 6, 1), date(2026, 7, 1)]
    assert months.values["suspect"] == [0.5, 1.0]
    assert months.values["prospect"] == [None, None]
    assert "reference" not in months.values  # no next stage


def test_lead_cohorts(settings):
    # Two leads in January: one a customer in March (M+2), one never; one lead in February, customer at once.
    history((None, "suspect", at(1, 2)), ("suspect", "lead", at(1, 5)), ("lead", "customer", at(3, 9)))
    history((None, "suspect", at(1, 2)), ("suspect", "lead", at(1, 25)))
    history((None, "lead", at(2, 14)), ("lead", "customer", at(2, 20)))
    fold.fold_pending()
    rows = {c.month: c for c in cohorts(period(date(2026, 1, 1), date(2026, 2, 28)), horizon=4)}
    january, february = rows[date(2026, 1, 1)], rows[date(2026, 2, 1)]
    assert (january.size, february.size) == (2, 1)
    assert january.reached["customer"][:4] == [0.0, 0.0, 0.5, 0.5]
    assert january.reached["prospect"][:3] == [0.0, 0.0, 0.5]  # skipping prospect passed it
    assert february.reached["customer"][0] == 1.0
    assert len(january.reached["customer"]) == 5  # M+0 … M+4, all in the past


def test_rebuild_counts_what_the_incremental_fold_counted():
    """On PostgreSQL the rebuild is set-based SQL, elsewhere the fold itself: both must agree."""
    persona = Persona.objects.create(name="Einkauf")
    contact = history(
        (None, "suspect", at(1, 2)),
        ("suspect", "lead", at(1, 5, hour=0)),
        owner=UserFactory(),
        company=CompanyFactory(industry="Handel"),
        persona=persona,
        source=Contact.Source.WEBSITE,
    )
    history((None, "suspect", at(1, 3)), ("suspect", "customer", at(2, 5)), ("customer", "lead", at(3, 1)))
    history(
        (None, "lead", at(1, 31, hour=23)),
        ("lead", "prospect", at(4, 1)),
        ("prospect", "reference", at(6, 2)),
    )
    fold.fold_pending()
    contact_move_stage(contact=contact, stage=stage("prospect"))
    fold.fold_pending()
    incremental = table_snapshot()
    assert incremental["passages"]
    assert fold.rebuild() == StageTransition.objects.count()
    assert table_snapshot() == incremental


def test_a_failed_fold_leaves_the_queue_and_counts_nothing(monkeypatch):
    contact = history((None, "suspect", at(1, 2)), ("suspect", "lead", at(1, 5)))
    queued = set(StageTransition.objects.filter(contact=contact).values_list("id", flat=True))

    def boom(self):
        raise RuntimeError("database went away")

    monkeypatch.setattr(fold._Figures, "write", boom)
    with pytest.raises(RuntimeError):
        fold.fold_pending()
    assert queued <= set(PendingTransition.objects.values_list("transition_id", flat=True))
    assert not StagePassage.objects.exists()
    monkeypatch.undo()
    assert fold.fold_pending() == 2
    assert fold.fold_pending() == 0  # folding again finds nothing: nothing counted twice
    assert day_row("suspect", date(2026, 1, 2)) == (1, 1)


def test_transitions_of_deleted_contacts_leave_the_queue():
    contact_id = history((None, "suspect", at(1, 2))).pk
    Contact.objects.filter(pk=contact_id).delete()
    assert PendingTransition.objects.filter(contact_id=contact_id).exists()
    assert fold.fold_pending() == 0
    assert not PendingTransition.objects.exists()


def test_a_batch_costs_the_same_queries_for_few_or_many_contacts():
    def make(n):
        for _ in range(n):
            history(
                (None, "suspect", at(1, 2)), ("suspect", "lead", at(1, 5)), ("lead", "prospect", at(2, 1))
            )

    def queries_of_one_batch():
        with CaptureQueriesContext(connection) as ctx:
            assert fold.fold_pending(max_batches=1)
        return len(ctx.captured_queries)

    make(3)
    few = queries_of_one_batch()
    make(20)  # 80 new passages: one INSERT on SQLite too (its 999-parameter limit splits larger ones)
    many = queries_of_one_batch()
    assert few == many <= 14


def test_the_api_and_plan_see_moves_at_once(api_client_for, sales_user):
    history((None, "suspect", at(5, 1)), ("suspect", "lead", at(5, 2)))
    response = api_client_for(sales_user).get(
        "/api/v1/funnel/", {"since": "2026-05-01", "until": "2026-05-31"}
    )
    rows = {r["key"]: r for r in response.json()["stages"]}
    assert rows["lead"]["entered"] == 1 and rows["suspect"]["conversion_to_next"] == 1.0
    assert "p90_days_in_stage" in rows["suspect"]
