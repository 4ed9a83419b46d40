"""A real gRPC server and client (grpcio, generic handlers, raw bytes: no code
generation) for tests/tests/grpc.rs.

  grpc_peer.py serve                      prints "grpc peer listening on HOST:PORT"
  grpc_peer.py call TARGET PREFIX TOKEN [CA]   prints one JSON object of outcomes

The server answers any /<prefix...>/<Method> with Method = Unary (echo), Stream
(three messages) or Chat (each message upper-cased), and returns in its trailing
metadata the identity authgate injected (x-seen-user, x-seen-assertion).
"""
import json
import sys
from concurrent import futures

import grpc


def seen(context):
    md = dict(context.invocation_metadata())
    return (
        ("x-seen-user", md.get("x-auth-user-id", "")),
        ("x-seen-assertion", "yes" if md.get("x-auth-assertion") else "no"),
        ("x-seen-authorization", "yes" if md.get("authorization") else "no"),
    )


def unary(request, context):
    context.set_trailing_metadata(seen(context))
    return request


def stream(request, context):
    for i in range(3):
        yield request + b"-" + str(i).encode()
    context.set_trailing_metadata(seen(context))


def chat(requests, context):
    for message in requests:
        yield message.upper()
    context.set_trailing_metadata(seen(context))


HANDLERS = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Stream": grpc.unary_stream_rpc_method_handler(stream),
    "Chat": grpc.stream_stream_rpc_method_handler(chat),
}


class ByMethodName(grpc.GenericRpcHandler):
    """Serves the method named by the last path segment, whatever comes before."""

    def service(self, handler_call_details):
        return HANDLERS.get(handler_call_details.method.rsplit("/", 1)[-1])


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((ByMethodName(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"grpc peer listening on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


def outcome(fn):
    try:
        messages, call = fn()
        return {
            "code": "OK",
            "messages": messages,
            "trailers": dict(call.trailing_metadata() or ()),
        }
    except grpc.RpcError as e:
        return {
            "code": e.code().name,
            "details": e.details(),
            "trailers": dict(e.trailing_metadata() or ()),
        }


def call(target, prefix, token, ca=None):
    if ca:
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(target, creds)
    else:
        channel = grpc.insecure_channel(target)
    md = [("authorization", f"Bearer {token}")] if token != "-" else []

    def unary_call():
        rpc = channel.unary_unary(f"{prefix}/Unary")
        response, c = rpc.with_call(b"hello", metadata=md, timeout=10)
        return [response.decode()], c

    def stream_call():
        c = channel.unary_stream(f"{prefix}/Stream")(b"tick", metadata=md, timeout=10)
        return [m.decode() for m in c], c

    def chat_call():
        c = channel.stream_stream(f"{prefix}/Chat")(
            iter([b"one", b"two"]), metadata=md, timeout=10
        )
        return [m.decode() for m in c], c

    result = {
        "unary": outcome(unary_call),
        "stream": outcome(stream_call),
        "chat": outcome(chat_call),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        call(*sys.argv[2:])
