"""The funnel table page and its inline (HTMX) cell editing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.fold import fold_pending
from funnel.models import STAGE_TEXT_MAX_LENGTH, Stage, StageTransition
from funnel.services import contact_move_stage
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TABLE_URL = reverse("funnel:table")


def edit_url(st: Stage, column: str) -> str:
    return reverse("funnel:stage-cell-edit", args=[st.pk, column])


def row_url(st: Stage) -> str:
    return reverse("funnel:stage-row", args=[st.pk])


# --- who may see the page -------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    response = client.get(TABLE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_outsider_gets_403(client_for, outsider):
    assert client_for(outsider).get(TABLE_URL).status_code == 403


def test_sales_reads_without_edit_controls(client_for, sales_user):
    response = client_for(sales_user).get(TABLE_URL)
    assert response.status_code == 200
    html = response.content.decode()
    for st in Stage.objects.all():
        assert f'id="stage-{st.pk}"' in html
        assert st.task.split()[0] in html
    assert "/edit/" not in html
    assert "hx-get" not in html[html.index("<main") :]  # the top bar's notification bell polls
    assert "cell-edit" not in html


@pytest.mark.parametrize("user_fixture", ["marketing_user", "admin_user"])
def test_marketing_and_admin_get_edit_controls(request, client_for, user_fixture):
    user = request.getfixturevalue(user_fixture)
    response = client_for(user).get(TABLE_URL)
    assert response.status_code == 200
    html = response.content.decode()
    suspect = stage("suspect")
    assert f'hx-get="{edit_url(suspect, "task")}"' in html
    assert f'hx-get="{edit_url(suspect, "name")}"' in html
    assert 'hx-target="closest tr"' in html


def test_table_shows_all_columns_in_stage_order(client_for, sales_user):
    html = client_for(sales_user).get(TABLE_URL).content.decode()
    for heading in ("Buying process", "Task", "Expected response", "Metric", "Discovery"):
        assert f">{heading}</th>" in html
    positions = [html.index(f'id="stage-{st.pk}"') for st in Stage.objects.order_by("position")]
    assert positions == sorted(positions)


def test_counts_and_shares(client_for, sales_user):
    ContactFactory.create_batch(3, stage=stage("lead"))
    ContactFactory.create_batch(1, stage=stage("customer"))
    response = client_for(sales_user).get(TABLE_URL)
    stages = {s.key: s for s in response.context["stages"]}
    assert stages["lead"].contact_count == 3
    assert stages["customer"].contact_count == 1
    assert stages["suspect"].contact_count == 0
    assert response.context["total_contacts"] == 4
    html = response.content.decode()
    assert '<span class="stage-count">3</span> <span class="stage-share">· 75 %</span>' in html
    assert '<span class="stage-count">1</span> <span class="stage-share">· 25 %</span>' in html
    # The drawing carries the same figures.
    assert "3 · 75 %" in html
    assert "Lead: 3 contacts (75 %)" in html


def test_large_counts_use_thousands_separators(client_for, sales_user, settings):
    from django.template.loader import render_to_string

    st = stage("lead")
    st.contact_count, st.share = 1234, 0.18
    html = render_to_string("funnel/_stage_row.html", {"stage": st, "columns": []})
    assert "1,234" in html
    assert "18 %" in html


def test_query_count_is_constant(client_for, sales_user, django_assert_num_queries):
    client = client_for(sales_user)
    # session, user, the user's role groups, stages, their live counts; the analytics' claim of
    # queued stage moves (none: the periodic fold ran), this period's daily figures and dwell times
    with django_assert_num_queries(8):
        client.get(TABLE_URL)
    ContactFactory.create_batch(12, stage=stage("prospect"))
    ContactFactory.create_batch(5, stage=stage("reference"))
    fold_pending()
    with django_assert_num_queries(8):
        response = client.get(TABLE_URL)
    assert response.context["total_contacts"] == 17


def test_the_metric_column_shows_live_figures(client_for, sales_user):
    """In the stage now, entered in the last 30 days (queued moves are folded when the page opens)
    and the share of those that went on to the next stage."""
    for _ in range(3):
        contact_move_stage(contact=ContactFactory(stage=stage("suspect")), stage=stage("lead"))
    ContactFactory(stage=stage("suspect"))
    old = ContactFactory(stage=stage("suspect"), created_at=timezone.now() - timedelta(days=90))
    StageTransition.objects.filter(contact=old).update(at=timezone.now() - timedelta(days=90))
    response = client_for(sales_user).get(TABLE_URL)
    live = {s.key: s.live for s in response.context["stages"]}
    assert (live["suspect"].count, live["suspect"].entered) == (2, 4)  # the old one entered earlier
    assert live["suspect"].conversion_to_next == 0.75
    assert (live["lead"].count, live["lead"].entered, live["lead"].conversion_to_next) == (3, 3, 0.0)
    html = response.content.decode()
    row = html[html.index('id="stage-' + str(stage("suspect").pk)) :]
    metric = row[row.index('data-column="metric"') :]
    metric = metric[: metric.index("</td>")]
    assert "stage-live" in metric and "75 %" in metric
    reference = html[html.index('id="stage-' + str(stage("reference").pk)) :]
    assert "next stage" not in reference[: reference.index("</tr>")]  # the last stage has none


def test_user_text_is_escaped_in_table_and_drawing(client_for, marketing_user):
    evil = '<script>alert("x")</script>'
    Stage.objects.filter(key="lead").update(name=f"Lead {evil}", task=evil, metric=f"a & b {evil}")
    html = client_for(marketing_user).get(TABLE_URL).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    drawing = html[html.index('<svg class="funnel-svg"') : html.index("</svg>")]
    assert "&lt;script&gt;" in drawing
    assert "<script>" not in drawing


# --- inline editing -------------------------------------------------------------------------------


def test_htmx_get_edit_returns_only_the_row_with_a_form(client_for, marketing_user):
    st = stage("prospect")
    response = client_for(marketing_user).get(edit_url(st, "task"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="stage-{st.pk}"')
    assert f'hx-post="{edit_url(st, "task")}"' in html
    assert '<textarea name="task"' in html
    assert st.task in html
    assert "keydown[key==&#x27;Escape&#x27;]" in html or "keydown[key=='Escape']" in html
    assert f'hx-get="{row_url(st)}"' in html
    assert "HX-Request" in response["Vary"]


def test_htmx_get_edit_name_gives_a_text_input(client_for, marketing_user):
    st = stage("lead")
    html = client_for(marketing_user).get(edit_url(st, "name"), **HTMX).content.decode()
    assert '<input type="text" name="name"' in html
    assert 'value="Lead"' in html


def test_plain_get_edit_renders_the_full_page_with_the_form(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).get(edit_url(st, "discovery"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert '<textarea name="discovery"' in html
    assert f'action="{edit_url(st, "discovery")}"' in html


def test_htmx_post_saves_and_returns_the_read_only_row(client_for, marketing_user):
    st = stage("customer")
    response = client_for(marketing_user).post(edit_url(st, "task"), {"task": "Deliver & delight"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="stage-{st.pk}"')
    assert "Deliver &amp; delight" in html
    assert "<textarea" not in html
    st.refresh_from_db()
    assert st.task == "Deliver & delight"


def test_htmx_post_name_also_refreshes_the_overview_out_of_band(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).post(edit_url(st, "name"), {"name": "Interessent"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="stage-{st.pk}"')
    assert '<section id="funnel-overview" class="card funnel-overview"' in html
    assert 'hx-swap-oob="true"' in html
    drawing = html[html.index('<svg class="funnel-svg"') : html.index("</svg>")]
    assert "Interessent" in drawing
    st.refresh_from_db()
    assert st.name == "Interessent"


def test_htmx_post_text_does_not_send_the_drawing(client_for, marketing_user):
    html = (
        client_for(marketing_user)
        .post(edit_url(stage("lead"), "metric"), {"metric": "New leads"}, **HTMX)
        .content.decode()
    )
    assert "funnel-overview" not in html
    assert "hx-swap-oob" not in html


def test_post_may_empty_a_text_cell(client_for, admin_user):
    st = stage("reference")
    response = client_for(admin_user).post(edit_url(st, "discovery"), {"discovery": ""}, **HTMX)
    assert response.status_code == 200
    st.refresh_from_db()
    assert st.discovery == ""


def test_htmx_post_too_long_shows_the_error_and_stores_nothing(client_for, marketing_user):
    st = stage("lead")
    before = st.task
    typed = "x" * (STAGE_TEXT_MAX_LENGTH + 1)
    response = client_for(marketing_user).post(edit_url(st, "task"), {"task": typed}, **HTMX)
    assert response.status_code == 200  # HTMX swaps 2xx only; the row carries the error
    html = response.content.decode()
    assert "<html" not in html
    assert 'class="errorlist"' in html
    assert f"at most {STAGE_TEXT_MAX_LENGTH} characters" in html
    assert typed in html  # what was typed is kept
    assert 'aria-invalid="true"' in html
    st.refresh_from_db()
    assert st.task == before


def test_htmx_post_empty_name_is_refused(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).post(edit_url(st, "name"), {"name": "  "}, **HTMX)
    html = response.content.decode()
    assert "This field is required." in html
    st.refresh_from_db()
    assert st.name == "Lead"


def test_plain_post_redirects_back_to_the_row(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).post(edit_url(st, "metric"), {"metric": "Leads per month"})
    assert response.status_code == 302
    assert response["Location"] == f"{TABLE_URL}#stage-{st.pk}"
    st.refresh_from_db()
    assert st.metric == "Leads per month"


def test_plain_post_invalid_renders_the_page_with_the_error(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).post(edit_url(st, "name"), {"name": "n" * 81})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" in html
    assert 'class="errorlist"' in html
    st.refresh_from_db()
    assert st.name == "Lead"


def test_cancel_row_returns_the_read_only_row(client_for, marketing_user):
    st = stage("lead")
    response = client_for(marketing_user).get(row_url(st), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="stage-{st.pk}"')
    assert "<textarea" not in html


def test_plain_get_row_redirects_to_the_table(client_for, sales_user):
    st = stage("lead")
    response = client_for(sales_user).get(row_url(st))
    assert response.status_code == 302
    assert response["Location"] == f"{TABLE_URL}#stage-{st.pk}"


@pytest.mark.parametrize("user_fixture", ["sales_user", "outsider"])
def test_edit_is_forbidden_without_edit_funnel(request, client_for, user_fixture):
    client = client_for(request.getfixturevalue(user_fixture))
    st = stage("lead")
    before = st.task
    assert client.get(edit_url(st, "task"), **HTMX).status_code == 403
    assert client.post(edit_url(st, "task"), {"task": "hacked"}, **HTMX).status_code == 403
    assert client.post(edit_url(st, "name"), {"name": "hacked"}).status_code == 403
    st.refresh_from_db()
    assert st.task == before
    assert st.name == "Lead"


def test_edit_requires_login(client):
    st = stage("lead")
    response = client.post(edit_url(st, "task"), {"task": "anon"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    st.refresh_from_db()
    assert st.task != "anon"


def test_outsider_cannot_read_a_row(client_for, outsider):
    assert client_for(outsider).get(row_url(stage("lead")), **HTMX).status_code == 403


@pytest.mark.parametrize("column", ["key", "position", "updated_at", "nope"])
def test_unknown_column_is_404(client_for, marketing_user, column):
    st = stage("lead")
    client = client_for(marketing_user)
    assert client.get(edit_url(st, column), **HTMX).status_code == 404
    assert client.post(edit_url(st, column), {column: "x"}, **HTMX).status_code == 404
    st.refresh_from_db()
    assert st.key == "lead"


def test_unknown_stage_is_404(client_for, marketing_user):
    missing = Stage.objects.order_by("-pk").first().pk + 100
    client = client_for(marketing_user)
    url = reverse("funnel:stage-cell-edit", args=[missing, "task"])
    assert client.get(url, **HTMX).status_code == 404
    assert client.post(url, {"task": "x"}, **HTMX).status_code == 404
    assert client.get(reverse("funnel:stage-row", args=[missing]), **HTMX).status_code == 404


def test_edit_endpoints_refuse_other_methods(client_for, marketing_user):
    client = client_for(marketing_user)
    assert client.put(edit_url(stage("lead"), "task")).status_code == 405
    assert client.post(TABLE_URL).status_code == 405
