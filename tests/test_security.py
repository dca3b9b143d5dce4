"""Security fixes: no option injection into git, no secrets on command lines or world-readable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from augment.errors import AugmentError
from augment.publish import load_augmented, versions

ROOT = Path(__file__).resolve().parents[1]


def test_repo_string_cannot_inject_a_git_option(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"--upload-pack=touch {marker};"
    assert versions("digits", repo=evil) == []
    with pytest.raises(AugmentError, match="no published version"):
        load_augmented("digits", repo=evil)
    assert not marker.exists()


def test_airflow_local_keeps_secrets_off_command_lines():
    script = (ROOT / "scripts/airflow-local").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    curl_calls = re.findall(r"curl [^|\n]*", code)
    assert curl_calls
    for call in curl_calls:  # neither the password nor the token is an argument of curl
        assert "PASSWORD" not in call and "TOKEN" not in call and "Bearer" not in call, call
    assert 'chmod 600 "$PASSWORDS"' in code and 'chmod 700 "$HOME_DIR"' in code
