// Real Dramatiq for integration tests: workers and a control script of
// tests/engines/dramatiq_app, run from the project's Dramatiq virtualenv.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const ROOT = new URL('../../../', import.meta.url).pathname;
const APP_DIR = `${ROOT}tests/engines/dramatiq_app`;
const VENV = `${ROOT}.venvs/dramatiq/bin`;

export const DRAMATIQ_REDIS_URL = process.env.Z4J_TEST_DRAMATIQ_REDIS_URL ?? 'redis://127.0.0.1:6379/10';

function requireVenv(): void {
  if (!existsSync(`${VENV}/dramatiq`)) throw new Error(`Dramatiq is not installed in ${VENV}. Run \`bash scripts/setup-python.sh dramatiq\` first.`);
}

const env = (queue: string) => ({ ...process.env, Z4J_TEST_REDIS: DRAMATIQ_REDIS_URL, Z4J_TEST_QUEUE: queue, PYTHONUNBUFFERED: '1', PYTHONPATH: APP_DIR });

export interface DramatiqWorker {
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startDramatiqWorker(queue: string): DramatiqWorker {
  requireVenv();
  const proc = spawn(`${VENV}/dramatiq`, ['tasks', '--processes', '1', '--threads', '1', '--queues', queue], { cwd: APP_DIR, env: env(queue), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return {
    process: proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(-proc.pid!, 'SIGTERM'); // the whole group: dramatiq forks its worker processes
      const timer = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function dqctl<T>(queue: string, ...args: string[]): Promise<T> {
  requireVenv();
  const proc = spawn(`${VENV}/python`, ['dqctl.py', ...args], { cwd: APP_DIR, env: env(queue), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`dqctl ${args.join(' ')} failed (${code}): ${err}`);
  return JSON.parse(out) as T;
}
