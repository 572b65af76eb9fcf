import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt, launchChromium, screenshotPath } from '../support/browser.js';
import { tgzOf } from '../support/bundles.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// The dashboard, driven as a user drives it: real Chromium against the whole running platform.
// Tests run in order and build on each other (sign in → create → deploy v1 → v2 → rollback → config → pods).

const APP = 'dash';
const DEPLOY_TIMEOUT = 150_000;
/** The handler answers with its version, an env var and whether a secret reached it. */
const handler = (version: string) =>
  `module.exports = (q, s) => s.end(\`${version} greeting=\${process.env.GREETING ?? 'none'} secret=\${process.env.API_KEY ? 'set' : 'unset'}\`);`;

let p: RunningPlatform;
let browser: Browser;
let page: Page;
let work: string;

beforeAll(async () => {
  ensureWebBuilt();
  work = await mkdtemp(join(tmpdir(), 'sidecar-dash-'));
  [p, browser] = await Promise.all([startPlatform(), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopPlatform(p);
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

async function shot(name: string, target: Page = page): Promise<void> {
  const path = await screenshotPath(name);
  if (path) await target.screenshot({ path, fullPage: true });
}

/** Waits for a deploy's log card to reach its final status (failing at once, with the card's text, on another one). */
async function deployEnds(card: Locator, status = 'succeeded'): Promise<Locator> {
  const ended = card.getByText(/^Deploy (succeeded|failed|cancelled)$/);
  await ended.waitFor({ timeout: DEPLOY_TIMEOUT });
  const text = await ended.textContent();
  if (text !== `Deploy ${status}`) throw new Error(`${text} (expected ${status}):\n${await card.textContent()}`);
  return card;
}

/** The deploy id the upload form announces ("Uploaded … Deploy d_… is queued."). */
async function uploadedDeployId(label: RegExp): Promise<string> {
  const status = page.getByRole('status').filter({ hasText: label });
  await status.waitFor({ timeout: 60_000 });
  const m = /Deploy (\S+) is/.exec((await status.textContent()) ?? '');
  if (!m) throw new Error(`no deploy id in "${await status.textContent()}"`);
  return m[1]!;
}

// Each step may wait for a deploy (DEPLOY_TIMEOUT): the test's own limit must be longer than that wait.
describe('dashboard', { timeout: DEPLOY_TIMEOUT + 30_000 }, () => {
  it('refuses a wrong token, then signs in with the admin token', async () => {
    await page.goto(`${p.api}/`);
    await page.getByRole('heading', { name: 'Sign in to Sidecar' }).waitFor();
    await page.getByLabel('API token').fill('not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();

    await page.getByLabel('API token').fill(p.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await page.getByText('No apps yet').waitFor();
    // Kept for the tab's session only.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([1, 0]);
  });

  it('creates an app, validating the name as it is typed', async () => {
    const name = page.getByLabel('App name');
    const create = page.getByRole('button', { name: 'Create app' });
    await name.fill('9Lives');
    await page.getByText('Lower-case letters only.').waitFor();
    expect(await create.isDisabled()).toBe(true);
    await name.fill('dash-');
    await page.getByText('End with a letter or digit.').waitFor();
    await name.fill(APP);
    await expect.poll(() => create.isEnabled()).toBe(true);
    await create.click();
    await page.getByRole('heading', { name: APP, level: 1 }).waitFor();
    await page.getByText('not deployed yet').waitFor();
    // The git lines go through the CLI's credential helper (a deployer token, never in a URL), on the API's own host.
    await expect
      .poll(() => page.getByLabel('git commands for this app').textContent())
      .toMatch(
        new RegExp(
          `^npx sidecar login --api ${p.api}\nnpx sidecar git-remote -a ${APP}\ngit push sidecar HEAD:(main|master)$`,
        ),
      );
    expect(await page.getByLabel('git commands for this app').textContent()).not.toMatch(/:\/\/[^/]*@/);
  });

  it('uploads a .tar.gz with a progress bar and streams its log to success; the app then answers', async () => {
    const bundle = join(work, 'dash-v1.tar.gz');
    await writeFile(
      bundle,
      await tgzOf({
        'index.js': handler('v1'),
        'task.js': "console.log('job says', process.argv[2]); process.exit(4);",
      }),
    );
    await page.getByLabel('Choose archive…').setInputFiles(bundle);
    const id = await uploadedDeployId(/^Uploaded dash-v1\.tar\.gz/);
    expect(await page.getByLabel('Upload progress').evaluate((el) => (el as HTMLProgressElement).value)).toBe(1);

    const card = page.getByRole('region', { name: `Deploy from the dashboard (${id})` });
    // Live: build lines are on screen before the deploy has ended.
    await card.getByRole('log').filter({ hasText: /\S/ }).waitFor({ timeout: 60_000 });
    await deployEnds(card);
    expect(await card.textContent()).toMatch(/release v1 · queued .* · build .* · deploy .* · total /);
    await shot('app-deploy-log');

    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 greeting=none secret=unset' });
    // The app's URL as the header links it, opened in the browser.
    const url = await page.locator('.app-facts').getByRole('link').getAttribute('href');
    expect(url).toBe(`http://${APP}.localhost:${p.routerPort}/`);
    const appTab = await browser.newPage();
    await appTab.goto(url!);
    expect(await appTab.textContent('body')).toBe('v1 greeting=none secret=unset');
    await appTab.close();
  });

  it('deploys v2 from a folder packed in the browser', async () => {
    const dir = join(work, 'dash-v2');
    await mkdir(join(dir, 'lib'), { recursive: true });
    await writeFile(join(dir, 'index.js'), "module.exports = require('./lib/handler.js');");
    await writeFile(join(dir, 'lib/handler.js'), handler('v2'));
    await page.getByLabel('Choose folder…').setInputFiles(dir);
    const id = await uploadedDeployId(/^Uploaded dash-v2 \(2 files, packed here\)/);
    await deployEnds(page.getByRole('region', { name: `Deploy from the dashboard (${id})` }));
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v2 greeting=none secret=unset' });
  });

  it('lists the app with status, release, URL and last deploy', async () => {
    await page.getByRole('link', { name: 'Apps', exact: true }).first().click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: APP, exact: true }) });
    await row.getByText('running').waitFor();
    expect(await row.textContent()).toContain('v2');
    expect(await row.textContent()).toContain(`http://${APP}.localhost:${p.routerPort}/`);
    await shot('apps-list');
    await page.getByRole('link', { name: APP, exact: true }).click();
    await page.getByRole('heading', { name: APP, level: 1 }).waitFor();
  });

  it('rolls back to v1 after a confirmation, and v1 is served again', async () => {
    await page.getByRole('link', { name: 'Releases' }).click();
    const table = page.getByRole('table', { name: 'Releases, newest first' });
    await table.waitFor();
    const v2 = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /^v2/ }) });
    expect(await v2.textContent()).toContain('dashboard');
    expect(await v2.textContent()).toContain('current');

    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back to v1?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await dialog.getByRole('button', { name: 'Roll back to v1' }).click();
    await deployEnds(page.getByRole('region', { name: /^Rollback to v1/ }));
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 greeting=none secret=unset' });
    const v3 = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /^v3/ }) });
    await v3.getByText('current').waitFor();
    expect(await v3.textContent()).toContain('rollback');
    await shot('releases');
  });

  it('edits an env var and a secret; the rollout applies them and the secret never comes back', async () => {
    await page.getByRole('link', { name: 'Config' }).click();
    await page.getByText('No environment variables.').waitFor();
    await page.getByLabel('New variable name').fill('GREETING');
    await page.getByLabel('New variable value').fill('hola');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('New secret name').fill('API_KEY');
    await page.getByLabel('New secret value').fill('s3cret-value');
    await page.getByRole('button', { name: 'Add secret' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await deployEnds(page.getByRole('region', { name: /^Config rollout/ }));
    expect(await p.get(APP)).toEqual({ status: 200, body: 'v1 greeting=hola secret=set' });

    // The saved form shows the value of the env var, and of the secret only its name.
    expect(await page.getByLabel('Value of GREETING').inputValue()).toBe('hola');
    expect(await page.getByLabel('New value for secret API_KEY').inputValue()).toBe('');
    expect(await page.content()).not.toContain('s3cret-value');
    const app = await (await p.api$(`/api/v1/apps/${APP}`)).json();
    expect(app.secrets).toEqual({ API_KEY: '******' });

    // Changing it again is an edit of the existing row.
    await page.getByLabel('Value of GREETING').fill('bonjour');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Rolling out' }).waitFor();
    await expect
      .poll(async () => (await p.get(APP)).body, { timeout: DEPLOY_TIMEOUT, interval: 500 })
      .toBe('v1 greeting=bonjour secret=set');
  });

  it('draws the pod timeline: the logic sidecar starts before the runtime', async () => {
    await page.getByRole('link', { name: 'Pods' }).click();
    // The last rollout's old pod is kept frozen for an instant rollback (shown as such); one pod serves.
    const pods = page.getByRole('region', { name: /^Pod / });
    const warm = /Kept warm for an instant rollback until/;
    await pods.filter({ hasText: warm }).first().waitFor({ timeout: 60_000 });
    await expect.poll(() => pods.filter({ hasNotText: warm }).count(), { timeout: 60_000, interval: 250 }).toBe(1);
    const pod = pods.filter({ hasNotText: warm }).first();
    const lanes = pod.getByRole('list', { name: /^Container lanes of/ });
    await lanes.getByRole('listitem').filter({ hasText: 'sidecar' }).filter({ hasText: 'app' }).waitFor();
    const sidecarStarted = lanes.getByRole('img', { name: /^app Started at/ }).first();
    const runtimeStarted = lanes.getByRole('img', { name: /^runtime Started at/ }).first();
    await runtimeStarted.waitFor({ timeout: 60_000 });
    const [s, r] = [await sidecarStarted.boundingBox(), await runtimeStarted.boundingBox()];
    expect(s && r && s.x < r.x).toBe(true);
    // Beside it: container kinds, states, readiness and restart counts.
    const containers = pod.getByRole('table', { name: /^Containers of/ });
    expect(await containers.getByRole('row').filter({ hasText: 'runtime' }).textContent()).toMatch(
      /main\s*Running since .*yes\s*0/,
    );
    await shot('pod-timeline');

    await page.setViewportSize({ width: 390, height: 844 });
    await shot('pod-timeline-390');
    await page.getByRole('link', { name: 'Deploy', exact: true }).click();
    await page.getByRole('heading', { name: 'Recent deploys' }).waitFor();
    await page.getByRole('table', { name: /Recent deploys/ }).waitFor();
    await shot('app-page-390');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('runs a one-off job and shows its output and exit code', async () => {
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByText('No jobs have run for this app yet.').waitFor();
    await page.getByRole('textbox', { name: 'Command' }).fill('node task.js "hello there"');
    await page.getByRole('button', { name: 'Run' }).click();
    const job = page.getByRole('article', { name: /^Job / }).first();
    await job.getByText('exit code 4').waitFor({ timeout: 90_000 });
    expect(await job.getByLabel(/^Output of job/).textContent()).toContain('job says hello there');
  });

  it('turns scale to zero on; the Pods tab shows the suspended pod and what it keeps; a request wakes it', async () => {
    await page.getByRole('link', { name: 'Deploy', exact: true }).click();
    const card = page.getByRole('form', { name: 'Scale to zero' });
    await card.getByLabel('Suspend the app when idle').check();
    await card.getByLabel('Idle after (seconds without a request)').fill('1');
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByRole('status').filter({ hasText: 'Saved: suspended after 1 s idle.' }).waitFor();

    await page.getByRole('link', { name: 'Pods' }).click();
    // Measured once frozen: "keeps 38.2 MiB of memory." (The replaced release's pod, kept warm, stays as it was.)
    const idle = /The app is idle \(scale to zero\).*keeps [\d.]+ [KMG]i?B of memory/;
    await page.getByRole('region', { name: /^Pod / }).getByText(idle).waitFor({ timeout: 60_000 });
    await shot('pod-suspended');

    // A request is held while the app wakes, and answered.
    expect((await p.get(APP)).status).toBe(200);

    // Off again (an app idle a second later would be suspended again): it stays awake, and the Pods tab
    // shows its pod running. The rest of the tour sees an app that stays awake.
    await page.getByRole('link', { name: 'Deploy', exact: true }).click();
    await card.getByLabel('Suspend the app when idle').uncheck();
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByRole('status').filter({ hasText: 'Saved: off.' }).waitFor();
    await page.getByRole('link', { name: 'Pods' }).click();
    await page.getByRole('region', { name: /^Pod / }).first().waitFor();
    await expect
      .poll(() => page.getByText(/The app is idle \(scale to zero\)/).count(), { timeout: 30_000, interval: 250 })
      .toBe(0);
  });

  it("shows the app's runtime and sidecar logs", async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByLabel('Container').waitFor();
    // The runtime announces what it serves; the logic sidecar says where it published the bundle.
    const log = page.getByRole('log', { name: 'App logs' });
    await log.filter({ hasText: /runtime: serving/ }).waitFor({ timeout: 30_000 });
    await log.filter({ hasText: /loader: published/ }).waitFor({ timeout: 30_000 });
  });

  it('sends a session whose token stopped working back to sign-in, and signs out', async () => {
    await page.evaluate(() => sessionStorage.setItem('sidecar.token', 'revoked-token-0123456789'));
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Sidecar' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'Your token was not accepted' }).waitFor();

    await page.getByLabel('API token').fill(p.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Logs', level: 2 }).waitFor(); // back where the user was
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sidecar' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });
});
