"""`python -m screening users add NAME --role ROLE` prints the key as its last line; the key works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from svc_helpers import auth, settings_for

ROOT = Path(__file__).resolve().parents[2]


def run(*args, url):
    return subprocess.run([sys.executable, "-m", "screening", *args, "--database-url", url], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_users_add_prints_the_key_last_and_the_key_works(tmp_path, svc_screener):
    from fastapi.testclient import TestClient

    from service.app import create_app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    r = run("users", "add", "Nguyễn Lan", "--role", "inspector", url=url)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_") and len(key) > 30
    assert key not in r.stderr
    with TestClient(create_app(settings_for(url), svc_screener)) as c:
        me = c.get("/v1/me", headers=auth(key))
        assert me.status_code == 200 and me.json() == {**me.json(), "name": "Nguyễn Lan", "role": "inspector"}
        assert c.get("/v1/flags", headers=auth(key)).status_code == 200
    listed = run("users", "list", url=url)
    assert "Nguyễn Lan" in listed.stdout and key not in listed.stdout


def test_users_add_refuses_a_duplicate_or_an_unknown_role(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run("users", "add", "lan", "--role", "scanner", url=url).returncode == 0
    dup = run("users", "add", "lan", "--role", "scanner", url=url)
    assert dup.returncode == 2 and "exists" in dup.stderr
    bad = run("users", "add", "minh", "--role", "boss", url=url)
    assert bad.returncode == 2 and "unknown role" in bad.stderr


def test_rotate_prints_a_new_key_last(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = run("users", "add", "lan", "--role", "admin", url=url).stdout.strip().splitlines()[-1]
    r = run("users", "rotate", "lan", url=url)
    assert r.returncode == 0
    second = r.stdout.strip().splitlines()[-1]
    assert second.startswith("sk_") and second != first
    assert run("users", "disable", "lan", url=url).returncode == 0
    assert run("users", "rotate", "nobody", url=url).returncode == 2


def test_load_examples_is_idempotent(tmp_path, svc_screener):
    from service.cli import load_examples

    s = settings_for(f"sqlite:///{tmp_path / 'ex.db'}")
    created, queued = load_examples(s, svc_screener)
    assert created >= 5 and 0 < queued <= created
    assert load_examples(s, svc_screener) == (0, 0)


def test_demo_users_only_on_an_empty_database(tmp_path):
    from service.cli import add_user, demo_users

    s = settings_for(f"sqlite:///{tmp_path / 'demo.db'}")
    made = demo_users(s)
    assert [(n, r) for n, r, _ in made] == [("demo-inspector", "inspector"), ("demo-job-centre", "job_centre")]
    assert demo_users(s) == []
    other = settings_for(f"sqlite:///{tmp_path / 'other.db'}")
    add_user("lan", "admin", other.database_url)
    assert demo_users(other) == []
