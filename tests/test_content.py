"""Personas, content blocks, the content map (gaps), content performance, the hourglass beside the
funnel; pages and API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from content.hourglass import PHASES, STAGE_OF_PHASE
from content.models import ContentBlock, Persona
from content.selectors import content_map, content_performance
from content.services import content_save, persona_delete, persona_save, topics_normalise
from funnel.models import StageTransition
from scoring.models import Event, EventType
from tests.factories import ContactFactory, stage

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_hourglass_refines_every_stage_in_order():
    assert [info.phase.value for info in PHASES] == [
        "engagement",
        "education",
        "research",
        "evaluation",
        "justification",
        "purchase",
        "adoption",
        "retention",
        "expansion",
        "advocacy",
    ]
    positions = [stage(STAGE_OF_PHASE[info.phase.value]).position for info in PHASES]
    assert positions == sorted(positions)
    assert set(STAGE_OF_PHASE.values()) == {
        "suspect",
        "lead",
        "prospect",
        "customer",
        "consumption",
        "reference",
    }


def test_topics_are_normalised_and_checked():
    assert topics_normalise(" PCB Design, emc,emc ,") == ["pcb-design", "emc"]
    assert topics_normalise(["<script>"]) == ["script"]  # slugified, as products' topics are
    with pytest.raises(ValidationError):
        topics_normalise(["!!!"])
    with pytest.raises(ValidationError):
        topics_normalise([f"t{n}" for n in range(21)])
    with pytest.raises(ValidationError):
        content_save(title="", phase="education")
    with pytest.raises(ValidationError):
        content_save(title="X", phase="sleeping")
    assert not ContentBlock.objects.exists()


def test_the_map_counts_blocks_and_shows_gaps():
    engineer = persona_save(name="Hardware engineer", pains="Board spins\nEMC failures")
    content_save(title="EMC checklist", phase="education", persona=engineer, topics="emc")
    content_save(title="Why us", phase="justification")
    content_save(title="Case study", phase="justification", persona=engineer)
    personas, rows = content_map()
    assert personas == [engineer]
    by_phase = {row.info.phase.value: row.cells for row in rows}
    assert by_phase["education"] == [1, 0]
    assert by_phase["justification"] == [1, 1]
    assert [row.info.phase.value for row in rows if row.empty] == [
        "engagement",
        "research",
        "evaluation",
        "purchase",
        "adoption",
        "retention",
        "expansion",
        "advocacy",
    ]
    persona_delete(persona=engineer)
    assert ContentBlock.objects.filter(persona__isnull=True).count() == 3  # content stays


def test_events_with_a_content_id_count_and_forward_moves_after_them():
    block = content_save(title="EMC checklist", phase="education", topics=["emc"])
    other = content_save(title="Unused", phase="research")
    download = EventType.objects.get(key="download")
    mover, stayer = ContactFactory(stage=stage("lead")), ContactFactory(stage=stage("lead"))
    for n, (contact, content_id) in enumerate(
        [(mover, block.pk), (mover, str(block.pk)), (stayer, block.pk)]
    ):
        Event.objects.create(
            external_id=f"e{n}",
            type=download,
            contact=contact,
            occurred_at=T0,
            properties={"content_id": content_id},
        )
    StageTransition.objects.create(
        contact=mover, from_stage=stage("lead"), to_stage=stage("prospect"), at=T0 + timedelta(days=3)
    )
    # A move before the event, and a backward move after it, do not count.
    StageTransition.objects.create(
        contact=stayer, from_stage=stage("suspect"), to_stage=stage("lead"), at=T0 - timedelta(days=3)
    )
    StageTransition.objects.create(
        contact=stayer, from_stage=stage("lead"), to_stage=stage("suspect"), at=T0 + timedelta(days=1)
    )
    assert content_performance([block.pk, other.pk]) == {block.pk: {"events": 3, "contacts": 2, "moved": 1}}


# --- Pages ----------------------------------------------------------------------------------------


def test_pages_and_roles(client_for, sales_user, marketing_user, outsider, client):
    content_save(title="<b>EMC</b> checklist", phase="education")
    page = client_for(sales_user).get("/content/")
    assert page.status_code == 200
    assert b"&lt;b&gt;EMC&lt;/b&gt; checklist" in page.content
    assert client.get("/content/blocks/new/").status_code == 403  # sales may read, not edit
    client.force_login(outsider)
    assert client.get("/content/").status_code == 403
    client.force_login(marketing_user)
    assert client.get("/content/blocks/new/").status_code == 200
    assert client.get("/content/?phase=bogus&persona=abc&page=x").status_code == 200
    assert client.get("/content/blocks/999/").status_code == 404


def test_forms_refuse_bad_input_and_save_good(client_for, marketing_user):
    client = client_for(marketing_user)
    bad = client.post(
        "/content/blocks/new/", {"title": "", "phase": "education", "format": "article", "topics": "a b, <x>"}
    )
    assert bad.status_code == 400 and not ContentBlock.objects.exists()
    good = client.post(
        "/content/blocks/new/",
        {
            "title": "Guide",
            "phase": "education",
            "format": "whitepaper",
            "topics": "PCB Design",
            "url": "https://example.com/g",
        },
    )
    assert good.status_code == 302
    assert ContentBlock.objects.get().topics == ["pcb-design"]
    assert client.post("/content/personas/new/", {"name": ""}).status_code == 400
    assert client.post("/content/personas/new/", {"name": "Buyer"}).status_code == 302
    persona = Persona.objects.get()
    assert client.post(f"/content/personas/{persona.pk}/delete/").status_code == 302
    assert not Persona.objects.exists()


def test_the_funnel_page_shows_the_hourglass(client_for, sales_user):
    page = client_for(sales_user).get("/")
    assert b"hourglass-title" in page.content
    assert page.content.count(b'class="badge" title=') == 10


def test_map_page_query_count(client_for, marketing_user, django_assert_max_num_queries):
    client = client_for(marketing_user)
    client.get("/content/")
    for n in range(5):
        content_save(title=f"B{n}", phase="education", persona=persona_save(name=f"P{n}"))
    with django_assert_max_num_queries(9):
        assert client.get("/content/").status_code == 200


# --- API ------------------------------------------------------------------------------------------


def test_api(api_client_for, marketing_user, sales_user, outsider):
    api = api_client_for(marketing_user)
    persona = api.post("/api/v1/personas/", {"name": "Engineer", "pains": "EMC"}, format="json")
    assert persona.status_code == 201
    block = api.post(
        "/api/v1/content-blocks/",
        {
            "title": "EMC guide",
            "phase": "education",
            "persona": persona.json()["id"],
            "topics": ["EMC Basics"],
        },
        format="json",
    )
    assert block.status_code == 201 and block.json()["topics"] == ["emc-basics"]
    bad = api.post(
        "/api/v1/content-blocks/", {"title": "X", "phase": "nap", "topics": ["<x>"]}, format="json"
    )
    assert bad.status_code == 400 and "phase" in bad.json()
    bad_topic = api.post(
        "/api/v1/content-blocks/", {"title": "X", "phase": "education", "topics": ["!!!"]}, format="json"
    )
    assert bad_topic.status_code == 400 and "topics" in bad_topic.json()
    assert ContentBlock.objects.count() == 1
    cells = api.get("/api/v1/content-map/").json()
    education = next(c for c in cells if c["phase"] == "education")
    assert education["counts"] == {str(persona.json()["id"]): 1, "none": 0}
    sales = api_client_for(sales_user)
    assert sales.get("/api/v1/content-blocks/?phase=education").json()["count"] == 1
    assert sales.post("/api/v1/personas/", {"name": "X"}, format="json").status_code == 403
    assert api_client_for(outsider).get("/api/v1/personas/").status_code == 403
    assert api_client_for(None).get("/api/v1/content-map/").status_code == 401
