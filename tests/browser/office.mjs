// Office staff at the console, in Debian's Chromium through Playwright. tests/console.rs runs one
// step per invocation and checks what it prints (one JSON object on the last line); the step's
// logged-in session is kept in $LOAXA_STATE_DIR/USER.json between steps, as a browser keeps its
// cookies. On failure a screenshot is written to $LOAXA_SCREENSHOTS/STEP-failed.png; every page a
// step ends on is also saved there as STEP.png (docs/console.md shows them).
//
//   node office.mjs STEP USER [ARGS…]      with LOAXA_CONSOLE=http://127.0.0.1:PORT
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [step, user, ...args] = process.argv.slice(2);
const base = process.env.LOAXA_CONSOLE;
const stateDir = process.env.LOAXA_STATE_DIR;
const shots = process.env.LOAXA_SCREENSHOTS;
const stateFile = path.join(stateDir, `${user}.json`);

const browser = await chromium.launch({
  executablePath: process.env.LOAXA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({
  storageState: fs.existsSync(stateFile) ? stateFile : undefined,
  locale: "vi-VN",
  timezoneId: "Asia/Ho_Chi_Minh",
  acceptDownloads: true,
});
const page = await context.newPage();
page.setDefaultTimeout(20000);

function done(result) {
  console.log(JSON.stringify(result));
}

const steps = {
  // login USER PASSWORD [NEW_PASSWORD]: a one-time password is replaced by NEW_PASSWORD.
  async login(password, newPassword) {
    await page.goto(`${base}/login`);
    await page.fill("input[name=username]", user);
    await page.fill("input[name=password]", password);
    await page.click("button[type=submit]");
    await page.waitForLoadState();
    if (page.url().endsWith("/password")) {
      await page.fill("input[name=password]", newPassword);
      await page.fill("input[name=again]", newPassword);
      await page.click("main button[type=submit]");
      await page.waitForURL(/\/fleet/);
    }
    done({ url: page.url(), problem: await text(".problem") });
  },

  // create-account USER NAME ROLE COMMUNE: prints the new account's one-time password.
  async "create-account"(username, name, role, commune) {
    await page.goto(`${base}/accounts`);
    await page.fill("input[name=username]", username);
    await page.fill("input[name=display_name]", name);
    await page.selectOption("select[name=role]", role);
    if (commune) await page.fill("input[name=commune]", commune);
    await page.click("#new-account button[type=submit]");
    await page.waitForSelector("code.password");
    done({ password: await text("code.password") });
  },

  // account-action USER ACTION: presses disable, enable or reset on USER's row of the Accounts
  // page; prints the notice, the new one-time password (reset) and the row's state.
  async "account-action"(username, action) {
    await page.goto(`${base}/accounts`);
    await page.click(`tr[data-account="${username}"] button[value=${action}]`);
    await page.waitForLoadState();
    done({
      notice: await text(".notice"),
      problem: await text(".problem"),
      password: await text("code.password"),
      row: await text(`tr[data-account="${username}"]`),
    });
  },

  // upload FILE TITLE LEVEL TARGETS: prints the bulletin's id, or the problem shown.
  async upload(file, title, level, targets) {
    await page.goto(`${base}/bulletins/new`);
    await page.setInputFiles("input[name=file]", file);
    await page.fill("input[name=title]", title);
    await page.selectOption("select[name=level]", level);
    await page.fill("input[name=target_text]", targets);
    await page.click("main form button[type=submit]");
    await page.waitForLoadState();
    const match = page.url().match(/\/bulletins\/([^/?]+)$/);
    done({ id: match ? decodeURIComponent(match[1]) : null, problem: await text(".problem"), title: await text("h1") });
  },

  // approve BULLETIN: presses "approve" and prints the state and each box's answer.
  async approve(bulletin) {
    await page.goto(`${base}/bulletins/${bulletin}`);
    const button = page.locator("button[name=approve]");
    if ((await button.count()) === 0) {
      done({ approved: false, text: await text("main") });
      return;
    }
    await button.click();
    await page.waitForLoadState();
    done({ approved: true, state: await text("#state"), problem: await text(".problem"), answers: await rows("table.answers tr") });
  },

  // programme TITLE TARGET BULLETIN ONCE_AT: a one-off programme airing BULLETIN alone (no
  // chime), so what airs can be compared with what was uploaded.
  async programme(title, target, bulletin, onceAt) {
    await page.goto(`${base}/schedules/new`);
    await page.fill("input[name=title]", title);
    await page.uncheck("input[name=chime]");
    await page.fill("input[name=target_text]", target);
    await page.check(`input[name=bulletin][value="${bulletin}"]`);
    await page.check("input[name=kind][value=once]");
    await page.fill("textarea[name=once]", onceAt);
    await page.click("main form button[type=submit]");
    await page.waitForLoadState();
    done({ url: page.url(), problem: await text(".problem"), programmes: await rows("#programmes tbody tr") });
  },

  // publish-schedule SCOPE: reviews the scope's schedule and publishes it, confirming warnings.
  async "publish-schedule"(scope) {
    await page.goto(`${base}/schedules/publish?scope=${encodeURIComponent(scope)}`);
    const confirm = page.locator("input[name=confirm]");
    if ((await confirm.count()) > 0) await confirm.check();
    const warnings = await rows("ul.warning li");
    const errors = await rows("ul.problem li");
    const button = page.locator("button[name=publish]");
    if ((await button.count()) === 0) {
      done({ published: false, errors, warnings });
      return;
    }
    await button.click();
    await page.waitForLoadState();
    done({ published: true, errors, warnings, problem: await text(".problem"), answers: await rows("table.answers tr") });
  },

  // send BULLETIN TARGET LEVEL: "send now", confirmed; prints each box's row on the outcome
  // page once every row says it aired (or after 30 s).
  async send(bulletin, target, level) {
    await page.goto(`${base}/send`);
    await page.selectOption("select[name=bulletin]", bulletin);
    await page.fill("input[name=target]", target);
    await page.selectOption("select[name=priority]", level);
    await page.check("input[name=confirm]");
    await page.click("button[name=send]");
    await page.waitForURL(/\/send\/outcome/, { timeout: 120000 });
    await page
      .waitForFunction(
        () => {
          const rows = [...document.querySelectorAll("#outcome tbody tr")];
          return rows.length > 0 && rows.every((r) => r.cells[2].innerText.includes("aired"));
        },
        null,
        { timeout: 30000, polling: 250 },
      )
      .catch(() => {});
    done({ url: page.url(), rows: await rows("#outcome tbody tr") });
  },

  // page PATH: the text of the page's main part.
  async page(where) {
    const response = await page.goto(`${base}${where}`);
    done({ status: response.status(), url: page.url(), text: await text("main"), html: await page.content() });
  },

  // download PATH OUT: saves what PATH serves (a report export) to OUT.
  async download(where, out) {
    const response = await context.request.get(`${base}${where}`);
    fs.writeFileSync(out, await response.body());
    done({ status: response.status(), type: response.headers()["content-type"] });
  },

  // post PATH FIELD=VALUE…: a form POST with the session's cookie but only the fields given
  // (no CSRF token unless one is given), as a forged cross-site form would send.
  // A field "csrf=@" carries the session's real token, read from a page as a browser would.
  async post(where, ...fields) {
    const form = Object.fromEntries(fields.map((f) => f.split(/=(.*)/s).slice(0, 2)));
    if (form.csrf === "@") {
      await page.goto(`${base}/fleet`);
      form.csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
    }
    const response = await context.request.post(`${base}${where}`, { form, maxRedirects: 0 });
    done({ status: response.status(), body: (await response.text()).slice(0, 2000) });
  },

  // watch-offline BOX: opens the fleet page, prints {"ready":…}, and when BOX's row turns
  // offline prints the time it saw it (epoch ms).
  async "watch-offline"(box) {
    await page.goto(`${base}/fleet`);
    const row = page.locator(`tr[data-box="${box}"]`);
    await row.waitFor();
    console.log(JSON.stringify({ ready: Date.now(), state: await row.getAttribute("data-state") }));
    await page.waitForFunction(
      (id) => document.querySelector(`tr[data-box="${id}"]`)?.dataset.state === "offline",
      box,
      { timeout: 30000, polling: 50 },
    );
    done({ offline_seen: Date.now() });
  },
};

async function text(selector) {
  const found = page.locator(selector).first();
  return (await found.count()) ? (await found.innerText()).trim() : null;
}

async function rows(selector) {
  return (await page.locator(selector).allInnerTexts()).map((t) => t.trim());
}

try {
  if (!steps[step]) throw new Error(`no step ${step}`);
  await steps[step](...args);
  await context.storageState({ path: stateFile });
  if (shots) await page.screenshot({ path: path.join(shots, `${step}-${user}.png`), fullPage: true });
} catch (error) {
  if (shots) {
    const shot = path.join(shots, `${step}-${user}-failed.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`screenshot of the failure: ${shot}`);
  }
  console.error(error.stack || String(error));
  process.exitCode = 1;
} finally {
  await browser.close();
}
