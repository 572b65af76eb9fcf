/**
 * For a process supervised by the single-host launcher through a stdin pipe:
 * when that pipe closes (the launcher died, even by SIGKILL), shut down the
 * same way as on SIGTERM, so no API, router or worker outlives its launcher.
 * Pure wiring of a Node stream; no I/O library.
 */
export function exitWithParent(env: NodeJS.ProcessEnv, shutdown: () => void): void {
  if (env.SIDECAR_SUPERVISED !== '1') return;
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}
