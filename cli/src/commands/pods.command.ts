import type { Command } from 'commander';
import { listOf, PodView, type ContainerStatus } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { table, type Ui } from '../ui.js';
import { appOption, contextOf, jsonOption } from './options.js';

/** `sidecar pods`: each pod, its containers, and its lifecycle as a text timeline. */
export function registerPods(program: Command, env: CommandEnv): void {
  program
    .command('pods')
    .description("the app's pods with their containers and a lifecycle timeline")
    .addOption(appOption())
    .addOption(jsonOption())
    .action(async (opts: { app?: string; json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await env.app(client, opts.app);
      const { items } = await client.json('GET', `/apps/${app}/pods`, listOf(PodView));
      if (opts.json) return env.ui.json({ items });
      if (items.length === 0) return env.ui.note(`${app} has no pods`);
      items.forEach((pod, i) => {
        if (i > 0) env.ui.out('');
        printPod(env.ui, pod);
      });
    });
}

function printPod(ui: Ui, pod: PodView): void {
  const ready = pod.ready ? ui.c.green('ready') : ui.c.yellow('not ready');
  ui.out(`${ui.c.bold(pod.name)}  v${pod.release ?? '?'}  ${pod.phase}  ${ready}${suspension(pod)}`);
  const row = (c: ContainerStatus, kind: string) => [
    `  ${c.name}`,
    kind,
    stateOf(c),
    c.ready ? 'ready' : '-',
    `restarts ${c.restartCount}`,
  ];
  for (const line of table([
    ...pod.initContainerStatuses.map((c) => row(c, c.sidecar ? 'sidecar' : 'init')),
    ...pod.containerStatuses.map((c) => row(c, 'main')),
  ]))
    ui.out(line);
  const start = pod.events[0] ? Date.parse(pod.events[0].time) : 0;
  for (const e of pod.events) {
    const at = `+${((Date.parse(e.time) - start) / 1000).toFixed(1)}s`.padStart(8);
    ui.out(`  ${ui.c.dim(at)}  ${(e.container || '(pod)').padEnd(10)} ${e.reason.padEnd(10)} ${e.message}`);
  }
}

/** `  frozen (warm, keeps 12.3 MiB, until 10:42:07)` for a frozen pod; empty otherwise. */
function suspension(pod: PodView): string {
  const s = pod.suspended;
  if (!s) return '';
  const memory =
    s.memoryBytes === null ? 'memory not measured yet' : `keeps ${(s.memoryBytes / 2 ** 20).toFixed(1)} MiB`;
  const until = s.until ? `, until ${new Date(s.until).toLocaleTimeString()}` : '';
  return `  frozen (${s.reason}, ${memory}${until})`;
}

function stateOf(c: ContainerStatus): string {
  if (c.state.running) return 'running';
  if (c.state.terminated) return `exited ${c.state.terminated.exitCode} (${c.state.terminated.reason})`;
  return c.state.waiting ? `waiting (${c.state.waiting.reason})` : 'unknown';
}
