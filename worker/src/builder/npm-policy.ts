import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type { LogSink } from '@sidecar/core';
import { invalid, shownName } from './messages.js';

/**
 * What of a bundle npm may not take as configuration. npm reads settings from the project's
 * `.npmrc` (registry, proxy, `strict-ssl`, `git`, `script-shell`, `ignore-scripts`, auth tokens...);
 * the installer forces the platform's own, but removing the file is the only way to be sure that no
 * setting it does not name survives. Other package managers' files are not read by npm at all: the
 * build says so, so nobody expects them to work. package.json `config` only reaches lifecycle
 * scripts (which never run) and `publishConfig` only `npm publish`: nothing to remove there.
 */
const NPM_CONFIG_FILE = '.npmrc';
const OTHER_MANAGERS_FILES = ['.yarnrc', '.yarnrc.yml', '.pnpmfile.cjs', 'bunfig.toml'];

/** Removes the bundle's `.npmrc` (from the build and the image) and logs every file npm will not honour. */
export async function dropBundleNpmConfig(dir: string, files: ReadonlySet<string>, log: LogSink): Promise<void> {
  if (files.has(NPM_CONFIG_FILE)) {
    await rm(join(dir, NPM_CONFIG_FILE), { force: true });
    log(
      `ignored the bundle's ${NPM_CONFIG_FILE} (left out of the build and the image): ` +
        `npm runs with the platform's registry, proxy and TLS settings`,
    );
  }
  for (const name of OTHER_MANAGERS_FILES) {
    if (files.has(name)) log(`ignored ${name}: dependencies are installed with npm, which does not read it`);
  }
}

/** Specs checked between two turns of the event loop. */
const SPECS_PER_TURN = 2000;

// The dependency groups `npm install --omit=dev` installs.
const INSTALLED_GROUPS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

/**
 * Refuses git dependencies before npm sees them: npm clones them and runs their `prepare` script
 * (with a full `npm install` of their dev dependencies) even under --ignore-scripts, which is
 * arbitrary code at build time. The installer also points npm's `git` at nothing, so one reached
 * through a registry package fails too; this check only gives the clear message.
 */
export async function refuseGitDependencies(pkg: Record<string, unknown>): Promise<void> {
  for (const group of INSTALLED_GROUPS) {
    const deps = pkg[group];
    if (typeof deps !== 'object' || deps === null) continue;
    let checked = 0;
    for (const name in deps) {
      // A package.json may list tens of thousands: let the rest of the worker run in between.
      if (++checked % SPECS_PER_TURN === 0) await setImmediate();
      const spec = (deps as Record<string, unknown>)[name];
      if (typeof spec === 'string' && isGitSpec(spec)) {
        throw invalid(
          `package.json: ${group} "${shownName(name)}" is a git dependency ("${shownName(spec)}"); git ` +
            `dependencies are not installed here (npm would run their prepare scripts): publish it to ` +
            `the registry, or ship it in node_modules`,
        );
      }
    }
  }
}

const GIT_PREFIXES = ['git:', 'git+', 'github:', 'gitlab:', 'bitbucket:', 'gist:'];
const GIT_HOSTS = ['github.com', 'gitlab.com', 'bitbucket.org', 'gist.github.com'];

/**
 * Whether npm would read `spec` as a git dependency (npm-package-arg's rules, linear in the spec):
 * a git scheme or hosted shortcut, a `user/repo` GitHub shorthand, or an http(s) URL of a git host
 * that is not a tarball download.
 */
export function isGitSpec(spec: string): boolean {
  // Versions, ranges and tags (nearly every spec) have neither: no git form lacks both.
  if (!spec.includes('/') && !spec.includes(':')) return false;
  const s = spec.trim().toLowerCase();
  if (GIT_PREFIXES.some((p) => s.startsWith(p))) return true;
  if (isGitHubShorthand(s)) return true;
  const url = /^https?:\/\/([^/@]*@)?([^/:]+)(:\d+)?\/([^#]*)/.exec(s);
  if (!url) return false;
  const path = url[4]!;
  if (/\.(tgz|tar\.gz|tar)$/.test(path)) return false;
  return path.endsWith('.git') || GIT_HOSTS.includes(url[2]!);
}

/** npm-package-arg's isGitHubShorthand: `user/repo[#ref]` with no scheme, `@`, or second slash before `#`. */
function isGitHubShorthand(arg: string): boolean {
  const hash = arg.indexOf('#');
  const head = hash === -1 ? arg : arg.slice(0, hash);
  const slash = head.indexOf('/');
  return (
    slash > 0 &&
    head.indexOf('/', slash + 1) === -1 &&
    !head.endsWith('/') &&
    !head.startsWith('.') &&
    !/[\s@:]/.test(head)
  );
}
