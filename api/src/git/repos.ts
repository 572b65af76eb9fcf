import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type App, assertAppName, DomainError, ErrorCode } from '@sidecar/core';
import { runGit } from './git-env.js';
import type { GitSettings } from './git-settings.js';

/** Kept beside git's own files in each bare repository. */
interface RepoMeta {
  /** The app's createdAt when the repository was made: a recreated app must not inherit a deleted one's code. */
  appCreatedAt: string;
  /** The one branch that deploys; absent = `main` or `master`. */
  deployBranch?: string;
}

export const DEFAULT_DEPLOY_BRANCHES = ['main', 'master'] as const;
const META = 'sidecar.json';

/** The bare repositories, one per app, at `<root>/<app>.git`; the path comes only from a validated app name. */
export class GitRepos {
  private readonly ensuring = new Map<string, Promise<string>>();

  constructor(private readonly s: GitSettings) {}

  path(app: string): string {
    return join(this.s.root, `${assertAppName(app)}.git`);
  }

  /** The app's repository, created empty on first use (and afresh if it belonged to a deleted app of the same name). */
  ensure(app: App): Promise<string> {
    // One creation per app at a time in this process; other processes are handled by the atomic rename below.
    const key = `${app.name}@${app.createdAt}`;
    let p = this.ensuring.get(key);
    if (!p) {
      p = this.create(app).finally(() => this.ensuring.delete(key));
      this.ensuring.set(key, p);
    }
    return p;
  }

  /** Removes the app's repository (its app was deleted): moved out of reach first, then deleted. */
  async remove(app: string): Promise<void> {
    await this.discard(this.path(app));
  }

  async deployBranches(app: string): Promise<string[]> {
    const meta = await this.meta(app);
    return meta?.deployBranch ? [meta.deployBranch] : [...DEFAULT_DEPLOY_BRANCHES];
  }

  /** Sets (or with null resets to main/master) the branch whose pushes deploy. */
  async setDeployBranch(app: App, branch: string | null): Promise<void> {
    if (branch !== null) await this.assertBranchName(branch);
    const dir = await this.ensure(app);
    const meta = (await this.meta(app.name)) ?? { appCreatedAt: app.createdAt };
    const next: RepoMeta = { appCreatedAt: meta.appCreatedAt };
    if (branch !== null) next.deployBranch = branch;
    await writeAtomically(join(dir, META), JSON.stringify(next));
  }

  /** A ref's commit, or null when it does not exist. */
  async readRef(app: string, ref: string): Promise<string | null> {
    const out = await runGit(this.s, ['--git-dir', this.path(app), 'for-each-ref', '--format=%(objectname)', ref]);
    return out.trim().split('\n')[0] || null;
  }

  /**
   * Points HEAD (what a clone checks out) at the deploy branch when HEAD's own branch does not
   * exist: a repository pushed only `master` to must not clone as empty.
   */
  async headFollows(app: string, branch: string): Promise<void> {
    const dir = this.path(app);
    const head = (await runGit(this.s, ['--git-dir', dir, 'symbolic-ref', '--quiet', 'HEAD']).catch(() => '')).trim();
    if (head && (await this.readRef(app, head))) return;
    await runGit(this.s, ['--git-dir', dir, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  }

  async branches(app: string): Promise<Array<{ name: string; sha: string }>> {
    const out = await runGit(this.s, [
      '--git-dir',
      this.path(app),
      'for-each-ref',
      '--format=%(refname:strip=2) %(objectname)',
      'refs/heads/',
    ]);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name = '', sha = ''] = l.split(' ');
        return { name, sha };
      });
  }

  private async meta(app: string): Promise<RepoMeta | null> {
    try {
      return JSON.parse(await readFile(join(this.path(app), META), 'utf8')) as RepoMeta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  private async create(app: App): Promise<string> {
    const dir = this.path(app.name);
    const meta = await this.meta(app.name);
    if (meta?.appCreatedAt === app.createdAt) return dir;
    await mkdir(this.s.root, { recursive: true, mode: 0o700 });
    // Left by a deleted app of the same name (a platform that kept repositories of deleted apps).
    if (meta) await this.discard(dir);
    // Made under a temporary name and renamed into place, so nobody sees half a repository
    // and two first pushes racing each other end with one repository.
    const tmp = join(this.s.root, `.new-${randomUUID()}.git`);
    await runGit(this.s, ['init', '--quiet', '--bare', '--initial-branch=main', tmp]);
    await writeFile(join(tmp, META), JSON.stringify({ appCreatedAt: app.createdAt } satisfies RepoMeta));
    try {
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      // Someone else made it; a repository with no stamp (made by hand) is adopted.
      if (!(await this.meta(app.name)))
        await writeAtomically(join(dir, META), JSON.stringify({ appCreatedAt: app.createdAt }));
    }
    return dir;
  }

  /** A rename is atomic: a concurrent clone or push sees the repository whole or not at all. */
  private async discard(dir: string): Promise<void> {
    const trash = join(this.s.root, `.trash-${randomUUID()}`);
    try {
      await rename(dir, trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
  }

  private async assertBranchName(branch: string): Promise<void> {
    const ok =
      /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(branch) &&
      (await runGit(this.s, ['check-ref-format', `refs/heads/${branch}`]).then(
        () => true,
        () => false,
      ));
    if (!ok)
      throw new DomainError(
        ErrorCode.invalidRequest,
        `deployBranch: ${JSON.stringify(branch)} is not a valid branch name`,
      );
  }
}

async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}
