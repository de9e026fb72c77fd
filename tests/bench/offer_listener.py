"""Regulators' consoles that only listen for call offers, in a process of their own.

``python -m tests.bench.offer_listener URL USERNAME POSITION...`` reads the account's password on
its standard input, signs in at each position through ``URL`` (the load balancer), opens one
console socket per position and prints one JSON line per event on its standard output:

- ``{"kind": "ready"}`` once every socket said hello;
- ``{"kind": "offer", "console": position, "call_id", "position", "caller", "at"}`` for each
  ``offer`` (``at``: ``time.time()`` when the socket delivered it);
- ``{"kind": "ended", "call_id"}`` for each call the console is told has ended.

Away from the benchmark's process, whose event loop is busy with many peers, the time an offer
arrives is read without waiting for that loop. It ends when its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import aiohttp


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def _read(position: str, ws: aiohttp.ClientWebSocketResponse) -> None:
    async for message in ws:
        received_at = time.time()
        if message.type is not aiohttp.WSMsgType.TEXT:
            continue
        data = json.loads(message.data)
        call = data.get("call") or {}
        if data.get("type") == "offer":
            _emit(
                {
                    "kind": "offer",
                    "console": position,
                    "call_id": call.get("call_id"),
                    "position": call.get("position"),
                    "caller": (call.get("caller") or {}).get("e164"),
                    "at": received_at,
                }
            )
        elif data.get("type") == "call.updated" and call.get("state") == "ended":
            _emit({"kind": "ended", "call_id": call.get("call_id")})
    _emit({"kind": "closed", "console": position, "code": ws.close_code})


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def listen(url: str, username: str, password: str, positions: list[str]) -> None:
    """Sign in at every position, say ready, relay the offers until stdin closes."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for position in positions:
            http = await stack.enter_async_context(
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            )
            async with http.post(
                f"{url}/console/login",
                data={"username": username, "password": password, "position": position},
                headers={"Origin": url},
                allow_redirects=False,
            ) as reply:
                where = reply.headers.get("Location")
                if reply.status != 303 or where != "/console":
                    raise RuntimeError(f"login at {position}: {reply.status} to {where}")
            ws = await stack.enter_async_context(
                http.ws_connect(f"{url}/console/ws", origin=url, heartbeat=20)
            )
            hello = await asyncio.wait_for(ws.receive_json(), 10)
            if hello.get("type") != "hello":
                raise RuntimeError(f"console at {position}: {hello}")
            sockets.append((position, ws))
        readers = [asyncio.create_task(_read(position, ws)) for position, ws in sockets]
        _emit({"kind": "ready"})
        await _until_stdin_closes()
        for _position, ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("username")
    parser.add_argument("positions", nargs="+")
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n")
    asyncio.run(listen(args.url, args.username, password, args.positions))


if __name__ == "__main__":
    main()
