"""API fuzzing with schemathesis against the service's own OpenAPI schema: whatever the
generated input, no 5xx, and every response matches what the schema documents (status code,
content type, body). In-process (ASGI) on a SQLite file, with a key of the role each route
needs and a few stored postings, so that the happy paths are reached as well as the errors."""

from __future__ import annotations

import functools
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from svc_helpers import BENIGN, FEE, RISKY, ROLES, auth, settings_for

# The role whose key each operation is called with (the other roles are walked in test_service_auth).
EXAMPLES = 25
ROLE_OF = {"/v1/screen": "job_centre", "/v1/postings": "scanner", "/v1/users": "admin", "/v1/me": "admin"}


def role_for(path: str) -> str:
    if path.startswith("/v1/users"):
        return "admin"
    return ROLE_OF.get(path, "inspector")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_app(request, tmp_path_factory, svc_screener):
    from conftest import _empty_pg

    from service.app import create_app
    from service.db import storage
    from service.ingest import ingest_postings

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "service.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_schema_url")
        _empty_pg(url)
    # schemathesis also sends each case without and with a wrong key (its ignored_auth check):
    # no throttling here, or the right keys would soon meet 429s (test_service_auth tests it)
    app = create_app(settings_for(url, auth_fail_limit=0), svc_screener)
    with app.state.sessionmaker() as s:
        app.state.fuzz_keys = {role: storage.create_user(s, f"fuzz-{role}", role)[1] for role in ROLES}
        ingest_postings(s, svc_screener, [{"source": "fuzz", "external_id": str(i), "text": t}
                                          for i, t in enumerate((RISKY, FEE, BENIGN))])
    return app


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the schema documents (the schema needs no database)."""
    return [(m.upper(), p) for p, ops in _spec()["paths"].items() for m in ops]


@functools.lru_cache(maxsize=1)
def _spec() -> dict:
    from service.app import create_app

    return create_app(settings_for("sqlite:///unused-fuzz-schema.db"), object()).openapi()


def has_list_query(method: str, path: str) -> bool:
    op = _spec()["paths"][path][method.lower()]
    return any("array" in str(p.get("schema")) for p in op.get("parameters", []) if p["in"] == "query")


def takes_input(method: str, path: str) -> bool:
    op = _spec()["paths"][path][method.lower()]
    return bool(op.get("parameters") or op.get("requestBody"))


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def test_the_schema_documents_the_api(api_schema):
    assert ("POST", "/v1/screen") in operations() and ("GET", "/v1/flags/{flag_id}") in operations()
    assert not [r for r in api_schema.get_all_operations() if not hasattr(r, "ok")]


def fuzz_cases() -> list[tuple[str, str, str]]:
    """Every operation with valid data; those that take input also with invalid data."""
    return [(m, p, mode) for m, p in operations() for mode in ("positive", "negative")
            if mode == "positive" or takes_input(m, p)]


@pytest.mark.parametrize("method,path,mode", fuzz_cases(), ids=[f"{m} {p}-{x}" for m, p, x in fuzz_cases()])
def test_api_conforms_to_its_schema(api_schema, fuzz_app, method, path, mode):
    """Positive: data the schema allows (each is accepted, or refused as documented). Negative:
    data it does not allow (refused with a documented 4xx, never a 5xx)."""
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import negative_data_rejection

    op = api_schema[path][method]
    headers = auth(fuzz_app.state.fuzz_keys[role_for(path)])

    @given(case=op.as_strategy(GenerationMode(mode)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        r = case.call_and_validate(headers=headers, excluded_checks=excluded)
        statuses.append(r.status_code)

    # A list query parameter (status, band, indicator…) given once is, on the wire, the same as
    # a single string: schemathesis's negative mode takes "?status=open" for a string where the
    # schema says array and expects it refused. Its other negative checks still run there.
    excluded = [negative_data_rejection] if mode == "negative" and has_list_query(method, path) else []
    statuses: list[int] = []
    run()
    # not vacuous: cases were sent, and with valid data the key let them through (an operation
    # without parameters has a single case). Negative cases often break the Authorization
    # header itself (401); schemathesis checks that invalid data is not accepted.
    assert statuses
    if mode == "positive":
        assert all(c not in (401, 403, 429) for c in statuses), statuses
    print(f"{mode} {method} {path}: {len(statuses)} cases, statuses {sorted(set(statuses))}")


def test_no_request_names_a_model_rules_or_file():
    """The model and the rules come from the settings alone (the loader reads only models/ and
    checks the hash): no parameter or body field of any operation can point at one."""
    from service.app import create_app

    spec = create_app(settings_for("sqlite:///unused-fuzz-schema.db"), object()).openapi()
    schemas = spec["components"]["schemas"]

    def fields(schema, seen=()):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                yield from fields(schemas[name], seen + (name,))
            return
        for k, v in schema.get("properties", {}).items():
            yield k
            yield from fields(v, seen)
        for key in ("items", "anyOf", "allOf", "oneOf"):
            subs = schema.get(key)
            for sub in (subs if isinstance(subs, list) else [subs] if subs else []):
                yield from fields(sub, seen)

    names = set()
    for ops in spec["paths"].values():
        for op in ops.values():
            names |= {p["name"] for p in op.get("parameters", [])}
            for media in op.get("requestBody", {}).get("content", {}).values():
                names |= set(fields(media["schema"]))
    assert "text" in names and "decision" in names  # the walk sees the fields
    suspicious = {n for n in names if any(w in n.lower() for w in ("model", "rule", "file", "path", "dir"))}
    assert suspicious == set()
