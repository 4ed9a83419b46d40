// Test-only Better Auth issuer for authgate integration tests.
//
// Runs the REAL better-auth (pinned in package.json) with the in-memory adapter
// and the `jwt` plugin on 127.0.0.1. Everything lives in memory: every start
// creates a fresh signing key (new kid), which is how tests rotate keys.
//
// Env: ISSUER_PORT, JWT_ALG, JWT_EXPIRATION, BETTER_AUTH_SECRET, COOKIE_CACHE,
// ADMIN_PLUGIN, AUTHGATE_REDIS_URL (see README.md). Prints exactly one line on stdout once ready:
//   ISSUER_READY http://127.0.0.1:<port>
// Everything else (warnings, errors) goes to stderr.

import { reserveStdout, sendJson, startServer, testAuthOptions } from "./serve.mjs";

// Keep stdout reserved for the single ISSUER_READY line: anything that logs
// through console.log/info/debug (Better Auth's default logger does) goes to
// stderr instead.
const writeStdout = reserveStdout();

function fail(msg) {
  process.stderr.write(`issuer: ${msg}\n`);
  process.exit(2);
}

// ---- configuration -------------------------------------------------------
const port = Number.parseInt(process.env.ISSUER_PORT ?? "0", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad ISSUER_PORT ${process.env.ISSUER_PORT}`);

const alg = process.env.JWT_ALG || "EdDSA";
const KEY_PAIR_CONFIGS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" }, // P-256 (implied by alg)
  ES512: { alg: "ES512" }, // P-521 (implied by alg)
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};
const keyPairConfig = KEY_PAIR_CONFIGS[alg];
if (!keyPairConfig) fail(`unsupported JWT_ALG ${alg} (one of ${Object.keys(KEY_PAIR_CONFIGS).join(", ")})`);

const expirationTime = process.env.JWT_EXPIRATION || "900s";
if (/^\d+$/.test(expirationTime)) fail(`JWT_EXPIRATION needs a unit, e.g. "${expirationTime}s"`);

const secret = process.env.BETTER_AUTH_SECRET;
if (!secret || secret.length < 32) fail("BETTER_AUTH_SECRET is required and must be at least 32 characters");
// BETTER_AUTH_SECRETS (versioned secrets) would silently take precedence over
// BETTER_AUTH_SECRET inside Better Auth; tests key the cookie cache with
// BETTER_AUTH_SECRET, so ignore it.
if (process.env.BETTER_AUTH_SECRETS) {
  process.stderr.write("issuer: ignoring BETTER_AUTH_SECRETS; using BETTER_AUTH_SECRET\n");
  delete process.env.BETTER_AUTH_SECRETS;
}

const cookieCacheMode = process.env.COOKIE_CACHE || "";
if (!["", "jwt", "jwks"].includes(cookieCacheMode)) fail(`COOKIE_CACHE must be unset, "jwt" or "jwks" (got ${cookieCacheMode})`);

// Better Auth reads these; make sure the environment cannot change behaviour.
delete process.env.BETTER_AUTH_URL;
process.env.BETTER_AUTH_TELEMETRY = "0";

const { betterAuth } = await import("better-auth");
const { memoryAdapter } = await import("better-auth/adapters/memory");
const { jwt, admin } = await import("better-auth/plugins");

// With AUTHGATE_REDIS_URL: authgate's revocation hook (revocation-hook.mjs, the
// README's example), so that sign-out and ban revoke tokens; it turns the admin
// plugin on too (ban is the plugin's).
const redisUrl = process.env.AUTHGATE_REDIS_URL || "";
const revocation = redisUrl
  ? (await import("./revocation-hook.mjs")).authgateRevocation({
      url: redisUrl,
      retentionSecs: Number.parseInt(process.env.AUTHGATE_REVOCATION_RETENTION_SECS || "930", 10),
    })
  : null;

// ADMIN_PLUGIN=1: Better Auth's admin plugin (its `role` and `banned` fields land in
// every user record, so in every JWT). A user signing up as root@… starts as
// "admin" (a database hook, as an app bootstraps its first admin); every other
// role is set through the plugin's own POST /api/auth/admin/set-role.
const adminPlugin = process.env.ADMIN_PLUGIN === "1" || revocation !== null;
const { toNodeHandler } = await import("better-auth/node");

// ---- instrumentation -----------------------------------------------------
const stats = { jwks_fetches: 0 };
const { baseURL, setHandler } = await startServer(port, (req, res, path) => {
  if (path !== "/__stats" || req.method !== "GET") return false;
  sendJson(res, stats);
  return true;
});

// ---- Better Auth ---------------------------------------------------------
const db = { user: [], session: [], account: [], verification: [], jwks: [] };

const sessionOptions = {};
if (cookieCacheMode === "jwt" || cookieCacheMode === "jwks") {
  sessionOptions.cookieCache = { enabled: true, strategy: "jwt", maxAge: 300 };
}

const auth = betterAuth({
  ...testAuthOptions({ baseURL, secret, database: memoryAdapter(db) }),
  session: sessionOptions,
  databaseHooks: {
    ...(revocation ? revocation.databaseHooks : {}),
    ...(adminPlugin
      ? {
          user: {
            ...revocation?.databaseHooks.user,
            create: {
              before: async (user) => ({
                data: user.email?.startsWith("root@") ? { ...user, role: "admin" } : user,
              }),
            },
          },
        }
      : {}),
  },
  plugins: [
    jwt({
      jwks: { keyPairConfig },
      jwt: { expirationTime },
      ...(cookieCacheMode === "jwks" ? { sessionCookieCache: true } : {}),
    }),
    ...(adminPlugin ? [admin()] : []),
  ],
});

// Mint the signing key now (server-side call, not counted in /__stats) so the
// kid is fixed before the first request and concurrent first requests cannot race.
try {
  await auth.api.getJwks();
} catch (err) {
  console.error("issuer: failed to create signing key", err);
  process.exit(1);
}

const handler = toNodeHandler(auth);
setHandler((req, res) => {
  const path = (req.url || "/").split("?")[0];
  if (path === "/api/auth/jwks" && req.method === "GET") stats.jwks_fetches += 1;
  handler(req, res);
});
writeStdout(`ISSUER_READY ${baseURL}`);
