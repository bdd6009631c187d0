"""The API's request parser (DEFAULT_PARSER_CLASSES).

Its own module, because DRF resolves DEFAULT_PARSER_CLASSES while rest_framework.views is being
imported; a module that imports rest_framework.views itself would be a circular import.
"""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, plus a 400 for two kinds of JSON that parse but would end in a 500:
    nesting deeper than Python's recursion limit, and lone UTF-16 surrogates (``"\\ud800"``),
    which no UTF-8 database column can store."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - invalid Unicode (unpaired surrogate).") from None
        return data
