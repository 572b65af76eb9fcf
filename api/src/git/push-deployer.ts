import { type Deploy, type DeployCommit, DomainError, ErrorCode, isDomainError, type Log } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import type { DeployService } from '../services/deploy-service.js';
import type { GitSettings } from './git-settings.js';
import { PushedObjects } from './pushed-commit.js';
import type { PushSession } from './push-sessions.js';
import { branchOf, isZero, type RefUpdate, short } from './ref-updates.js';
import type { GitRepos } from './repos.js';

export interface PushDeployerDeps {
  stores: Stores;
  deploys: DeployService;
  repos: GitRepos;
  git: GitSettings;
  maxBundleBytes: number;
  urlFor: (app: string) => string;
  log: Log;
}

/** Lines a push prints; git shows each as a `remote:` line. */
export type Out = (line: string) => void;

const say = (out: Out, line: string) => out(`-----> ${line}`);
const warn = (out: Out, line: string) => out(` !     ${line}`);

/**
 * What the pre-receive hook of one push decides: store other branches and tags as they are;
 * for the deploy branch, build and deploy the pushed commit through the same service as a REST
 * upload and follow its log while the push waits. Returns the hook's exit code: 0 lets git move
 * the refs, anything else rejects the whole push (so a failed deploy leaves the branch where it was).
 */
export class PushDeployer {
  constructor(private readonly d: PushDeployerDeps) {}

  async run(opts: {
    session: PushSession;
    updates: RefUpdate[];
    quarantine: string | null;
    out: Out;
  }): Promise<number> {
    const { session, out } = opts;
    try {
      return await this.decide(opts);
    } catch (e) {
      if (!isDomainError(e)) this.d.log.error({ app: session.app, err: e }, 'git: push failed');
      warn(out, isDomainError(e) ? e.message : 'internal error; see the platform log');
      warn(out, 'push rejected: nothing was updated');
      return 1;
    }
  }

  private async decide(opts: {
    session: PushSession;
    updates: RefUpdate[];
    quarantine: string | null;
    out: Out;
  }): Promise<number> {
    const { session, updates, out } = opts;
    const app = session.app;
    const objects = new PushedObjects(this.d.git, session.repo, opts.quarantine);
    if (!(await this.withinQuota(app, objects, out))) return 1;
    const deployBranches = await this.d.repos.deployBranches(app);
    const deploying: RefUpdate[] = [];
    for (const u of updates) {
      const branch = branchOf(u.ref);
      if (branch === null || !deployBranches.includes(branch)) {
        const what = branch === null ? u.ref : `branch ${branch}`;
        say(
          out,
          isZero(u.newSha)
            ? `${what} deleted`
            : `${what} stored, not deployed (pushes to ${deployBranches.join(' or ')} deploy)`,
        );
      } else if (isZero(u.newSha)) {
        say(out, `${branch} deleted; ${app} keeps serving what it serves now`);
      } else {
        deploying.push(u);
      }
    }
    const target = deploying[0];
    if (!target) return 0;
    if (new Set(deploying.map((u) => u.newSha)).size > 1) {
      warn(out, `${deploying.map((u) => branchOf(u.ref)).join(' and ')} point at different commits: push one of them`);
      return 1;
    }
    const branch = branchOf(target.ref)!;

    const lock = await this.d.stores.locks.gitPush(app).acquire({
      owner: session.secret,
      waitMs: this.d.git.lockWaitMs,
      signal: session.signal,
      onWait: () =>
        say(
          out,
          `another push to ${app} is deploying; waiting up to ${Math.round(this.d.git.lockWaitMs / 1000)} s for it to finish`,
        ),
    });
    if (!lock) {
      warn(out, `another push to ${app} is deploying; try again when it has finished`);
      return 1;
    }
    session.hold(lock);
    // While this push waited, another may have moved the branch; git would then refuse the
    // update after the hook, so refuse now, before deploying anything.
    for (const u of deploying) {
      const now = await this.d.repos.readRef(app, u.ref);
      if ((now ?? '') !== (isZero(u.oldSha) ? '' : u.oldSha)) {
        warn(
          out,
          `${branchOf(u.ref)} moved while this push waited (it is at ${now ? short(now) : 'nothing'} now): fetch and push again`,
        );
        return 1;
      }
    }

    const current = await this.d.stores.apps.get(app);
    if (current.currentRelease !== null) {
      const release = await this.d.stores.releases.get(app, current.currentRelease).catch(() => null);
      if (release?.commit?.sha === target.newSha) {
        say(out, `${short(target.newSha)} is already deployed as ${app} v${release.version}; nothing to deploy`);
        return 0;
      }
    }

    // A push that went away must not deploy (its ref update will never happen).
    session.signal.throwIfAborted();
    const commit = await objects.commit(target.newSha);
    session.signal.throwIfAborted();
    say(out, `deploying ${app} from ${branch} at ${short(commit.sha)}: ${commit.message.split('\n')[0] ?? ''}`);
    const deploy = await this.upload({ app, objects, commit });
    if (session.signal.aborted) {
      await this.d.deploys.cancel(app, deploy.id).catch(() => undefined);
      session.signal.throwIfAborted();
    }
    return this.follow({ session, deploy, branch, previous: current.currentRelease, out });
  }

