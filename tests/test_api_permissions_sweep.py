"""Every operation of the served API schema, with no token and with a token of a user who has no
role: 401 and 403, never an answer with data and never a server error. (The role-by-role rules of
each endpoint are tested with the endpoint; this sweep makes sure no endpoint was forgotten.)"""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.models import ApiToken
from tests.factories import ContactFactory

_document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
OPERATIONS = [
    (method.upper(), path)
    for path, item in sorted(_document["paths"].items())
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]


def concrete(path: str, contact_id: int) -> str:
    """Fill the path's parameters: ids with an existing contact's id (a real object where the id is
    a contact), everything else with a plausible value."""
    path = re.sub(r"\{(id|pk|contact_id|subscription_id)\}", str(contact_id), path)
    path = re.sub(r"\{delivery_id\}", "00000000-0000-0000-0000-000000000000", path)
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_sweep_covers_the_api():
    assert len(OPERATIONS) > 80  # the whole API, not a schema that failed to load


@pytest.mark.django_db
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_token_is_401_and_no_role_is_403(method, path, api_client_for, outsider):
    url = concrete(path, ContactFactory().pk)
    anonymous = api_client_for(None).generic(method, url, "{}", content_type="application/json")
    assert anonymous.status_code == 401, (method, url, anonymous.status_code)
    _, key = ApiToken.objects.issue(user=outsider, name="sweep")
    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    no_role = client.generic(method, url, "{}", content_type="application/json")
    assert no_role.status_code == 403, (method, url, no_role.status_code)
