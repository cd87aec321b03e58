// Real Celery for integration tests: a worker process of the test app in
// tests/engines/celery_app, run from the project's Celery virtualenv.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { venvBin } from './pyapp.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const APP_DIR = `${ROOT}tests/engines/celery_app`;
const VENV = venvBin('celery');

export const REDIS_URL = process.env.Z4J_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
export const AMQP_URL = process.env.Z4J_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';

export interface CeleryEnv {
  broker: string;
  queue: string;
  eventExchange: string;
  controlExchange: string;
  /** Z4J_* settings of the z4j agent, installed in the app when given (tests/engines/celery_app/tasks.py). */
  agent?: Record<string, string>;
  /** The app's broker_transport_options (kombu's). */
  transportOptions?: Record<string, unknown>;
  /** false: producers send no task-sent events (Celery's default; the test app sends them otherwise). */
  sentEvents?: boolean;
  /** The app's task_serializer, and the only content its workers accept (json by default). */
  serializer?: 'pickle' | 'msgpack';
  /** The app's result_backend (none by default). */
  resultBackend?: string;
}

/** Names no other test shares: queue and exchanges. */
export function isolatedCelery(broker: string): CeleryEnv {
  const id = randomBytes(4).toString('hex');
  return { broker, queue: `z4jq_${id}`, eventExchange: `celeryev_${id}`, controlExchange: `z4jctl_${id}` };
}

function env(c: CeleryEnv, taskEvents = true): NodeJS.ProcessEnv {
  return {
    ...process.env,
    Z4J_TEST_TASK_EVENTS: taskEvents ? '1' : '0',
    Z4J_TEST_BROKER: c.broker,
    Z4J_TEST_QUEUE: c.queue,
    Z4J_TEST_EVENT_EXCHANGE: c.eventExchange,
    Z4J_TEST_CONTROL_EXCHANGE: c.controlExchange,
    Z4J_TEST_REDIS: REDIS_URL,
    Z4J_TEST_BROKER_TRANSPORT_OPTIONS: JSON.stringify(c.transportOptions ?? {}),
    Z4J_TEST_SENT_EVENTS: c.sentEvents === false ? '0' : '1',
    ...(c.resultBackend ? { Z4J_TEST_RESULT_BACKEND: c.resultBackend } : {}),
    ...(c.serializer ? { Z4J_TEST_SERIALIZER: c.serializer, C_FORCE_ROOT: '1' } : {}), // Celery refuses pickle as root without it
    PYTHONUNBUFFERED: '1',
    ...c.agent,
  };
}

function requireVenv(): void {
  if (!existsSync(`${VENV}/celery`)) {
    throw new Error(`Celery is not installed in ${VENV}. Run \`bash scripts/setup-python.sh celery\` first.`);
  }
}

export interface Worker {
  hostname: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** A worker of the test app; `pool` is Celery's -P (prefork unless said: solo, threads, gevent). */
export function startWorker(c: CeleryEnv, opts: { sendEvents?: boolean; concurrency?: number; autoscale?: string; pool?: string } = {}): Worker {
  requireVenv();
  const hostname = `w-${randomBytes(3).toString('hex')}@z4jtest`;
  const args = ['-A', 'tasks', 'worker', '-Q', c.queue, '-c', String(opts.concurrency ?? 2), '-P', opts.pool ?? 'prefork', '-n', hostname, '-l', 'warning', '--without-mingle', '--without-gossip'];
  if (opts.sendEvents !== false) args.push('-E');
  if (opts.autoscale) args.push(`--autoscale=${opts.autoscale}`);
  const proc = spawn(`${VENV}/celery`, args, { cwd: APP_DIR, env: env(c, opts.sendEvents !== false), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return {
    hostname,
    process: proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return; // exited, or killed
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ScenarioIds {
  add: string;
  fail: string;
  flaky: string;
  chain: string[];
  group: string[];
}

/** Sends the scenario of tests/engines/celery_app/send.py and returns the task ids. */
export async function sendScenario(c: CeleryEnv): Promise<ScenarioIds> {
  requireVenv();
  const proc = spawn(`${VENV}/python`, ['send.py'], { cwd: APP_DIR, env: env(c), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`send.py failed (${code}): ${err}`);
  return JSON.parse(out) as ScenarioIds;
}

/** Runs the app's python with `args` (a script and its arguments, or `-c code`) in the app's environment. */
export async function runInApp(c: CeleryEnv, args: string[]): Promise<{ code: unknown; out: string; err: string }> {
  requireVenv();
  const proc = spawn(`${VENV}/python`, args, { cwd: APP_DIR, env: env(c), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  return { code, out, err };
}

/** Runs a script of the test app and returns its stdout. */
async function runApp(c: CeleryEnv, script: string, args: string[]): Promise<string> {
  const { code, out, err } = await runInApp(c, [script, ...args]);
  if (code !== 0) throw new Error(`${script} failed (${code}): ${err}`);
  return out.trim();
}

/** Sends one task by name; returns its id. */
export function sendTask(c: CeleryEnv, name: string, args: unknown[], opts: { countdown?: number; queue?: string; kwargs?: Record<string, unknown> } = {}): Promise<string> {
  return runApp(c, 'send_one.py', [name, JSON.stringify(args), opts.countdown === undefined ? '' : String(opts.countdown), opts.queue ?? '', JSON.stringify(opts.kwargs ?? {})]);
}

/** What a worker says about itself through Celery's own remote control (stats, active_queues, registered). */
export async function inspectWorker<T>(c: CeleryEnv, hostname: string, what: 'stats' | 'active_queues' | 'registered'): Promise<T> {
  return JSON.parse(await runApp(c, 'inspect_worker.py', [hostname, what])) as T;
}

/** Sends many tasks in one process; returns their ids in order. */
export async function sendTasks(c: CeleryEnv, tasks: { name: string; args?: unknown[]; kwargs?: Record<string, unknown>; queue?: string; priority?: number }[]): Promise<string[]> {
  return JSON.parse(await runApp(c, 'send_many.py', [JSON.stringify(tasks)])) as string[];
}

/** kombu's sweep of overdue binding tables, run once on the app's Redis broker; returns how many it swept. */
export async function sweepBindings(c: CeleryEnv): Promise<number> {
  return Number(await runApp(c, 'sweep_bindings.py', []));
}
