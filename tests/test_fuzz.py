"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis 4), on the real
app, the real model and the real index: no 5xx, no stack trace, a French `detail` on every 4xx.

Admin routes are fuzzed without the key (the schema does not declare it): they must refuse, in
French, whatever the body; they never touch the shared index."""

import re

import pytest
import schemathesis
from conftest import make_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from assistant.api import create_app

# Boundary values first (coverage phase), then random ones (fuzzing); no stateful links.
CONFIG = schemathesis.Config.from_str("""
[phases.stateful]
enabled = false
""")
# Every message the API writes is French: accents, or one of its words.
FRENCH = re.compile(r"[éèàêâçôû]|\b(requête|ressource|clé|question|texte|champ|valeur|format|"
                    r"document|note|trop|invalide|introuvable|méthode|attendu)\b", re.I)
HEAVY = r"^/(api/chat|v1/chat/completions|api/chat/stream)$"  # each case runs the real answerer


@pytest.fixture(scope="module")
def api_schema(built_data_dir, assistant):
    app = create_app(make_settings(built_data_dir), assistant)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


def no_stack_trace_and_french_errors(ctx, response, case) -> None:
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    if 400 <= response.status_code < 500:
        detail = response.json().get("detail")
        assert isinstance(detail, str) and FRENCH.search(detail), (response.status_code, text)


def _check(case) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error,
                                             no_stack_trace_and_french_errors])


FUZZ = hypothesis_settings(deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))


@schema.exclude(path_regex=HEAVY).parametrize()
@hypothesis_settings(FUZZ, max_examples=30)
def test_light_routes_never_fail_and_explain_in_french(case):
    _check(case)


@schema.include(path_regex=HEAVY).parametrize()
@hypothesis_settings(FUZZ, max_examples=10)
def test_answering_routes_never_fail_and_explain_in_french(case):
    _check(case)
