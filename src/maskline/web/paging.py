"""Keyset paging: `PageToken` names the row a page starts after (PA) or ends before (PB).

Each page costs one index range scan, whatever its depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from maskline.errors import InvalidParameter
from maskline.web import params
from maskline.web.request import Request

DEFAULT_SIZE = 50
MAX_SIZE = 1000
# Row ids are 64-bit signed integers on both databases.
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True)
class PageRequest:
    size: int
    page: int
    after: int | None = None
    before: int | None = None


def page_request(req: Request) -> PageRequest:
    query = req.query
    size = params.integer(query, "PageSize", minimum=1, maximum=MAX_SIZE) or DEFAULT_SIZE
    page = params.integer(query, "Page", minimum=0) or 0
    token = params.text(query, "PageToken", max_length=64)
    if not token:
        return PageRequest(size=size, page=page)
    kind, digits = token[:2], token[2:]
    if kind not in ("PA", "PB") or not digits.isdigit() or not digits.isascii():
        raise InvalidParameter("PageToken", "is not a token this API gave")
    position = int(digits)
    if position > MAX_POSITION:
        raise InvalidParameter("PageToken", "is not a token this API gave")
    if kind == "PA":
        return PageRequest(size=size, page=page, after=position)
    return PageRequest(size=size, page=page, before=position)


def render_page(
    req: Request,
    key: str,
    request: PageRequest,
    rows: list[Any],
    items: list[dict[str, Any]],
    has_more: bool,
) -> dict[str, Any]:
    """The list body. `rows` carry `id`; there are `size + 1` of them when more follow."""
    base = req.base_url + quote(req.path)

    def page_url(page: int, token: str | None) -> str:
        url = f"{base}?PageSize={request.size}&Page={page}"
        return url + f"&PageToken={token}" if token else url

    first_id = rows[0].id if rows else None
    last_id = rows[-1].id if rows else None
    if request.before is not None:
        has_next = True
        has_previous = has_more
    else:
        has_next = has_more
        has_previous = request.after is not None
    current_token = (
        f"PA{request.after}"
        if request.after is not None
        else f"PB{request.before}"
        if request.before is not None
        else None
    )
    next_url = page_url(request.page + 1, f"PA{last_id}") if has_next and rows else None
    previous_url = (
        page_url(max(request.page - 1, 0), f"PB{first_id}") if has_previous and rows else None
    )
    return {
        key: items,
        "meta": {
            "page": request.page,
            "page_size": request.size,
            "first_page_url": page_url(0, None),
            "previous_page_url": previous_url,
            "next_page_url": next_url,
            "url": page_url(request.page, current_token),
            "key": key,
        },
    }
