"""The docs and the route table keep up with the code: settings in the README, operations routed.

- every setting `maskline.settings.describe()` lists is named in README.md, and every
  `MASKLINE_*` variable the README names is a real setting;
- each of the spec's 30 operations is routed: its path is known to the server (another method
  there gets 405) and its own method is not refused with 405, and the answer is JSON.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from maskline.settings import describe
from tests.support import ACCOUNT_SID, AUTH_TOKEN, ROOT, Server, new_database_url, spec, unique

README = ROOT / "README.md"
VARIABLE = re.compile(r"(?<![A-Z0-9_])MASKLINE_[A-Z][A-Z0-9_]*(?![A-Z0-9_])")

SETTINGS = [name for name, _default, _help in describe()]


def _readme() -> str:
    assert README.is_file(), "README.md is missing"
    return README.read_text(encoding="utf-8")


@pytest.mark.parametrize("variable", SETTINGS)
def test_every_setting_is_documented_in_the_readme(variable: str) -> None:
    assert variable in set(VARIABLE.findall(_readme())), f"README.md does not mention {variable}"


def test_the_readme_names_only_real_settings() -> None:
    named = set(VARIABLE.findall(_readme()))
    assert named - set(SETTINGS) == set()


def test_describe_lists_each_setting_once_with_help() -> None:
    rows = describe()
    assert len(SETTINGS) == len(set(SETTINGS))
    assert all(name.startswith("MASKLINE_") and help_text.strip() for name, _, help_text in rows)


# A placeholder SID for each path parameter, by the collection it follows in the path.
_PREFIX = {
    "Services": "KS",
    "Sessions": "KC",
    "Participants": "KP",
    "PhoneNumbers": "PN",
    "ShortCodes": "SC",
    "Interactions": "KI",
    "MessageInteractions": "KI",
}


def _operations() -> list[Any]:
    found = []
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found.append(pytest.param(method.upper(), path, id=operation["operationId"]))
    return found


def _placeholder_url(path: str) -> str:
    segments = path.strip("/").split("/")
    filled = []
    for i, segment in enumerate(segments):
        if segment.startswith("{"):
            filled.append(_PREFIX[segments[i - 1]] + "0" * 32)
        else:
            filled.append(segment)
    return "/" + "/".join(filled)


def test_the_spec_has_thirty_operations() -> None:
    assert len(_operations()) == 30


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_is_routed(api: httpx.Client, method: str, path: str) -> None:
    url = _placeholder_url(path)
    # The path is in the route table: a method no operation uses is refused there with 405.
    other = api.request("PATCH", url)
    assert other.status_code == 405, other.text
    response = api.request(method, url)
    assert response.status_code != 405, response.text
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    if response.status_code >= 400:
        assert body["status"] == response.status_code
        assert isinstance(body["code"], int)


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", _readme(), flags=re.DOTALL)


def test_the_quickstart_runs_and_prints_what_it_did(tmp_path: Path) -> None:
    """The README's quickstart, run as written against a fresh server: only the printed
    development account and the base URL are filled in."""
    code = _python_blocks()[0]
    assert 'Client("AC...", "your-auth-token")' in code
    assert 'client.proxy.base_url = "http://127.0.0.1:8080"' in code
    running = Server(database_url=new_database_url(tmp_path)).start()
    try:
        code = code.replace(
            'Client("AC...", "your-auth-token")', f'Client("{ACCOUNT_SID}", "{AUTH_TOKEN}")'
        ).replace('"http://127.0.0.1:8080"', f'"{running.base_url}"')
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        running.stop()
    assert done.returncode == 0, done.stderr
    assert re.search(r"^session KC[0-9a-f]{32} open$", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^message KI[0-9a-f]{32} \S+$", done.stdout, re.MULTILINE), done.stdout


def test_the_commands_table_shows_serve_s_real_options() -> None:
    from maskline.cli import serve

    options = {opt for param in serve.params for opt in getattr(param, "opts", [])}
    row = next(line for line in _readme().splitlines() if line.startswith("| `maskline serve"))
    shown = set(re.findall(r"--[a-z-]+", row))
    assert shown == options - {"--help"}, row
    assert {"--workers", "--database-url", "--public-url"} <= shown


def test_the_readme_says_how_to_run_the_cli_and_start_over() -> None:
    readme = _readme()
    assert ".venv/bin/maskline" in readme
    assert "source .venv/bin/activate" in readme
    assert "remove `./var`" in readme
    clean = re.search(r"^clean:\n\t(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert clean is not None and " var " in f" {clean.group(1)} ", "make clean removes ./var"


def test_the_readme_names_what_the_postgresql_half_needs() -> None:
    readme = _readme()
    assert "sudo apt-get install postgresql pgbouncer" in readme
    assert "PostgreSQL half is skipped" in readme


def test_the_readme_s_numbers_are_valid_and_its_invalid_one_is_refused(api: httpx.Client) -> None:
    """Every number the README's examples use passes Maskline's check; the one it gives as
    impossible is refused with the codes it names."""
    import phonenumbers

    numbers = set(re.findall(r"\+1\d{10}", _readme()))
    assert numbers
    for number in numbers:
        assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    bad = re.search(r"`(\+1 415 100 0000)`", _readme())
    assert bad is not None
    impossible = bad.group(1).replace(" ", "")
    service = api.post("/v1/Services", data={"UniqueName": unique("docs")}).json()["sid"]
    pool = api.post(f"/v1/Services/{service}/PhoneNumbers", data={"PhoneNumber": impossible})
    assert (pool.status_code, pool.json()["code"]) == (400, 80701), pool.text
    session = api.post(f"/v1/Services/{service}/Sessions", data={}).json()["sid"]
    joined = api.post(
        f"/v1/Services/{service}/Sessions/{session}/Participants", data={"Identifier": impossible}
    )
    assert (joined.status_code, joined.json()["code"]) == (400, 80404), joined.text


def test_the_readme_and_deployment_guide_say_when_serve_migrates() -> None:
    readme = " ".join(_readme().split())
    guide = " ".join((ROOT / "docs" / "deployment.md").read_text(encoding="utf-8").split())
    for text in (readme, guide):
        assert "creates the schema of an empty database" in text
        assert "holds tables and is behind" in text
