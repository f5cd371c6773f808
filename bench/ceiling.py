"""The ceiling: a bare Starlette endpoint that answers a small JSON object.

It is served exactly as `maskline serve` serves Maskline (uvicorn, httptools, uvloop, one
process, no access log), so that the ratio of the two throughputs measures Maskline's own work:
routing, authentication, the database and rendering.

    python -m bench.ceiling --port 8099
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = {"sid": "KC" + "0" * 32, "status": "open", "ttl": 0}


async def answer(request: Request) -> JSONResponse:
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    # The same server settings as `maskline serve` (src/maskline/cli.py), one worker.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
