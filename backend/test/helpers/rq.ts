// Real RQ for integration tests: workers and a control script of tests/engines/rq_app, run
// from the project's RQ virtualenv.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const ROOT = new URL('../../../', import.meta.url).pathname;
const APP_DIR = `${ROOT}tests/engines/rq_app`;
const VENV = `${ROOT}.venvs/rq/bin`;

export const RQ_REDIS_URL = process.env.Z4J_TEST_RQ_REDIS_URL ?? 'redis://127.0.0.1:6379/7';

function requireVenv(): void {
  if (!existsSync(`${VENV}/rq`)) throw new Error(`RQ is not installed in ${VENV}. Run \`bash scripts/setup-python.sh rq\` first.`);
}

const env = () => ({ ...process.env, Z4J_TEST_REDIS: RQ_REDIS_URL, PYTHONUNBUFFERED: '1', PYTHONPATH: APP_DIR });

export const uniqueQueue = (what: string) => `z4j_${what}_${randomBytes(4).toString('hex')}`;

export interface RqWorker {
  name: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startRqWorker(queues: string[]): RqWorker {
  requireVenv();
  const name = `rq-${randomBytes(3).toString('hex')}`;
  const proc = spawn(`${VENV}/rq`, ['worker', '-u', RQ_REDIS_URL, '--name', name, '--with-scheduler', ...queues], { cwd: APP_DIR, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return {
    name,
    process: proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function rqctl<T>(...args: string[]): Promise<T> {
  requireVenv();
  const proc = spawn(`${VENV}/python`, ['rqctl.py', ...args], { cwd: APP_DIR, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`rqctl ${args.join(' ')} failed (${code}): ${err}`);
  return JSON.parse(out) as T;
}

export const enqueue = (queue: string, func: string, args: unknown[]) => rqctl<string>('enqueue', queue, func, JSON.stringify(args));
export const jobOf = (id: string) => rqctl<{ status: string; result: unknown; worker: string | null } | null>('job', id);
