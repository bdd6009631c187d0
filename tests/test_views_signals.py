"""Browser UI of the R/U/C detector: the signals page (filters, precision, evidence, accepting and
dismissing in place and without JavaScript), the detector settings, and the contact page's signals
section. Writes go through customers.services."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import DetectorSettings, Signal
from nurturing import services as nurturing
from nurturing.models import Enrollment
from offers.models import Offer, Product, ProductTopic
from sales.models import Task
from scoring.models import Event, EventType
from tests.factories import CompanyFactory, ContactFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
LIST_URL = reverse("customers:signal-list")
SETTINGS_URL = reverse("customers:detector-settings")


# --- Helpers -------------------------------------------------------------------------------------


def product(name="EMC testing", topics=("emc",), **fields) -> Product:
    item = Product.objects.create(name=name, **fields)
    for topic in topics:
        ProductTopic.objects.create(product=item, topic=topic)
    return item


def event(contact, topic="emc", type_key="download", minutes_ago=60) -> Event:
    return Event.objects.create(
        external_id=f"ev-{Event.objects.count()}-{contact.pk}-{topic}",
        type=EventType.objects.get(key=type_key),
        contact=contact,
        topic=topic,
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def make_signal(
    owner, *, contact=None, item=None, kind="cross", status="open", topic="emc", **fields
) -> Signal:
    contact = contact or ContactFactory(stage=stage("customer"), owner=owner, company=CompanyFactory())
    item = item or product(name=f"Product {Product.objects.count() + 1}", topics=[topic])
    decided = status != "open"
    return Signal.objects.create(
        contact=contact,
        company=contact.company,
        product=item,
        kind=kind,
        status=status,
        topic=topic,
        weight=fields.pop("weight", 3.2),
        owner=owner,
        created_at=fields.pop("created_at", timezone.now()),
        decided_at=timezone.now() if decided else None,
        decided_by=owner if decided else None,
        **fields,
    )


def active_sequence(name="Cross-sell EMC"):
    sequence = nurturing.sequence_save(name=name)
    nurturing.step_save(sequence=sequence, kind="wait", wait=timedelta(days=3))
    return nurturing.sequence_activate(sequence=sequence)


def url(name, signal) -> str:
    return reverse(f"customers:{name}", args=[signal.pk])


def html(response) -> str:
    return response.content.decode()


def stored():
    """Everything a refused decision must leave as it was."""
    return (
        list(Signal.objects.order_by("pk").values()),
        Task.objects.count(),
        Offer.objects.count(),
        Enrollment.objects.count(),
    )


@pytest.fixture
def rep(db):
    return UserFactory(username="rep", first_name="Rita", last_name="Rep", roles=["sales"])


@pytest.fixture
def signal(rep):
    return make_signal(rep)


# --- Access --------------------------------------------------------------------------------------


def read_urls(signal) -> list[str]:
    return [
        LIST_URL,
        url("signal-row", signal),
        url("signal-evidence", signal),
        reverse("customers:contact-signals", args=[signal.contact_id]),
    ]


def decide_urls(signal) -> list[str]:
    return [url("signal-accept", signal), url("signal-dismiss", signal)]


def test_anonymous_visitors_are_sent_to_the_login_page(client, signal):
    for target in read_urls(signal) + decide_urls(signal) + [SETTINGS_URL]:
        response = client.get(target)
        assert response.status_code == 302, target
        assert response["Location"].startswith(reverse("login")), target
    for target in decide_urls(signal) + [SETTINGS_URL]:
        assert client.post(target, {"reason": "x"}).status_code == 302, target
    assert Signal.objects.get().status == "open"


def test_outsiders_get_403_everywhere(client_for, outsider, signal):
    client = client_for(outsider)
    for target in read_urls(signal) + decide_urls(signal) + [SETTINGS_URL]:
        assert client.get(target).status_code == 403, target
        assert client.post(target, {"reason": "x"}).status_code == 403, target
    assert Signal.objects.get().status == "open"


@pytest.mark.parametrize("role_user", ["sales_user", "marketing_user", "admin_user"])
def test_every_role_reads_signals(client_for, request, signal, role_user):
    client = client_for(request.getfixturevalue(role_user))
    for target in [LIST_URL, url("signal-evidence", signal)]:
        assert client.get(target).status_code == 200, target
    assert (
        client.get(reverse("customers:contact-signals", args=[signal.contact_id]), **HTMX).status_code == 200
    )


def test_only_marketing_and_admin_change_the_detector_settings(
    client_for, sales_user, marketing_user, admin_user
):
    assert client_for(sales_user).get(SETTINGS_URL).status_code == 403
    assert client_for(sales_user).post(SETTINGS_URL, {"interest_threshold": "5"}).status_code == 403
    assert "Detector settings" not in html(client_for(sales_user).get(LIST_URL))
    for user in (marketing_user, admin_user):
        assert client_for(user).get(SETTINGS_URL).status_code == 200
        assert "Detector settings" in html(client_for(user).get(LIST_URL))
    assert DetectorSettings.load().interest_threshold == 2.0


def test_the_nav_links_to_the_signals_page(client_for, sales_user):
    assert f'href="{LIST_URL}"' in html(client_for(sales_user).get(reverse("funnel:table")))


@pytest.mark.parametrize(
    "path",
    [
        "/customers/signals/abc/",
        "/customers/signals/abc/accept/",
        "/customers/signals/-1/dismiss/",
        "/customers/signals/1.5/evidence/",
        "/customers/contacts/x/signals/",
    ],
)
def test_non_numeric_ids_are_404(client_for, rep, path):
    client = client_for(rep)
    assert client.get(path).status_code == 404
    assert client.post(path, {"reason": "x"}).status_code == 404


@pytest.mark.parametrize("pk", [999999, 2**63 - 1, 2**63, 10**30])
def test_unknown_ids_are_404_never_500(client_for, rep, pk):
    client = client_for(rep)
    for name in ("signal-row", "signal-evidence", "signal-accept", "signal-dismiss"):
        target = reverse(f"customers:{name}", args=[pk])
        assert client.get(target, **HTMX).status_code == 404, target
        if name in ("signal-accept", "signal-dismiss"):
            assert client.post(target, {"reason": "x"}, **HTMX).status_code == 404, target
    assert client.get(reverse("customers:contact-signals", args=[pk])).status_code == 404


# --- The list ------------------------------------------------------------------------------------


def test_the_list_shows_my_open_signals_by_default(client_for, rep):
    other = UserFactory(username="other", roles=["sales"])
    mine = make_signal(rep, topic="emc")
    make_signal(rep, status="dismissed", topic="dismissed-topic", dismiss_reason="No budget")
    make_signal(other, topic="not-mine")
    page = html(client_for(rep).get(LIST_URL))
    assert f'id="signal-{mine.pk}"' in page
    assert mine.contact.full_name in page and mine.contact.company.name in page and mine.product.name in page
    assert "Cross-sell" in page and "3.2" in page and "Rita Rep" in page
    assert "dismissed-topic" not in page and "not-mine" not in page
    assert "1–1 of 1 signal" in page


def test_filters_for_all_owners_a_status_a_kind_a_product_and_a_contact(client_for, rep):
    other = UserFactory(username="other", roles=["sales"])
    a = make_signal(rep, kind="cross", topic="topic-a")
    b = make_signal(other, kind="up", topic="topic-b")
    c = make_signal(other, kind="repeat", status="accepted", topic="topic-c")
    client = client_for(rep)

    def shown(query):
        page = html(client.get(LIST_URL + query, **HTMX))
        return {s.pk for s in (a, b, c) if f'id="signal-{s.pk}"' in page}

    assert shown("?owner=all") == {a.pk, b.pk}
    assert shown("?owner=all&status=all") == {a.pk, b.pk, c.pk}
    assert shown(f"?owner={other.pk}&status=all") == {b.pk, c.pk}
    assert shown("?owner=all&status=accepted") == {c.pk}
    assert shown("?owner=all&kind=up") == {b.pk}
    assert shown(f"?owner=all&status=all&product={c.product_id}") == {c.pk}
    assert shown(f"?owner=all&status=all&contact={b.contact_id}") == {b.pk}
    # Values not understood are ignored: the defaults apply (my open signals).
    assert shown("?owner=nobody&status=maybe&kind=%00&product=x&contact=99999999999999999999") == {a.pk}


def test_open_signals_come_first_then_the_newest(client_for, rep):
    now = timezone.now()
    decided = make_signal(rep, status="accepted", created_at=now, topic="decided-new")
    old_open = make_signal(rep, created_at=now - timedelta(days=3), topic="open-old")
    new_open = make_signal(rep, created_at=now - timedelta(days=1), topic="open-new")
    page = html(client_for(rep).get(LIST_URL + "?status=all"))
    positions = [page.index(f'id="signal-{s.pk}"') for s in (new_open, old_open, decided)]
    assert positions == sorted(positions)


def test_the_header_shows_the_precision_and_the_counts_by_kind(client_for, rep):
    for status in ("accepted", "accepted", "dismissed"):
        make_signal(rep, status=status)
    make_signal(rep, kind="up")
    page = html(client_for(rep).get(LIST_URL))
    assert "accepted 2 of 3 decided: 67 %" in page
    assert "The detector's precision" in page
    cells = r'\s*<td class="num">'.join(["", "0</td>", "2</td>", "1</td>", "67 %</td>"])
    assert re.search("Cross-sell</span></th>" + cells, page)  # open, accepted, dismissed, precision
    assert re.search(r'Up-sell</span></th>\s*<td class="num">1</td>', page)


def test_no_decisions_yet_and_the_empty_state(client_for, rep):
    page = html(client_for(rep).get(LIST_URL))
    assert "No signal decided yet" in page
    assert "You have no open signals" in page
    page = html(client_for(rep).get(LIST_URL + "?kind=up"))
    assert "No signal matches these filters." in page


def test_the_list_is_paginated(client_for, rep):
    for _ in range(51):
        make_signal(rep)
    client = client_for(rep)
    page = html(client.get(LIST_URL))
    assert "1–50 of 51 signals" in page and "Page 1 of 2" in page
    assert page.count('<tbody id="signal-') == 50
    second = html(client.get(LIST_URL + "?page=2", **HTMX))
    assert "51–51 of 51 signals" in second and second.count('<tbody id="signal-') == 1
    assert "past the end" in html(client.get(LIST_URL + "?page=9"))


def test_product_names_topics_and_reasons_are_escaped(client_for, rep):
    item = product(name=f"Pro {XSS}", topics=[XSS])
    make_signal(rep, item=item, topic=XSS)
    make_signal(rep, status="dismissed", dismiss_reason=XSS, topic="other")
    contact = ContactFactory(stage=stage("customer"), owner=rep, first_name=XSS)
    make_signal(rep, contact=contact)
    client = client_for(rep)
    for target in (LIST_URL + "?status=all", reverse("customers:contact-signals", args=[contact.pk])):
        page = html(client.get(target))
        assert XSS not in page
    page = html(client.get(LIST_URL + "?status=all"))
    assert ESCAPED in page
    assert f"Pro {ESCAPED}" in page


def test_list_queries_do_not_grow_with_the_signals(client_for, rep, django_assert_num_queries):
    client = client_for(rep)
    for _ in range(3):
        make_signal(rep)
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST_URL + "?owner=all").status_code == 200
    for _ in range(30):
        make_signal(UserFactory(roles=["sales"]), status="accepted")
        make_signal(rep)
    # session, user, roles, signals (one query with their joins), the precision aggregate, the owner
    # and product choices; with more than a page, one bounded count
    assert len(few) == 7
    with django_assert_num_queries(8):
        assert client.get(LIST_URL + "?owner=all&status=all").status_code == 200
    with django_assert_num_queries(4):  # the fragment: no header, no choices
        assert client.get(LIST_URL + "?owner=all", **HTMX).status_code == 200


# --- Evidence ------------------------------------------------------------------------------------


def test_evidence_lists_the_events_that_raised_the_signal(client_for, rep, signal, django_assert_num_queries):
    first = event(signal.contact, topic="emc", type_key="download", minutes_ago=120)
    second = event(signal.contact, topic="emc-filters", type_key="page_view", minutes_ago=30)
    stranger = event(ContactFactory(), topic="secret-topic")
    Signal.objects.filter(pk=signal.pk).update(event_ids=[second.pk, first.pk, stranger.pk, "x"])
    client = client_for(rep)
    with django_assert_num_queries(5):  # session, user, signal, events, roles
        response = client.get(url("signal-evidence", signal), **HTMX)
    fragment = html(response)
    assert fragment.startswith("<tbody") and 'id="signal-' in fragment
    assert "emc-filters" in fragment and "Download" in fragment and "Page view" in fragment
    assert "secret-topic" not in fragment  # another contact's event, whatever the id list says
    evidence = fragment[fragment.index("evidence-table") :]
    assert evidence.index("emc-filters") < evidence.index(">emc<")  # newest first
    page = html(client.get(url("signal-evidence", signal)))
    assert "<html" in page and "emc-filters" in page and signal.product.name in page


def test_evidence_of_a_signal_without_stored_events(client_for, rep, signal):
    assert "no longer stored" in html(client_for(rep).get(url("signal-evidence", signal), **HTMX))


def test_the_row_closes_the_panel_and_a_plain_request_goes_back_to_the_list(client_for, rep, signal):
    client = client_for(rep)
    fragment = html(client.get(url("signal-row", signal), **HTMX))
    assert fragment.startswith("<tbody") and "signal-panel" not in fragment
    response = client.get(url("signal-row", signal) + "?next=" + LIST_URL + "%3Fstatus%3Dall")
    assert response.status_code == 302 and response["Location"] == LIST_URL + "?status=all"
    for unsafe in ("https://evil.example/", "//evil.example/customers/signals/", "/admin/"):
        response = client.get(url("signal-row", signal), {"next": unsafe})
        assert response["Location"] == LIST_URL, unsafe


# --- Accepting -----------------------------------------------------------------------------------


def accept(client, signal, action, htmx=True, **fields):
    data = {f"signal-{signal.pk}-action": action}
    data.update({f"signal-{signal.pk}-{name}": value for name, value in fields.items()})
    return client.post(url("signal-accept", signal), data, **(HTMX if htmx else {}))


def test_the_accept_form_opens_in_the_row(client_for, rep, signal):
    active_sequence("Active one")
    nurturing.sequence_save(name="Inactive one")
    fragment = html(client_for(rep).get(url("signal-accept", signal), **HTMX))
    assert fragment.startswith("<tbody") and 'hx-post="' + url("signal-accept", signal) in fragment
    assert "Create a call task" in fragment and "Create a draft offer" in fragment
    assert "Active one" in fragment and "Inactive one" not in fragment
    page = html(client_for(rep).get(url("signal-accept", signal)))
    assert "<html" in page and "Accept the signal" in page


def test_accepting_with_a_task(client_for, rep, signal):
    response = accept(client_for(rep), signal, "task", title="Call about EMC")
    assert response.status_code == 200
    fragment = html(response)
    task = Task.objects.get()
    signal.refresh_from_db()
    assert (signal.status, signal.task, signal.decided_by) == ("accepted", task, rep)
    assert (task.title, task.owner, task.source) == ("Call about EMC", rep, "detector")
    assert "Signal accepted: task “Call about EMC” created." in fragment
    # Out of band, in a <template>: after a <tbody> the HTML parser would tear a bare <section> apart.
    assert '<template><section id="signal-precision" class="card" hx-swap-oob="true"' in fragment
    assert "accepted 1 of 1 decided: 100 %" in fragment
    assert "Accept…" not in fragment  # decided: no more actions


def test_accepting_with_a_draft_offer(client_for, rep):
    signal = make_signal(rep, item=product(name="EMC pre-scan", price="1200.00"))
    fragment = html(accept(client_for(rep), signal, "offer"))
    offer = Offer.objects.get()
    signal.refresh_from_db()
    assert (signal.status, signal.offer) == ("accepted", offer)
    assert (offer.status, offer.title, offer.contact, offer.owner) == (
        "draft",
        "EMC pre-scan",
        signal.contact,
        rep,
    )
    assert [(i.product.name, i.unit_price) for i in offer.items.all()] == [("EMC pre-scan", 1200)]
    assert "draft offer “EMC pre-scan” created" in fragment


def test_accepting_with_a_sequence(client_for, rep, signal):
    sequence = active_sequence()
    fragment = html(accept(client_for(rep), signal, "sequence", sequence=sequence.pk))
    enrollment = Enrollment.objects.get()
    signal.refresh_from_db()
    assert (signal.status, signal.enrollment) == ("accepted", enrollment)
    assert (enrollment.contact, enrollment.sequence) == (signal.contact, sequence)
    assert "enrolled in “Cross-sell EMC”" in fragment


def test_a_sequence_must_be_chosen_and_active(client_for, rep, signal):
    client = client_for(rep)
    inactive = nurturing.sequence_save(name="Paused")
    before = stored()
    fragment = html(accept(client, signal, "sequence"))
    assert "Choose the sequence." in fragment and "has-error" in fragment
    fragment = html(accept(client, signal, "sequence", sequence=inactive.pk))
    assert "Select a valid choice" in fragment
    response = accept(client, signal, "sequence", sequence="abc", htmx=False)
    assert response.status_code == 400 and "Select a valid choice" in html(response)
    assert "<html" in html(response)  # the plain fallback: the whole page with the form
    assert stored() == before


def test_a_sequence_picked_before_switching_to_a_task_is_ignored(client_for, rep, signal):
    accept(client_for(rep), signal, "task", sequence="999999")
    assert Signal.objects.get().status == "accepted" and Enrollment.objects.count() == 0


def test_an_unknown_action_is_an_error_and_changes_nothing(client_for, rep, signal):
    before = stored()
    for action in ("teleport", ""):
        fragment = html(accept(client_for(rep), signal, action))
        assert "has-error" in fragment
    assert stored() == before


def test_accepting_without_javascript_redirects_back_to_the_list(client_for, rep, signal):
    client = client_for(rep)
    response = accept(client, signal, "task", htmx=False, **{"next": ""})
    assert response.status_code == 302 and response["Location"] == LIST_URL
    other = make_signal(rep)
    data = {f"signal-{other.pk}-action": "task", "next": LIST_URL + "?kind=cross&page=2"}
    response = client.post(url("signal-accept", other), data)
    assert response["Location"] == LIST_URL + "?kind=cross&page=2"
    page = html(client.get(response["Location"], follow=True))
    assert "Signal accepted: task" in page
    assert Task.objects.count() == 2


def test_a_decided_signal_cannot_be_decided_again(client_for, rep, signal):
    client = client_for(rep)
    accept(client, signal, "task")
    before = stored()
    fragment = html(accept(client, signal, "offer"))
    assert "This signal has been decided already." in fragment
    response = client.post(url("signal-dismiss", signal), {f"signal-{signal.pk}-reason": "late"})
    assert response.status_code == 400 and "decided already" in html(response)
    assert "decided already" in html(client.get(url("signal-dismiss", signal), **HTMX))
    assert "decided already" in html(client.get(url("signal-accept", signal)))
    assert stored() == before


def test_someone_elses_signal_is_refused(client_for, rep, signal, sales_user, marketing_user):
    before = stored()
    for user in (sales_user, marketing_user):
        client = client_for(user)
        page = html(client.get(LIST_URL + "?owner=all"))
        assert f'id="signal-{signal.pk}"' in page and "Accept…" not in page
        response = accept(client, signal, "task")
        assert response.status_code == 200 and "Only the signal&#x27;s owner or an admin" in html(response)
        assert accept(client, signal, "task", htmx=False).status_code == 403
        assert client.get(url("signal-dismiss", signal)).status_code == 403
        assert "Only the signal" in html(client.get(url("signal-dismiss", signal), **HTMX))
        data = {f"signal-{signal.pk}-reason": "not mine"}
        assert client.post(url("signal-dismiss", signal), data).status_code == 403
    assert stored() == before


def test_an_admin_decides_anyones_signal_and_anyone_an_unowned_one(
    client_for, rep, signal, admin_user, sales_user
):
    accept(client_for(admin_user), signal, "task")
    signal.refresh_from_db()
    assert (signal.status, signal.decided_by) == ("accepted", admin_user)
    unowned = make_signal(None)
    accept(client_for(sales_user), unowned, "task")
    assert Signal.objects.get(pk=unowned.pk).status == "accepted"


# --- Dismissing ----------------------------------------------------------------------------------


def test_dismissing_needs_a_reason(client_for, rep, signal):
    client = client_for(rep)
    before = stored()
    form = html(client.get(url("signal-dismiss", signal), **HTMX))
    assert "Why dismiss it?" in form and 'hx-post="' + url("signal-dismiss", signal) in form
    for reason in ("", "   "):
        fragment = html(
            client.post(url("signal-dismiss", signal), {f"signal-{signal.pk}-reason": reason}, **HTMX)
        )
        assert "Say why: it teaches the detector" in fragment and "has-error" in fragment
    response = client.post(url("signal-dismiss", signal), {f"signal-{signal.pk}-reason": "x" * 301})
    assert response.status_code == 400 and "at most 300 characters" in html(response)
    assert stored() == before


def test_dismissing_in_place_and_without_javascript(client_for, rep, signal):
    client = client_for(rep)
    fragment = html(
        client.post(url("signal-dismiss", signal), {f"signal-{signal.pk}-reason": " Tests in-house "}, **HTMX)
    )
    signal.refresh_from_db()
    assert (signal.status, signal.dismiss_reason, signal.decided_by) == ("dismissed", "Tests in-house", rep)
    assert "Signal dismissed: Tests in-house" in fragment and "accepted 0 of 1 decided: 0 %" in fragment
    other = make_signal(rep)
    response = client.post(url("signal-dismiss", other), {f"signal-{other.pk}-reason": "No budget"})
    assert response.status_code == 302 and Signal.objects.get(pk=other.pk).status == "dismissed"


# --- Settings ------------------------------------------------------------------------------------


def test_detector_settings_are_saved_and_bad_values_refused(client_for, marketing_user):
    client = client_for(marketing_user)
    response = client.post(SETTINGS_URL, {"interest_threshold": "3.5", "repeat_after_days": "90"})
    assert response.status_code == 302
    config = DetectorSettings.load()
    assert (config.interest_threshold, config.repeat_after_days) == (3.5, 90)
    for bad in ({"interest_threshold": "0.1", "repeat_after_days": "90"}, {"interest_threshold": "x"}):
        response = client.post(SETTINGS_URL, bad)
        assert response.status_code == 400 and "has-error" in html(response)
    config = DetectorSettings.load()
    assert (config.interest_threshold, config.repeat_after_days) == (3.5, 90)


# --- The contact page ----------------------------------------------------------------------------


def test_the_contact_page_loads_its_signals_section(client_for, rep, signal, django_assert_num_queries):
    client = client_for(rep)
    page = html(client.get(reverse("funnel:contact-detail", args=[signal.contact_id])))
    section_url = reverse("customers:contact-signals", args=[signal.contact_id])
    assert f'hx-get="{section_url}"' in page
    make_signal(rep, contact=signal.contact, status="dismissed", dismiss_reason="Has one")
    make_signal(rep)  # another contact's
    with django_assert_num_queries(5):  # session, user, roles, contact, signals
        fragment = html(client.get(section_url, **HTMX))
    assert fragment.startswith('<section id="contact-signals"')
    assert fragment.count("<tr>") == 3  # the header and two signals
    assert fragment.index("Open") < fragment.index("Has one")  # open first
    assert f"contact={signal.contact_id}" in fragment
    page = html(client.get(section_url))
    assert "<html" in page and signal.product.name in page


def test_a_contact_without_signals(client_for, rep):
    contact = ContactFactory()
    fragment = html(client_for(rep).get(reverse("customers:contact-signals", args=[contact.pk]), **HTMX))
    assert "No signals" in fragment
