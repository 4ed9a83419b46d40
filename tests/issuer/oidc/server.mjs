// Test-only Better Auth OpenID provider for authgate's OIDC discovery tests.
//
// Runs the REAL better-auth 1.7.5 with the jwt plugin and the REAL
// @better-auth/oauth-provider 1.7.5 (its OIDC provider; pinned in package.json, see
// README.md for why these versions) with the in-memory adapter on 127.0.0.1. The
// plugin serves the discovery document under the issuer's path,
// `{base}/api/auth/.well-known/openid-configuration`, naming
// `issuer: {base}/api/auth` and `jwks_uri: {base}/api/auth/jwks`.
//
// At start it registers one confidential OAuth client (client_credentials grant,
// scope `tasks:read`) linked to the protected resource `https://api.example.com`,
// as an app's admin would; the test-only `GET /__client` returns its
// `client_id`/`client_secret`, and a test gets RFC 9068 access tokens from the
// plugin's own `POST /api/auth/oauth2/token`, as any OAuth client does.
//
// Env: ISSUER_PORT (0 = any), BETTER_AUTH_SECRET (≥ 32 chars), JWT_ISSUER (the jwt
// plugin's `jwt.issuer`, which the discovery document then names; default: the
// provider's own, `{base}/api/auth`). Prints exactly one line on stdout once ready:
//   ISSUER_READY http://127.0.0.1:<port>
// Everything else goes to stderr.

import { reserveStdout, sendJson, startServer, testAuthOptions } from "../serve.mjs";

const writeStdout = reserveStdout();

function fail(msg) {
  process.stderr.write(`oidc issuer: ${msg}\n`);
  process.exit(2);
}

const port = Number.parseInt(process.env.ISSUER_PORT ?? "0", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad ISSUER_PORT ${process.env.ISSUER_PORT}`);
const secret = process.env.BETTER_AUTH_SECRET;
if (!secret || secret.length < 32) fail("BETTER_AUTH_SECRET is required and must be at least 32 characters");
delete process.env.BETTER_AUTH_SECRETS;
delete process.env.BETTER_AUTH_URL;
process.env.BETTER_AUTH_TELEMETRY = "0";

const { betterAuth } = await import("better-auth");
const { memoryAdapter } = await import("better-auth/adapters/memory");
const { jwt } = await import("better-auth/plugins");
const { oauthProvider } = await import("@better-auth/oauth-provider");
const { toNodeHandler } = await import("better-auth/node");

const RESOURCE = "https://api.example.com";
let client = null;
const { baseURL, setHandler } = await startServer(port, (req, res, path) => {
  if (!client || path !== "/__client" || req.method !== "GET") return false;
  sendJson(res, { ...client, resource: RESOURCE });
  return true;
});

// Every table the plugins use, created up front (the memory adapter needs them).
const db = {
  user: [], session: [], account: [], verification: [], jwks: [],
  oauthClient: [], oauthRefreshToken: [], oauthAccessToken: [], oauthConsent: [],
  oauthResource: [], oauthClientResource: [], oauthClientAssertion: [],
};
// Only the bootstrap user may manage clients and resources.
const isRoot = async ({ user }) => user.email === "root@example.com";
const jwtIssuer = process.env.JWT_ISSUER || undefined;

const auth = betterAuth({
  ...testAuthOptions({ baseURL, secret, database: memoryAdapter(db) }),
  plugins: [
    jwt({ jwt: jwtIssuer ? { issuer: jwtIssuer } : {} }),
    oauthProvider({
      loginPage: "/sign-in",
      consentPage: "/consent",
      scopes: ["openid", "profile", "email", "offline_access", "tasks:read"],
      resources: [RESOURCE],
      clientPrivileges: isRoot,
      resourcePrivileges: isRoot,
    }),
  ],
});

// Mint the signing key before the first request, so the kid is fixed from the
// start; then register the client (server-side calls, as an app's admin would).
try {
  await auth.api.getJwks();
  const signedUp = await auth.api.signUpEmail({
    body: { email: "root@example.com", password: "correct-horse-battery", name: "Root" },
    returnHeaders: true,
  });
  const headers = new Headers({
    cookie: signedUp.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "),
  });
  const created = await auth.api.adminCreateOAuthClient({
    headers,
    body: {
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_post",
      scope: "tasks:read",
      client_credentials_scopes: ["tasks:read"],
    },
  });
  await auth.api.adminLinkClientResource({
    headers,
    params: { identifier: encodeURIComponent(RESOURCE), client_id: created.client_id },
  });
  client = { client_id: created.client_id, client_secret: created.client_secret };
} catch (err) {
  console.error("oidc issuer: bootstrap failed", err);
  process.exit(1);
}

setHandler(toNodeHandler(auth));
writeStdout(`ISSUER_READY ${baseURL}`);
