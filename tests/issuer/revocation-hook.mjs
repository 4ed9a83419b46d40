// Revokes a user's tokens at authgate when Better Auth ends their sessions: on sign-out
// (and any other deleted session: revoked sessions, a ban deletes them all) and when the
// admin plugin bans the user. It runs authgate's own revocation script
// (proxy/src/revocation/revoke.lua) on the Redis authgate follows, so every replica
// refuses the user's tokens issued before now, within a second; tokens issued after
// (the next sign-in, or GET /api/auth/token on a session that is still valid) pass.
//
// This is the file the README's "Revocation" section shows; tests/issuer/server.mjs
// uses it as is when AUTHGATE_REDIS_URL is set (tests/tests/revocation.rs).
//
//   import { authgateRevocation } from "./revocation-hook.mjs";
//   const revocation = authgateRevocation({ url: process.env.AUTHGATE_REDIS_URL });
//   export const auth = betterAuth({
//     databaseHooks: revocation.databaseHooks,
//     plugins: [jwt(), admin()],
//   });

import { readFileSync } from "node:fs";
import { createClient } from "redis";

const DEFAULT_SCRIPT = new URL("../../proxy/src/revocation/revoke.lua", import.meta.url);

/**
 * @param {object} options
 * @param {string} options.url              the Redis authgate's [redis] url names
 * @param {string} [options.keyPrefix]      authgate's redis.key_prefix
 * @param {number} [options.retentionSecs]  revocation.max_token_lifetime_secs + auth.leeway_secs
 * @param {string|URL} [options.scriptPath] authgate's revoke.lua
 */
export function authgateRevocation({
  url,
  keyPrefix = "authgate:",
  retentionSecs = 900 + 30,
  scriptPath = DEFAULT_SCRIPT,
}) {
  const script = readFileSync(scriptPath, "utf8");
  const client = createClient({ url });
  // Reconnects on its own; a failure is reported, never thrown into Better Auth.
  client.on("error", (err) => console.error(`authgate revocation: Redis: ${err.message}`));
  const connected = client.connect();
  const keys = ["revoked:sub", "revoked:jti", "revoked:version"].map((k) => keyPrefix + k);

  /** Refuses every token of `userId` issued before now, on every authgate replica. */
  async function revokeSubject(userId) {
    try {
      await connected;
      await client.eval(script, {
        keys,
        arguments: ["sub", String(userId), "", String(retentionSecs), `${keyPrefix}revocations`],
      });
    } catch (err) {
      // Signing out must not fail because Redis does: say so loudly instead.
      console.error(`authgate revocation: could not revoke user ${userId}: ${err.message}`);
    }
  }

  return {
    revokeSubject,
    databaseHooks: {
      session: {
        delete: { after: async (session) => revokeSubject(session.userId) },
      },
      user: {
        update: {
          after: async (user) => {
            if (user.banned) await revokeSubject(user.id);
          },
        },
      },
    },
    close: () => client.quit(),
  };
}
