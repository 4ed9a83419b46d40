// What the test issuers share (server.mjs and oidc/server.mjs), plain Node with no
// package of its own: stdout kept for the one ready line, an HTTP server on 127.0.0.1
// that answers 503 until Better Auth's handler is set, and a clean exit on
// SIGTERM/SIGINT.

import http from "node:http";

/** Sends console.log/info/debug to stderr; returns the writer of stdout lines. */
export function reserveStdout() {
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  return (line) => process.stdout.write(line + "\n");
}

/** Answers 200 with `value` as JSON. */
export function sendJson(res, value) {
  const body = JSON.stringify(value);
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Listens on 127.0.0.1:`port` (0 = any). `testRoute(req, res, path)` answers the
 * test-only paths first (it returns true when it did); every other request goes to
 * the handler given to `setHandler`, and is 503 before. Closes and exits 0 on
 * SIGTERM or SIGINT (at most a second later).
 */
export async function startServer(port, testRoute) {
  let handler = null;
  const server = http.createServer((req, res) => {
    const path = (req.url || "/").split("?")[0];
    if (testRoute(req, res, path)) return;
    if (!handler) {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("issuer not ready\n");
      return;
    }
    handler(req, res);
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return {
    baseURL: `http://127.0.0.1:${server.address().port}`,
    setHandler: (h) => {
      handler = h;
    },
  };
}

/**
 * The Better Auth options both issuers start from: in memory, email+password sign-up
 * without verification, no rate limit, no telemetry, warnings to stderr.
 */
export function testAuthOptions({ baseURL, secret, database }) {
  return {
    baseURL,
    secret,
    database,
    trustedOrigins: [baseURL],
    emailAndPassword: { enabled: true, requireEmailVerification: false },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: {
      level: "warn",
      log: (level, message, ...args) => console.error(`[better-auth ${level}] ${message}`, ...args),
    },
  };
}
