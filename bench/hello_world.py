"""The HTTP benchmark's baseline: a bare FastAPI app, served by uvicorn as `finagency serve`
serves ours (one process, the same loop and HTTP parser, access log off, proxy headers on).

Run: .venv/bin/python bench/hello_world.py PORT   (bench/http_endpoints.py starts it itself)
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


def main() -> None:
    # The same arguments as finagency.cli.serve (workers 1, its default and the image's).
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=1,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
