import { spawn } from 'node:child_process';

/**
 * Runs redis-server (arguments passed through) and ties its life to the launcher:
 * redis-server cannot watch its parent, so this small process does, through the
 * stdin pipe the launcher holds. If the launcher dies — even by SIGKILL — the pipe
 * closes and Redis gets SIGTERM (it flushes its AOF and exits) instead of running on
 * as an orphan. SIGTERM/SIGINT to this process are passed on; its exit code is Redis's.
 */
const redis = spawn('redis-server', process.argv.slice(2), { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => {
  if (redis.exitCode === null && redis.signalCode === null) redis.kill('SIGTERM');
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
redis.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
redis.on('error', (e) => {
  console.error(`redis-watchdog: cannot start redis-server: ${e.message}`);
  process.exit(1);
});