  /**
   * The repository quota: a push that brings objects and would take the app's repository past
   * SIDECAR_GIT_REPO_QUOTA_BYTES is refused whole (git then drops its quarantine: nothing stays).
   * A push that brings nothing (deleting refs) is always let through, so a repository over a
   * lowered quota can still be trimmed.
   */
  private async withinQuota(app: string, objects: PushedObjects, out: Out): Promise<boolean> {
    const { kept, pushed } = await objects.bytes();
    const quota = this.d.git.repoQuotaBytes;
    if (pushed === 0 || kept + pushed <= quota) return true;
    warn(
      out,
      `this push would take the repository of ${app} to ${mib(kept + pushed)}, more than its quota of ${mib(quota)} (SIDECAR_GIT_REPO_QUOTA_BYTES)`,
    );
    warn(out, 'push rejected: nothing was updated (push less history, or delete branches and tags you do not need)');
    return false;
  }

  private async upload(opts: { app: string; objects: PushedObjects; commit: DeployCommit }): Promise<Deploy> {
    const body = opts.objects.archive(opts.commit.sha);
    try {
      return await this.d.deploys.upload({
        app: opts.app,
        body,
        contentType: 'application/gzip',
        contentLength: undefined,
        source: 'git',
        commit: opts.commit,
      });
    } catch (e) {
      if (isDomainError(e) && e.code === ErrorCode.bundleTooLarge) {
        throw new DomainError(
          ErrorCode.bundleTooLarge,
          `the archive of ${short(opts.commit.sha)} is larger than the bundle limit of ${this.d.maxBundleBytes} bytes (SIDECAR_MAX_BUNDLE_BYTES)`,
        );
      }
      throw e;
    } finally {
      body.destroy();
    }
  }

  /** Streams the deploy's log to the push until the deploy ends; a push that goes away or times out cancels it. */
  private async follow(opts: {
    session: PushSession;
    deploy: Deploy;
    branch: string;
    previous: number | null;
    out: Out;
  }): Promise<number> {
    const { session, deploy, out } = opts;
    const { stores } = this.d;
    // Ends the follow when the push goes away (its session aborts) or takes too long.
    const stop = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, this.d.git.pushTimeoutMs);
    const signal = AbortSignal.any([session.signal, stop.signal]);
    let ended = false;
    try {
      for await (const page of stores.deployLog.follow(deploy.id, signal)) {
        for (const e of page) {
          if (e.kind === 'line') out(`       ${e.line}`);
          else ended = true;
        }
        if (ended) break;
      }
    } catch (e) {
      if (!timedOut && !session.signal.aborted) throw e;
    } finally {
      clearTimeout(timer);
    }
    if (!ended) {
      await this.d.deploys.cancel(deploy.app, deploy.id).catch(() => undefined);
      warn(
        out,
        timedOut
          ? `the deploy took longer than ${Math.round(this.d.git.pushTimeoutMs / 1000)} s and was cancelled`
          : 'the push went away; deploy cancelled',
      );
      return 1;
    }
    const final = await stores.deploys.get(deploy.app, deploy.id);
    if (final.status === 'succeeded') {
      await this.d.repos
        .headFollows(deploy.app, opts.branch)
        .catch((e: unknown) => this.d.log.warn({ app: deploy.app, err: e }, 'git: setting HEAD failed'));
      say(out, `${deploy.app} v${final.release} is live at ${this.d.urlFor(deploy.app)} (deploy ${final.id})`);
      return 0;
    }
    warn(out, `deploy ${final.id} ${final.status}: ${final.error?.message ?? 'no reason recorded'}`);
    warn(
      out,
      `${opts.branch} was not updated; ${deploy.app} ${opts.previous === null ? 'has no release yet' : `still serves v${opts.previous}`}`,
    );
    return 1;
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
