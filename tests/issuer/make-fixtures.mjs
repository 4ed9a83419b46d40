// Regenerates fixtures/*.json by running server.mjs once per configuration and
// performing the same HTTP sequence the Rust tests use (see README.md).
// Each sample is checked against its JWKS / secret with jose before it is written.
//
//   cd tests/issuer && npm ci && node make-fixtures.mjs
//
// The samples expire (900 s tokens, 300 s cookies); they are test vectors for
// parsing and signature checks, to be verified with expiry validation disabled
// or a fixed clock.

import { spawn } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { createHmac } from "node:crypto";
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader, decodeJwt } from "jose";

const here = new URL(".", import.meta.url).pathname;
const outDir = new URL("./fixtures/", import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });

const SECRET = "authgate-fixture-secret-0123456789abcdefghij";
const USER = { email: "bob@example.com", password: "correct-horse-battery-staple", name: "Bob" };

function startIssuer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["server.mjs"], {
      cwd: here,
      env: { ...process.env, BETTER_AUTH_SECRET: SECRET, ISSUER_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/^ISSUER_READY (\S+)\n/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`issuer exited ${code}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", resolve);
    child.kill("SIGTERM");
  });
}

// Set-Cookie headers -> { name: value }
function cookiesOf(res) {
  const out = {};
  for (const sc of res.headers.getSetCookie()) {
    const [pair] = sc.split(";");
    const i = pair.indexOf("=");
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

async function signUp(url) {
  // Node's fetch sends Sec-Fetch-Mode, so Better Auth insists on a trusted Origin.
  const res = await fetch(`${url}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify(USER),
  });
  if (res.status !== 200) throw new Error(`sign-up ${res.status} ${await res.text()}`);
  return { cookies: cookiesOf(res), setCookie: res.headers.getSetCookie() };
}

async function getJson(url, headers = {}) {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url} ${res.status} ${await res.text()}`);
  return res.json();
}

function write(name, obj) {
  writeFileSync(outDir + name, JSON.stringify(obj, null, 2) + "\n");
  console.log(`wrote fixtures/${name}`);
}

const common = {
  generator: "tests/issuer/make-fixtures.mjs",
  better_auth_version: "1.7.25",
  generated_at: new Date().toISOString(),
};

for (const alg of ["EdDSA", "ES256", "ES512", "RS256", "PS256"]) {
  const { child, url } = await startIssuer({ JWT_ALG: alg });
  try {
    const { cookies } = await signUp(url);
    const cookie = `better-auth.session_token=${cookies["better-auth.session_token"]}`;
    const { token } = await getJson(`${url}/api/auth/token`, { cookie });
    const jwks = await getJson(`${url}/api/auth/jwks`);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: url,
      audience: url,
      algorithms: [alg],
    });
    write(`access-jwt-${alg}.json`, {
      ...common,
      kind: "access JWT from GET /api/auth/token (jwt plugin)",
      issuer_base_url: url,
      expected_iss: url,
      expected_aud: url,
      alg,
      token,
      header: decodeProtectedHeader(token),
      payload,
      jwks,
    });
  } finally {
    await stop(child);
  }
}

// session_data cookie, strategy "jwt" (HS256 keyed with the raw secret bytes)
{
  const { child, url } = await startIssuer({ COOKIE_CACHE: "jwt" });
  try {
    const { cookies, setCookie } = await signUp(url);
    const value = cookies["better-auth.session_data"];
    const [h, p, s] = value.split(".");
    const mac = createHmac("sha256", Buffer.from(SECRET, "utf8")).update(`${h}.${p}`).digest("base64url");
    if (mac !== s) throw new Error("session_data HS256 check failed");
    write("session-data-jwt-HS256.json", {
      ...common,
      kind: "better-auth.session_data cookie, session.cookieCache.strategy = \"jwt\" (set by sign-up)",
      issuer_base_url: url,
      better_auth_secret: SECRET,
      key_derivation: "none: HMAC key = UTF-8 bytes of better_auth_secret",
      cookie_name: "better-auth.session_data",
      cookie_value: value,
      set_cookie: setCookie.find((c) => c.startsWith("better-auth.session_data=")),
      header: decodeProtectedHeader(value),
      payload: decodeJwt(value),
    });
  } finally {
    await stop(child);
  }
}

// session_data cookie, jwt({ sessionCookieCache: true }) (signed with the JWKS key)
{
  const { child, url } = await startIssuer({ COOKIE_CACHE: "jwks", JWT_ALG: "EdDSA" });
  try {
    const { cookies, setCookie } = await signUp(url);
    const value = cookies["better-auth.session_data"];
    const jwks = await getJson(`${url}/api/auth/jwks`);
    const { payload } = await jwtVerify(value, createLocalJWKSet(jwks), {
      issuer: url,
      audience: "better-auth:session-cache",
      typ: "better-auth.session-cache+jwt",
    });
    write("session-data-jwks-EdDSA.json", {
      ...common,
      kind: "better-auth.session_data cookie, jwt({ sessionCookieCache: true }) (set by sign-up)",
      issuer_base_url: url,
      better_auth_secret: SECRET,
      cookie_name: "better-auth.session_data",
      cookie_value: value,
      set_cookie: setCookie.find((c) => c.startsWith("better-auth.session_data=")),
      header: decodeProtectedHeader(value),
      payload,
      jwks,
    });
  } finally {
    await stop(child);
  }
}
