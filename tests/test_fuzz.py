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
from assistant.settings import Settings

# Boundary values first (coverage phase), then random ones (fuzzing); no stateful links.
CONFIG = schemathesis.Config.from_str("""
[phases.stateful]
enabled = false
""")
# Every message the API writes is French: accents or French words, and no English error text.
FRENCH = re.compile(r"[éèàêâçôû]|\b(le|la|les|de|des|du|un|une|aucun|aucune|est|pas|trop|"
                    r"requête|clé|question|texte|champ|valeur|format|invalide|introuvable|"
                    r"document|inconnu|message|utilisateur|fichier|serveur)\b", re.I)
ENGLISH = re.compile(r"\b(the|not found|error|invalid|field required|not allowed|internal server|"
                     r"unprocessable|value is not|input should)\b", re.I)
HEAVY = r"^/(api/chat|v1/chat/completions|api/chat/stream)$"  # each case runs the real answerer


# The schema is read from the app factory without starting it (no model, no index); the cases
# are then sent to the real app, started once with the session's assistant.
# (schemathesis.pytest.from_fixture cannot be used: it relies on pytest's removed `_nodeid`.)
schema = schemathesis.openapi.from_dict(
    create_app(Settings(_env_file=None, admin_api_key="cle")).openapi(), config=CONFIG)


@pytest.fixture(scope="module")
def app(built_data_dir, assistant):
    return create_app(make_settings(built_data_dir), assistant)


def no_stack_trace_and_french_errors(ctx, response, case) -> None:
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    if 400 <= response.status_code < 500:
        detail = response.json().get("detail")
        assert isinstance(detail, str) and FRENCH.search(detail), (response.status_code, text)
        assert not ENGLISH.search(detail), (response.status_code, text)


def _check(case, app) -> None:
    response = case.call(app=app)
    case.validate_response(response, checks=[not_a_server_error,
                                             no_stack_trace_and_french_errors])


FUZZ = hypothesis_settings(deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))


@schema.exclude(path_regex=HEAVY).parametrize()
@hypothesis_settings(FUZZ, max_examples=300)
def test_light_routes_never_fail_and_explain_in_french(case, app):
    _check(case, app)


@schema.include(path_regex=HEAVY).parametrize()
@hypothesis_settings(FUZZ, max_examples=12)
def test_answering_routes_never_fail_and_explain_in_french(case, app):
    _check(case, app)
