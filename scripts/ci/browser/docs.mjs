// Loads upstream-api's /docs through authgate in Debian's Chromium and checks what a
// person would: every task operation is listed, bearer authorisation is offered and
// works (a "Try it out" call with the token answers 200), nothing is fetched from any
// other origin, and the page logs no error. Saves a screenshot.
//
//   node docs.mjs BASE_URL TOKEN USER SCREENSHOT_PATH
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, token, user, screenshot] = process.argv.slice(2);
if (!base || !token || !user || !screenshot) {
  console.error("usage: node docs.mjs BASE_URL TOKEN USER SCREENSHOT_PATH");
  process.exit(2);
}
const origin = new URL(base).origin;
const TIMEOUT_MS = 30_000;

const EXPECTED = [
  ["GET", "/api/{user_id}/tasks"],
  ["POST", "/api/{user_id}/tasks"],
  ["GET", "/api/{user_id}/tasks/{id}"],
  ["PUT", "/api/{user_id}/tasks/{id}"],
  ["DELETE", "/api/{user_id}/tasks/{id}"],
  ["PATCH", "/api/{user_id}/tasks/{id}/complete"],
];

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const profile = mkdtempSync(join(tmpdir(), "docs-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  const foreign = [];
  const errors = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.origin !== origin) foreign.push(request.url());
  });
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));

  const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
  check(response?.status() === 200, `GET /docs is 200 (got ${response?.status()})`);
  await page.locator(".opblock").first().waitFor();

  const listed = await page.$$eval(".opblock", (blocks) =>
    blocks.map((block) => [
      block.querySelector(".opblock-summary-method")?.textContent?.trim(),
      block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ??
        block.querySelector(".opblock-summary-path")?.textContent?.trim(),
    ]),
  );
  for (const [method, path] of EXPECTED) {
    check(
      listed.some(([m, p]) => m === method && p?.replace(/\u200b/g, "") === path),
      `operation ${method} ${path} is listed`,
    );
  }

  // Bearer authorisation: the Authorize button, the bearerAuth scheme in its dialog.
  const authorize = page.locator("button.authorize").first();
  check(await authorize.isVisible(), "an Authorize button is offered");
  await authorize.click();
  const dialog = page.locator(".auth-container").first();
  await dialog.waitFor();
  const dialogText = await dialog.innerText();
  check(/bearerAuth/.test(dialogText), "the dialog offers the bearerAuth scheme");
  check(/Bearer/i.test(dialogText) && /JWT/.test(dialogText), "it is HTTP Bearer (JWT)");
  await dialog.locator("input").first().fill(token);
  await page.locator(".auth-btn-wrapper button.authorize").first().click();
  await page.locator(".auth-btn-wrapper button.btn-done, .auth-btn-wrapper .btn-done").first().click();

  // Try it out: list the user's tasks through authgate with that token.
  const list = page.locator("#operations-tasks-list_tasks");
  await list.locator(".opblock-summary").click();
  await list.locator("button.try-out__btn").click();
  await list.locator('tr[data-param-name="user_id"] input').fill(user);
  await list.locator("button.execute").click();
  const status = list.locator(".live-responses-table tr.response .response-col_status").first();
  await status.waitFor();
  const statusText = (await status.innerText()).trim();
  check(statusText.startsWith("200"), `Try it out with the token: GET /api/${user}/tasks is 200 (got ${statusText})`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);

  check(foreign.length === 0, `nothing fetched from another origin ${JSON.stringify(foreign)}`);
  check(errors.length === 0, `no console errors ${JSON.stringify(errors)}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`browser test: ${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("browser test: all checks passed");
