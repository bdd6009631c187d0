"""Property-based API tests (schemathesis): requests generated from the served OpenAPI schema, valid
and invalid, sent to every operation with an admin token. No answer may be a server error (5xx),
and every documented answer must match its schema. (Error statuses are not all documented in the
schema, so undocumented 4xx are not failures here; their bodies are checked by the API tests.)"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.models import ApiToken
from tests.factories import ContactFactory, UserFactory

# Fewer examples per operation than Hypothesis' default keep the whole API within about a minute.
EXAMPLES = 12

_document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
schema = schemathesis.openapi.from_dict(_document)
schema.app = get_wsgi_application()


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Schemathesis calls the WSGI application directly, so Django sends request_started/finished,
    whose close_old_connections would close the test's connection (and its transaction) after the
    first request; Django's own test client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, settings):
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI client's host
    admin = UserFactory(username="schemathesis", roles=["admin"])
    ContactFactory.create_batch(3)  # something to list, filter and fetch
    return ApiToken.objects.issue(user=admin, name="schemathesis")[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The same examples on every run: a CI run that fails can be repeated; new endpoints and schema
    # changes still change what is generated.
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_the_api_answers_every_generated_request_within_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
