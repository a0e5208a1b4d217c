"""`manage.py check --deploy` passes with the production settings.

The production settings are `.env.example`'s, which the README sends
deployers to; only the SECRET_KEY placeholder is replaced by a long random
key, and the database by a SQLite file (the check does not connect).
"""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

NO_ISSUES = "System check identified no issues (0 silenced)."


def production_environment(tmp_path, **changes):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    for line in (settings.BASE_DIR / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            env[name.strip()] = value.strip()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


def check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_the_production_settings(tmp_path):
    env = production_environment(tmp_path)

    result = check_deploy(env)

    assert env["DEBUG"] == "false"
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == NO_ISSUES


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": None}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": None}, "security.W004"),
        ({"SECURE_HSTS_INCLUDE_SUBDOMAINS": "false"}, "security.W005"),
        ({"SESSION_COOKIE_SECURE": "false"}, "security.W012"),
        ({"SECRET_KEY": "change-me"}, "security.W009"),
        ({"DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_names_a_weakened_setting(tmp_path, changes, warning):
    result = check_deploy(production_environment(tmp_path, **changes))

    assert result.returncode != 0
    assert warning in result.stderr


def test_env_example_reads_the_same_in_bash_systemd_and_docker(tmp_path):
    """bash `source`, systemd's EnvironmentFile and docker's --env-file agree
    only on plain NAME=value lines: no spaces, quotes or expansions."""
    path = settings.BASE_DIR / ".env.example"
    result = subprocess.run(
        ["bash", "-c", 'set -a; source "$1"; env', "bash", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", "")},
    )
    sourced = dict(
        line.split("=", 1) for line in result.stdout.splitlines() if "=" in line
    )

    assert result.returncode == 0 and result.stderr == ""
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert not any(c in value for c in " \t\"'$`\\"), line
        assert sourced[name] == value, line
