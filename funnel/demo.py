"""The demo data of ``manage.py load_demo``: the electronics design service of seed 000 at a browsable size.

alpha-board's real funnel has ~25,000 contact persons at ~8,000 target firms; the demo keeps the
shape (many suspects, few references, customers concentrated in a few customer firms) at ~90 firms
and ~450 persons, with eighteen months of stage history.

Everything is derived from one seeded random generator *before* the database is read, so the same
seed always yields the same firms, persons and histories; the database is then only topped up with
what is missing (natural keys: username, company name, tag name, contact email). A second run
therefore creates nothing and changes nothing.

The word lists are shared with :mod:`funnel.datagen` (``manage.py generate_data``).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.functions import Lower

from accounts.roles import ADMIN, MARKETING, SALES
from funnel.models import Company, Contact, Stage, StageTransition, Tag

DEFAULT_SEED = 20260
HISTORY_DAYS = 540  # eighteen months
DEMO_RULE = "demo import"

STAGE_KEYS = ("suspect", "lead", "prospect", "customer", "consumption", "reference")


# --- users ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    first_name: str
    last_name: str
    superuser: bool = False


# Passwords say "demo" on purpose: load_demo refuses to run with DEBUG off unless forced.
DEMO_USERS = (
    DemoUser("admin", "demo-admin", ADMIN, "Petra", "Albrecht", superuser=True),
    DemoUser("sales", "demo-sales", SALES, "Jonas", "Becker"),
    DemoUser("sales2", "demo-sales2", SALES, "Aylin", "Kaya"),
    DemoUser("marketing", "demo-marketing", MARKETING, "Lena", "Hoffmann"),
)


# --- word lists (also used by generate_data) ------------------------------------------------------

FIRST_NAMES = (
    "Anna",
    "Lukas",
    "Sophie",
    "Maximilian",
    "Marie",
    "Felix",
    "Laura",
    "Jonas",
    "Julia",
    "Tobias",
    "Katharina",
    "Stefan",
    "Sabine",
    "Thomas",
    "Christina",
    "Michael",
    "Sandra",
    "Andreas",
    "Nicole",
    "Markus",
    "Claudia",
    "Florian",
    "Melanie",
    "Daniel",
    "Jana",
    "Sebastian",
    "Miriam",
    "Matthias",
    "Eva",
    "Jan",
    "Hannah",
    "Niklas",
    "Lea",
    "Benedikt",
    "Carina",
    "Dominik",
    "Franziska",
    "Philipp",
    "Ingrid",
    "Ralf",
    "Emre",
    "Elif",
    "Mehmet",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Jiří",
    "Lucie",
    "Luca",
    "Giulia",
    "Pierre",
    "Camille",
    "Erik",
    "Ingrid",
    "Lars",
    "Sanne",
    "Pieter",
    "James",
    "Emily",
    "Oliver",
    "Charlotte",
    "Raj",
    "Priya",
    "Wei",
    "Mei",
    "Mateo",
    "Lucía",
    "Björn",
    "Astrid",
)
LAST_NAMES = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Yılmaz",
    "Kaya",
    "Nowak",
    "Kowalski",
    "Novák",
    "Dvořák",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Martin",
    "Jansen",
    "de Vries",
    "Andersson",
    "Nilsson",
    "Smith",
    "Taylor",
    "Brown",
    "Patel",
    "Sharma",
    "Chen",
    "García",
    "Fernández",
    "Mueller",
)
# (title, weight): engineers and buyers are who an electronics design service talks to most.
JOB_TITLES = (
    ("Hardware-Entwickler", 12),
    ("Hardware-Entwicklerin", 8),
    ("Elektronikentwickler", 8),
    ("Leiter Entwicklung", 6),
    ("Head of R&D", 5),
    ("CTO", 4),
    ("Geschäftsführer", 4),
    ("Geschäftsführerin", 2),
    ("Einkauf", 8),
    ("Strategischer Einkauf", 4),
    ("Procurement Manager", 3),
    ("Produktmanager", 5),
    ("Produktmanagerin", 3),
    ("Projektleiter Elektronik", 5),
    ("Layout-Ingenieur", 3),
    ("Embedded Software Engineer", 4),
    ("Qualitätsmanagement", 3),
    ("Supply Chain Manager", 2),
    ("Technischer Leiter", 4),
    ("Engineering Manager", 3),
)
TAGS = (
    "messe-2026",
    "messe-2025",
    "newsletter",
    "pcb-design",
    "ems",
    "nda",
    "prototyp",
    "serienfertigung",
    "webinar",
    "whitepaper-emv",
    "empfehlung",
    "monatspaket",
)
# (source, weight in %): where the contacts of an electronics design service come from.
SOURCE_WEIGHTS = (
    (Contact.Source.WEBSITE, 35),
    (Contact.Source.REFERRAL, 15),
    (Contact.Source.EVENT, 15),
    (Contact.Source.ADVERTISING, 10),
    (Contact.Source.SOCIAL, 8),
    (Contact.Source.OUTBOUND, 10),
    (Contact.Source.PARTNER, 5),
    (Contact.Source.IMPORT, 2),
)
INDUSTRIES = (
    "Industrial automation",
    "Medical technology",
    "Automotive",
    "Energy",
    "Test & measurement",
    "Consumer electronics",
    "IoT",
    "Lighting",
    "Rail",
    "Agritech",
    "Security",
    "Aerospace",
)

# Invented firms that sound like the target group: German Mittelstand with own electronic
# products, plus neighbours and a few overseas. (name, industry, employees, city, country)
COMPANIES = (
    ("Bodensee Sensorik GmbH", "Test & measurement", 140, "Friedrichshafen", "DE"),
    ("Rheintal Messtechnik GmbH", "Test & measurement", 85, "Bingen", "DE"),
    ("Elbtal Embedded Systems GmbH", "IoT", 42, "Dresden", "DE"),
    ("Isartaler Antriebstechnik AG", "Industrial automation", 620, "Wolfratshausen", "DE"),
    ("Nordlicht Leuchten GmbH", "Lighting", 95, "Kiel", "DE"),
    ("Weserbergland Steuerungstechnik GmbH", "Industrial automation", 210, "Hameln", "DE"),
    ("Spreewald Medizinelektronik GmbH", "Medical technology", 75, "Lübben", "DE"),
    ("Fichtelgebirge Power Systems GmbH", "Energy", 160, "Wunsiedel", "DE"),
    ("Altmühl Fahrzeugelektronik GmbH", "Automotive", 380, "Eichstätt", "DE"),
    ("Hegau Sicherheitstechnik GmbH", "Security", 55, "Singen", "DE"),
    ("Teutoburger Agrarsysteme GmbH", "Agritech", 130, "Detmold", "DE"),
    ("Saaletal Photonik GmbH", "Test & measurement", 65, "Jena", "DE"),
    ("Lahn Elektronik Fertigung GmbH", "Industrial automation", 48, "Wetzlar", "DE"),
    ("Ostwind Energietechnik GmbH", "Energy", 270, "Rostock", "DE"),
    ("Mainfranken Medical Devices GmbH", "Medical technology", 190, "Würzburg", "DE"),
    ("Ruhrpott Bahntechnik GmbH", "Rail", 450, "Bochum", "DE"),
    ("Kraichgau Smart Home GmbH", "Consumer electronics", 35, "Sinsheim", "DE"),
    ("Vogtland Audio Manufaktur GmbH", "Consumer electronics", 28, "Plauen", "DE"),
    ("Eifel Umweltsensorik GmbH", "IoT", 22, "Prüm", "DE"),
    ("Allgäu Antriebe & Motoren GmbH", "Industrial automation", 310, "Kempten", "DE"),
    ("Hanse Marine Electronics GmbH", "Aerospace", 120, "Bremerhaven", "DE"),
    ("Schwarzwald Präzisionsmesstechnik GmbH", "Test & measurement", 230, "Villingen", "DE"),
    ("Odenwald Ladetechnik GmbH", "Energy", 60, "Michelstadt", "DE"),
    ("Harzer Zugsicherung GmbH", "Rail", 180, "Wernigerode", "DE"),
    ("Mosel Vinotronic GmbH", "Agritech", 18, "Bernkastel-Kues", "DE"),
    ("Uckermark Windsteuerung GmbH", "Energy", 90, "Prenzlau", "DE"),
    ("Münsterland Robotik GmbH", "Industrial automation", 145, "Coesfeld", "DE"),
    ("Chiemgau Dentaltechnik GmbH", "Medical technology", 70, "Traunstein", "DE"),
    ("Erzgebirge Mikrosysteme GmbH", "IoT", 52, "Annaberg-Buchholz", "DE"),
    ("Oberlausitz Kameratechnik GmbH", "Security", 40, "Bautzen", "DE"),
    ("Pfalz Fahrzeugbau Elektrik GmbH", "Automotive", 520, "Kaiserslautern", "DE"),
    ("Sauerland Lichtsysteme GmbH", "Lighting", 110, "Arnsberg", "DE"),
    ("Rhön Labordiagnostik GmbH", "Medical technology", 85, "Fulda", "DE"),
    ("Wendland Solartechnik GmbH", "Energy", 30, "Lüchow", "DE"),
    ("Kaiserstuhl Steuergeräte GmbH", "Automotive", 260, "Breisach", "DE"),
    ("Taunus Avionik GmbH", "Aerospace", 175, "Oberursel", "DE"),
    ("Westerwald Industrie-IoT GmbH", "IoT", 38, "Montabaur", "DE"),
    ("Havelland Zutrittssysteme GmbH", "Security", 64, "Rathenow", "DE"),
    ("Emsland Melktechnik GmbH", "Agritech", 220, "Meppen", "DE"),
    ("Breisgau Hörsysteme GmbH", "Medical technology", 95, "Freiburg", "DE"),
    ("Niederrhein Prüfsysteme GmbH", "Test & measurement", 80, "Kleve", "DE"),
    ("Frankenwald Elektromobilität GmbH", "Automotive", 140, "Kronach", "DE"),
    ("Kieler Förde Sonar GmbH", "Aerospace", 58, "Kiel", "DE"),
    ("Zugspitz Outdoor Electronics GmbH", "Consumer electronics", 44, "Garmisch-Partenkirchen", "DE"),
    ("Bergisches Land Schaltanlagen GmbH", "Energy", 330, "Solingen", "DE"),
    ("Inntal Gebäudeautomation GmbH", "Industrial automation", 72, "Rosenheim", "DE"),
    ("Lausitzer Batteriesysteme GmbH", "Energy", 115, "Cottbus", "DE"),
    ("Wetterau Laborgeräte GmbH", "Test & measurement", 36, "Friedberg", "DE"),
    ("Holsteiner Stalltechnik GmbH", "Agritech", 88, "Neumünster", "DE"),
    ("Ammersee Optoelektronik GmbH", "Lighting", 26, "Dießen", "DE"),
    ("Rennsteig Thermotechnik GmbH", "Industrial automation", 150, "Suhl", "DE"),
    ("Dreiländereck Motion Control GmbH", "Industrial automation", 98, "Lörrach", "DE"),
    ("Vorpommern Windmess GmbH", "Energy", 24, "Greifswald", "DE"),
    ("Siegerland Fördertechnik GmbH", "Industrial automation", 240, "Siegen", "DE"),
    ("Hohenlohe Landmaschinen Elektronik GmbH", "Agritech", 190, "Öhringen", "DE"),
    ("Pegnitz Medizinsysteme GmbH", "Medical technology", 62, "Nürnberg", "DE"),
    ("Tauber Fahrradelektronik GmbH", "Consumer electronics", 33, "Bad Mergentheim", "DE"),
    ("Werra Signaltechnik GmbH", "Rail", 105, "Eschwege", "DE"),
    ("Lippe Ladeinfrastruktur GmbH", "Energy", 47, "Lemgo", "DE"),
    ("Rügen Maritime Sensorik GmbH", "IoT", 19, "Bergen auf Rügen", "DE"),
    ("Alpenglanz Steuerungen AG", "Industrial automation", 160, "St. Gallen", "CH"),
    ("Limmat Medtech AG", "Medical technology", 240, "Zürich", "CH"),
    ("Jura Zeitmesstechnik SA", "Test & measurement", 85, "Biel/Bienne", "CH"),
    ("Donauwelle Automation GmbH", "Industrial automation", 130, "Linz", "AT"),
    ("Wachau Sensortechnik GmbH", "IoT", 40, "Krems", "AT"),
    ("Tauernbahn Elektronik GmbH", "Rail", 210, "Villach", "AT"),
    ("Nordvik Instruments AS", "Test & measurement", 70, "Trondheim", "NO"),
    ("Kestrel Robotics Ltd", "Industrial automation", 55, "Cambridge", "GB"),
    ("Brightwater Medical Devices Ltd", "Medical technology", 310, "Galway", "IE"),
    ("Lumora Lighting B.V.", "Lighting", 90, "Eindhoven", "NL"),
    ("Polderkracht Energy B.V.", "Energy", 65, "Delft", "NL"),
    ("Vltava Power s.r.o.", "Energy", 120, "Plzeň", "CZ"),
    ("Wisłok Automatyka Sp. z o.o.", "Industrial automation", 95, "Rzeszów", "PL"),
    ("Oresund Mobility AB", "Automotive", 150, "Malmö", "SE"),
    ("Fjordlys Marine AS", "Aerospace", 45, "Bergen", "NO"),
    ("Aubergine Domotique SAS", "Consumer electronics", 30, "Grenoble", "FR"),
    ("Lagune Sensori S.r.l.", "IoT", 27, "Treviso", "IT"),
    ("Dolomiti Elettronica S.r.l.", "Industrial automation", 80, "Bolzano", "IT"),
    ("Tamesis Rail Systems Ltd", "Rail", 400, "Derby", "GB"),
    ("Saimaa Sensor Oy", "IoT", 35, "Lappeenranta", "FI"),
    ("Meseta Agrotech S.L.", "Agritech", 60, "Valladolid", "ES"),
    ("Halcyon Avionics Inc.", "Aerospace", 540, "Wichita", "US"),
    ("Prairie Grid Controls Inc.", "Energy", 210, "Madison", "US"),
    ("Cedar Loop Wearables Inc.", "Consumer electronics", 48, "Boulder", "US"),
    ("Sakura Precision Instruments K.K.", "Test & measurement", 260, "Hamamatsu", "JP"),
    ("Harbourline Security Pte. Ltd.", "Security", 75, "Singapore", "SG"),
    ("Kanata Photonics Corp.", "Lighting", 88, "Ottawa", "CA"),
    ("Danube Charge Kft.", "Energy", 42, "Győr", "HU"),
)
COUNTRY_PHONE = {
    "DE": "+49",
    "CH": "+41",
    "AT": "+43",
    "NO": "+47",
    "GB": "+44",
    "IE": "+353",
    "NL": "+31",
    "CZ": "+420",
    "PL": "+48",
    "SE": "+46",
    "FR": "+33",
    "IT": "+39",
    "FI": "+358",
    "ES": "+34",
    "US": "+1",
    "JP": "+81",
    "SG": "+65",
    "CA": "+1",
    "HU": "+36",
}

# Share of customer firms among all firms (seed 000: ~200 of ~8,000; the demo shows more of them).
CUSTOMER_FIRM_SHARE = 0.3
# Final-stage weights for persons at ordinary target firms and at customer firms.
STAGE_WEIGHTS_TARGET_FIRM = (62, 26, 12, 0, 0, 0)
STAGE_WEIGHTS_CUSTOMER_FIRM = (12, 14, 14, 26, 22, 12)
# Days between entering one stage and the next (min, max), by the stage being entered.
STAGE_GAP_DAYS = {1: (5, 120), 2: (7, 90), 3: (14, 75), 4: (7, 45), 5: (45, 200)}
SCORE_RANGE = {0: (0, 15), 1: (10, 45), 2: (35, 75), 3: (50, 90), 4: (55, 95), 5: (65, 100)}

REASONS = {
    "lead": (
        "Messegespräch auf der embedded world",
        "Whitepaper EMV-gerechtes Layout heruntergeladen",
        "Telefonrecherche: Bedarf an Layout-Kapazität",
        "Newsletter-Anmeldung über die Website",
        "Suchanfrage 'Leiterplattendesign Dienstleister' → Kontaktformular",
        "Webinar 'Vom Prototyp zur Serie' besucht",
    ),
    "prospect": (
        "NDA angefragt",
        "Angebot für Prototypen-Layout angefragt",
        "Technische Anfrage zur Bestückung von BGAs",
        "Preisanfrage für 500 Baugruppen",
        "Projektbesprechung: Redesign einer Steuerplatine",
    ),
    "customer": (
        "Auftrag erteilt: Layout und Prototypenfertigung",
        "Auftrag: Nullserie 200 Stück",
        "Rahmenvertrag EMS unterschrieben",
        "Monatspaket Entwicklung gebucht",
    ),
    "consumption": (
        "Monatspaket wird regelmäßig abgerufen",
        "Zweite Serie nachbestellt",
        "Design in eigener Produktlinie eingesetzt",
    ),
    "reference": (
        "Case Study für die Broschüre freigegeben",
        "Testimonial für die Website",
        "Hat uns an einen Partner empfohlen",
    ),
}
SKIP_REASON = "Direkte Anfrage über das Kontaktformular"
BACK_REASONS = {
    "suspect": "Falscher Ansprechpartner, kein Bedarf",
    "lead": "Angebot verloren, zurück ins Nurturing",
    "customer": "Monatspaket bleibt ungenutzt",
}


# --- the plan: what the demo consists of, independent of the database -----------------------------


@dataclass
class PlannedMove:
    stage: int  # index into STAGE_KEYS
    at: datetime
    by: str | None  # a demo username, or None for the DEMO_RULE
    reason: str = ""


@dataclass
class PlannedContact:
    email: str
    first_name: str
    last_name: str
    job_title: str
    phone: str
    company: str
    owner: str | None
    consent_email: bool
    fit_score: int
    engagement_score: int
    tags: list[str]
    moves: list[PlannedMove] = field(default_factory=list)
    source: str = ""

    @property
    def stage(self) -> int:
        return self.moves[-1].stage


@dataclass
class DemoPlan:
    companies: list[dict]
    contacts: list[PlannedContact]


def build_plan(*, seed: int = DEFAULT_SEED, now: datetime | None = None) -> DemoPlan:
    """The complete demo data set for ``seed``; deterministic for a given seed and day."""
    rng = random.Random(seed)
    # Anchor on midnight so that runs on the same day agree to the second.
    now = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    companies = []
    customer_firms = set()
    for name, industry, employees, city, country in COMPANIES:
        companies.append(
            {
                "name": name,
                "domain": _domain(name),
                "industry": industry,
                "employees": employees,
                "properties": {"city": city, "country": country},
            }
        )
        if rng.random() < CUSTOMER_FIRM_SHARE:
            customer_firms.add(name)

    titles, title_weights = zip(*JOB_TITLES, strict=True)
    sources, source_weights = zip(*SOURCE_WEIGHTS, strict=True)
    # Sources come from a generator of their own, so that adding them left every other planned
    # value (and with it the other apps' demo data, which is keyed to it) as it was.
    source_rng = random.Random(f"{seed}:source")
    emails: set[str] = set()
    contacts = []
    for company in companies:
        # Bigger firms have more persons we know; between 2 and 9.
        count = min(9, 2 + company["employees"] // 80 + rng.randint(0, 3))
        customer_firm = company["name"] in customer_firms
        weights = STAGE_WEIGHTS_CUSTOMER_FIRM if customer_firm else STAGE_WEIGHTS_TARGET_FIRM
        for _ in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = _unique_email(f"{_ascii(first)}.{_ascii(last)}", company["domain"], emails)
            final = rng.choices(range(len(STAGE_KEYS)), weights=weights)[0]
            owner = rng.choice(("sales", "sales2")) if final >= 1 else None
            moves = _plan_moves(rng, final=final, owner=owner, now=now)
            low, high = SCORE_RANGE[moves[-1].stage]
            score = rng.randint(low, high)
            fit = min(score, rng.randint(score // 3, score // 2 + 10))
            tags = _plan_tags(rng, moves)
            consent = "newsletter" in tags or rng.random() < 0.3
            country = company["properties"]["country"]
            phone = (
                f"{COUNTRY_PHONE[country]} {rng.randint(20, 989)} {rng.randint(100000, 9999999)}"
                if rng.random() < 0.7
                else ""
            )
            source = source_rng.choices(sources, weights=source_weights)[0]
            contacts.append(
                PlannedContact(
                    email=email,
                    first_name=first,
                    last_name=last,
                    job_title=rng.choices(titles, weights=title_weights)[0],
                    phone=phone,
                    company=company["name"],
                    owner=owner,
                    consent_email=consent,
                    fit_score=fit,
                    engagement_score=score - fit,
                    tags=tags,
                    moves=moves,
                    source=source.value,
                )
            )
    return DemoPlan(companies=companies, contacts=contacts)


def _plan_moves(rng: random.Random, *, final: int, owner: str | None, now: datetime) -> list[PlannedMove]:
    """The stages a person passed to reach ``final``, in order, with a few skips and setbacks."""
    path = list(range(final + 1))
    skipped = False
    roll = rng.random()
    if final >= 2 and roll < 0.08:
        path.remove(1)  # asked for an offer straight away, never a "lead"
        skipped = True
    elif roll < 0.14:
        # A setback: went one stage too far and came back (offer lost, package unused, wrong person).
        if final in (0, 1):
            path += [final + 1, final]
        elif final == 3:
            path += [4, 3]
        elif final == 2:
            path = [0, 1, 2, 1, 2]
    gaps = [rng.randint(*STAGE_GAP_DAYS.get(stage, (10, 60))) for stage in path[1:]]
    span = sum(gaps)
    if span > HISTORY_DAYS - 10:
        gaps = [max(1, g * (HISTORY_DAYS - 10) // span) for g in gaps]
        span = sum(gaps)
    # Entered on a working-day hour between 08:00 and 17:00.
    days_ago = rng.randint(span + 1, HISTORY_DAYS)
    start = now - timedelta(days=days_ago) + timedelta(hours=8, minutes=rng.randint(0, 9 * 60))
    moves = [PlannedMove(stage=path[0], at=start, by=None)]
    at = start
    for previous, stage, gap in zip(path[:-1], path[1:], gaps, strict=True):
        at = at + timedelta(days=gap, minutes=rng.randint(-120, 120))
        key = STAGE_KEYS[stage]
        if stage < previous:
            reason = BACK_REASONS.get(key, "Zurückgestuft")
        elif skipped and stage == 2 and previous == 0:
            reason = SKIP_REASON
        else:
            reason = rng.choice(REASONS[key])
        # Trade-fair and newsletter leads arrive through marketing; the owner does the rest.
        by = "marketing" if stage == 1 and previous == 0 and rng.random() < 0.5 else owner
        moves.append(PlannedMove(stage=stage, at=min(at, now - timedelta(hours=1)), by=by, reason=reason))
    return moves


def _plan_tags(rng: random.Random, moves: list[PlannedMove]) -> list[str]:
    reached = max(m.stage for m in moves)
    tags = []
    if any("embedded world" in m.reason for m in moves) or rng.random() < 0.12:
        tags.append("messe-2026" if moves[0].at.year >= 2026 else "messe-2025")
    if rng.random() < 0.25:
        tags.append("newsletter")
    if reached >= 1 and rng.random() < 0.35:
        tags.append(rng.choice(("pcb-design", "ems", "prototyp", "serienfertigung")))
    if reached >= 1 and rng.random() < 0.15:
        tags.append(rng.choice(("webinar", "whitepaper-emv")))
    if reached >= 2 and rng.random() < 0.6:
        tags.append("nda")
    if reached >= 4 and rng.random() < 0.4:
        tags.append("monatspaket")
    if reached >= 5:
        tags.append("empfehlung")
    return tags


# --- writing the plan -----------------------------------------------------------------------------


@dataclass
class DemoResult:
    users_created: list[str]
    companies_created: int
    contacts_created: int
    transitions_created: int


@transaction.atomic
def load_demo(*, seed: int = DEFAULT_SEED, now: datetime | None = None) -> DemoResult:
    """Create whatever part of the demo data is missing; existing rows are left untouched."""
    users, users_created = _ensure_users()
    plan = build_plan(seed=seed, now=now)

    names = [c["name"] for c in plan.companies]
    existing_companies = {c.name: c for c in Company.objects.filter(name__in=names)}
    new_companies = [Company(**data) for data in plan.companies if data["name"] not in existing_companies]
    Company.objects.bulk_create(new_companies)
    companies = {**existing_companies, **{c.name: c for c in new_companies}}

    tags = _ensure_tags()
    stages = {s.key: s for s in Stage.objects.all()}
    missing_stages = set(STAGE_KEYS) - set(stages)
    if missing_stages:
        raise RuntimeError(f"The default stages are missing ({sorted(missing_stages)}); run migrate first.")

    # Planned emails are lower case; the lookup uses the unique index on LOWER(email).
    planned = [p.email.lower() for p in plan.contacts]
    known = set(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=planned)
        .values_list("email_lower", flat=True)
    )
    todo = [p for p in plan.contacts if p.email.lower() not in known]
    contacts = [
        Contact(
            email=p.email,
            first_name=p.first_name,
            last_name=p.last_name,
            job_title=p.job_title,
            phone=p.phone,
            company=companies[p.company],
            stage=stages[STAGE_KEYS[p.stage]],
            owner=users[p.owner] if p.owner else None,
            consent_email=p.consent_email,
            source=p.source,
            # Demo state, as if the scoring app had scored eighteen months of activity.
            score=p.fit_score + p.engagement_score,
            fit_score=p.fit_score,
            engagement_score=p.engagement_score,
            created_at=p.moves[0].at,
        )
        for p in todo
    ]
    Contact.objects.bulk_create(contacts)

    transitions = []
    links = []
    Link = Contact.tags.through
    for planned, contact in zip(todo, contacts, strict=True):
        previous = None
        for move in planned.moves:
            transitions.append(
                StageTransition(
                    contact=contact,
                    from_stage=stages[STAGE_KEYS[previous]] if previous is not None else None,
                    to_stage=stages[STAGE_KEYS[move.stage]],
                    at=move.at,
                    by=users[move.by] if move.by else None,
                    rule="" if move.by else DEMO_RULE,
                    reason=move.reason,
                )
            )
            previous = move.stage
        links += [Link(contact_id=contact.pk, tag_id=tags[name].pk) for name in planned.tags]
    StageTransition.objects.bulk_create(transitions)
    Link.objects.bulk_create(links, ignore_conflicts=True)
    return DemoResult(
        users_created=users_created,
        companies_created=len(new_companies),
        contacts_created=len(contacts),
        transitions_created=len(transitions),
    )


def _ensure_users() -> tuple[dict, list[str]]:
    """The demo users by username. Existing users keep their password: a second run changes nothing."""
    User = get_user_model()
    users, created_names = {}, []
    for demo in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=demo.username,
            defaults={
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": f"{demo.username}@demo.trichter.test",
                "is_staff": demo.superuser,
                "is_superuser": demo.superuser,
            },
        )
        if created:
            user.set_password(demo.password)
            user.save(update_fields=["password"])
            created_names.append(demo.username)
        user.groups.add(Group.objects.get(name=demo.role))
        users[demo.username] = user
    return users, created_names


def _ensure_tags() -> dict[str, Tag]:
    tags = {}
    for name in TAGS:
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        tags[name] = tag
    return tags


def _ascii(text: str) -> str:
    """'Müller' → 'mueller', 'de Vries' → 'devries': the local part of a plausible address."""
    text = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i")):
        text = text.replace(umlaut, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text)


LEGAL_FORMS = {
    "gmbh",
    "ag",
    "sa",
    "as",
    "ltd",
    "bv",
    "sro",
    "sp",
    "zoo",
    "ab",
    "sas",
    "srl",
    "oy",
    "sl",
    "inc",
    "kk",
    "pte",
    "corp",
    "kft",
}


def _domain(company_name: str) -> str:
    """'Bodensee Sensorik GmbH' → 'bodensee-sensorik.example'.

    The reserved TLD keeps the invented firms from ever matching a real one, so a nurture sequence
    run against demo data cannot mail a stranger.
    """
    core = [w for w in (_ascii(w) for w in company_name.split()) if w and w not in LEGAL_FORMS][:2]
    return f"{'-'.join(core)}.example"


def _unique_email(local: str, domain: str, taken: set[str]) -> str:
    candidate, n = f"{local}@{domain}", 2
    while candidate in taken:
        candidate, n = f"{local}{n}@{domain}", n + 1
    taken.add(candidate)
    return candidate
