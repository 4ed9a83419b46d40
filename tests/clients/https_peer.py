"""An HTTPS upstream for the tests (standard library only): `serve CERT KEY`
listens on 127.0.0.1, port 0, prints `https peer listening on HOST:PORT`, and
answers every GET with JSON naming itself, the path and the headers it got."""

import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps(
            {
                "server": "https",
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: https_peer.py serve CERT KEY")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    host, port = server.server_address[:2]
    print(f"https peer listening on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
