import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '../..');

/** Launch flags measured to work on the CI machines (ENVIRONMENT.md); every launch gets a fresh temp profile. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Apps live at http://<app>.localhost:<router port>/; send every such name to the loopback router.
  '--host-resolver-rules=MAP *.localhost 127.0.0.1',
];

export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.SIDECAR_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(
      `no Chromium at ${executablePath}: apt-get install -y chromium (scripts/prepare-host.sh --for-tests does)`,
    );
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** The API serves web/dist; build it when this checkout has none yet (scripts/test.sh builds it up front). */
export function ensureWebBuilt(): void {
  if (existsSync(join(root, 'web/dist/index.html'))) return;
  execFileSync('npm', ['run', 'build', '-w', '@sidecar/web'], { cwd: root, stdio: 'inherit' });
}

/** Screenshots for the README are refreshed only when asked (UPDATE_SCREENSHOTS=1), so test runs leave the tree clean. */
export async function screenshotPath(name: string): Promise<string | null> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return null;
  const dir = join(root, 'docs/screenshots');
  await mkdir(dir, { recursive: true });
  return join(dir, `${name}.png`);
}
