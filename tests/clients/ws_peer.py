"""A real WebSocket server and client (websockets) for tests/tests/websocket.rs.

  ws_peer.py serve                      prints "ws peer listening on HOST:PORT"
  ws_peer.py call BASE_URL TOKEN        prints one JSON object of outcomes

The server echoes text and binary frames; "whoami" answers with the identity
headers of the upgrade request, "push" sends two frames unasked, "close-me"
closes from the server's side with code 4000.
"""
import asyncio
import json
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as ws_serve


async def handler(ws):
    headers = ws.request.headers
    async for message in ws:
        if message == "whoami":
            await ws.send(json.dumps({
                "user": headers.get("x-auth-user-id"),
                "assertion": bool(headers.get("x-auth-assertion")),
                "authorization": bool(headers.get("authorization")),
                "path": ws.request.path,
            }))
        elif message == "push":
            await ws.send("pushed-1")
            await ws.send("pushed-2")
        elif message == "close-me":
            await ws.close(4000, "server closes")
        else:
            await ws.send(message)


async def serve():
    async with ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"ws peer listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


async def refused(url, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with connect(url, additional_headers=headers, open_timeout=10):
            return {"status": 101}
    except websockets.exceptions.InvalidStatus as e:
        return {"status": e.response.status_code}


async def conversation(url, token):
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    async with connect(url, additional_headers=headers, open_timeout=10) as ws:
        await ws.send("whoami")
        out["whoami"] = json.loads(await ws.recv())
        await ws.send("hello")
        out["text"] = await ws.recv()
        await ws.send(b"\x00\x01binary")
        out["binary"] = list(await ws.recv())
        # Idle longer than the upstream read timeout: the tunnel stays.
        await asyncio.sleep(1.5)
        await ws.send("after a pause")
        out["after_pause"] = await ws.recv()
        await ws.send("push")
        out["pushed"] = [await ws.recv(), await ws.recv()]
    out["client_close_code"] = ws.close_code
    async with connect(url, additional_headers=headers, open_timeout=10) as ws:
        await ws.send("close-me")
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out["server_close_code"] = e.rcvd.code if e.rcvd else None
    return out


async def call(base, token):
    result = {
        "no_token": await refused(f"{base}/ws/alice/chat", None),
        "bad_token": await refused(f"{base}/ws/alice/chat", "not-a-token"),
        "other_user": await refused(f"{base}/ws/bob/chat", token),
        "own": await conversation(f"{base}/ws/alice/chat", token),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(serve())
    else:
        asyncio.run(call(*sys.argv[2:]))
