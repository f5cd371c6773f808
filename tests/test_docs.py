"""The docs and the route table keep up with the code: settings in the README, operations routed.

- every setting `maskline.settings.describe()` lists is named in README.md, and every
  `MASKLINE_*` variable the README names is a real setting;
- each of the spec's 30 operations is routed: its path is known to the server (another method
  there gets 405) and its own method is not refused with 405, and the answer is JSON.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from maskline.settings import describe
from tests.support import ROOT, spec

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
