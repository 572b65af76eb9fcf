import { errorText } from '@sidecar/core';
import type { Pod, PodView } from '@sidecar/core';
import { removePodObjects } from '@sidecar/kubelet';
import type Docker from 'dockerode';
import type { CliConfig } from './config.js';
import { cliPod, connectDocker, pauseImage, preflight } from './engine.js';
import { ExitCode } from './errors.js';
import { runJob } from './job-runner.js';
import { loadManifest } from './manifest.js';
import type { RunOutput } from './output.js';
import { DeletionRequested, supervisePod, type Deletion } from './pod-supervisor.js';

export interface PodRunInput {
  file: string;
  timeoutSeconds: number | undefined;
  keep: boolean;
}

export interface PodRunDeps {
  config: Readonly<CliConfig>;
  output: RunOutput;
  /** The process whose SIGINT/SIGTERM delete the pod. */
  proc: NodeJS.Process;
}

/** `sidecar pod run FILE`: exit 0 when the pod Succeeded (a Job completed), 1 otherwise. */
export async function podRun(input: PodRunInput, deps: PodRunDeps): Promise<ExitCode> {
  const { config, output, proc } = deps;
  // Manifest errors come first: nothing is contacted or started for a broken manifest.
  const manifest = await loadManifest(input.file);
  const docker = await connectDocker(config);
  const stop = new AbortController();
  let current: string | undefined; // the pod being run (a Job runs several, one after another)
  const deletion = (reason: string, message: string): DeletionRequested =>
    new DeletionRequested({ reason, message, gracePeriodSeconds: undefined, remove: !input.keep });

  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      stop.abort(deletion('Deleting', `received ${signal}`));
      return;
    }
    // A second signal: no more grace.
    output.note(`received ${signal} again: removing pod ${current ?? '(none yet)'} at once`);
    void forceRemove(docker, current).then(
      () => proc.exit(ExitCode.failed),
      (e: unknown) => {
        output.note(`removing pod ${current ?? ''} failed: ${errorText(e)}`);
        proc.exit(ExitCode.failed);
      },
    );
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  let timeout: NodeJS.Timeout | undefined;
  try {
    const pause = await pauseImage(docker, config, output.note);
    const what = manifest.kind === 'Job' ? 'Job' : 'Pod';
    // --timeout counts from the moment the (first) pod exists and runs, not from image preparation.
    const startTimeout = () => {
      if (input.timeoutSeconds === undefined || timeout !== undefined) return;
      const seconds = input.timeoutSeconds;
      timeout = setTimeout(
        () => stop.abort(deletion('DeadlineExceeded', `${what} was active longer than --timeout ${seconds}s`)),
        seconds * 1000,
      );
    };
    const runPod = async (pod: Pod, specPath: string, deleteWhen?: (v: PodView) => Deletion | undefined) => {
      const labelled = cliPod(pod);
      await preflight(docker, labelled, { source: input.file, specPath });
      current = labelled.metadata.name;
      return supervisePod({
        docker,
        pod: labelled,
        pauseImage: pause,
        backoffScale: config.backoffScale,
        runDir: config.runDir,
        output,
        keep: input.keep,
        stop,
        onStarted: startTimeout,
        ...(deleteWhen ? { deleteWhen } : {}),
      });
    };
    if (manifest.kind === 'Pod') {
      const result = await runPod(manifest.pod, 'spec');
      await output.final(result.status);
      return !result.deletedBy && result.status.phase === 'Succeeded' ? ExitCode.ok : ExitCode.failed;
    }
    const result = await runJob({
      job: manifest.job,
      output,
      stop,
      backoffScale: config.backoffScale,
      keep: input.keep,
      runPod: (pod, deleteWhen) => runPod(pod, 'spec.template.spec', deleteWhen),
    });
    await output.final(result.status, result.job);
    return result.ok ? ExitCode.ok : ExitCode.failed;
  } finally {
    clearTimeout(timeout);
    proc.off('SIGINT', onSignal);
    proc.off('SIGTERM', onSignal);
  }
}

async function forceRemove(docker: Docker, pod: string | undefined): Promise<void> {
  if (pod !== undefined) await removePodObjects(docker, pod);
}
