// A Python test app under tests/engines/<dir>, run from the project's virtualenv for its
// engine: long-running workers (stopped as a process group) and one-shot control scripts
// that print JSON.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const ROOT = new URL('../../../', import.meta.url).pathname;

export const uniqueQueue = (what: string) => `z4j_${what}_${randomBytes(4).toString('hex')}`;

/**
 * The bin directory of an engine's virtualenv: `.venvs/<engine>` (the pinned, newest versions), or
 * under Z4J_TEST_VENVS, e.g. `.venvs/floor` for the oldest versions the agent declares.
 */
export const venvBin = (engine: string) => `${process.env.Z4J_TEST_VENVS || `${ROOT}.venvs`}/${engine}/bin`;

/** The version of a package in an engine's virtualenv, as numbers ([3, 0, 0]): for tests of features only some versions have. */
export function packageVersion(engine: string, pkg: string): number[] {
  const python = `${venvBin(engine)}/python`;
  const r = spawnSync(python, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(pkg)}))`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${pkg} is not installed for ${python}: ${r.stderr}. Run \`bash scripts/setup-python.sh ${engine}\` first.`);
  return r.stdout.trim().split('.').map((part) => Number.parseInt(part, 10) || 0);
}

/** Whether the engine's venv has `pkg` at `minimum` or later (e.g. [5, 7] for 5.7.0 and up). */
export function packageAtLeast(engine: string, pkg: string, minimum: number[]): boolean {
  const version = packageVersion(engine, pkg);
  for (const [i, want] of minimum.entries()) {
    const have = version[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

export interface PyProcess {
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export class PythonApp {
  private readonly dir: string;
  private readonly venv: string;

  constructor(
    private readonly engine: string,
    appDir: string,
    private readonly env: Record<string, string>,
  ) {
    this.dir = `${ROOT}tests/engines/${appDir}`;
    this.venv = venvBin(engine);
  }

  private check(bin: string): void {
    if (!existsSync(`${this.venv}/${bin}`)) throw new Error(`${this.engine} is not installed in ${this.venv}. Run \`bash scripts/setup-python.sh ${this.engine}\` first.`);
  }

  private environment(extra: Record<string, string>): NodeJS.ProcessEnv {
    return { ...process.env, ...this.env, ...extra, PYTHONUNBUFFERED: '1', PYTHONPATH: this.dir };
  }

  /**
   * What a worker of this engine needs to run beside others. Dramatiq 1.x (the floor and mid
   * runs) serves Prometheus metrics from every worker, on port 9191 and from one directory in
   * /tmp by default: two workers at once (Jest runs two suites at a time) collide on the port,
   * a traceback in the second one's output. Each gets an ephemeral port on loopback and a
   * directory of its own (`scratch`, removed when it stops).
   */
  private workerEnvironment(scratch: string | null): Record<string, string> {
    if (scratch === null) return {};
    return { dramatiq_prom_host: '127.0.0.1', dramatiq_prom_port: '0', dramatiq_prom_db: scratch };
  }

  /** Starts `<venv>/<bin> args…` in the app directory, in its own process group. */
  start(bin: string, args: string[], extra: Record<string, string> = {}): PyProcess {
    this.check(bin);
    const scratch = this.engine === 'dramatiq' ? join(tmpdir(), `z4j-test-dramatiq-prometheus-${randomBytes(6).toString('hex')}`) : null;
    const env = this.environment({ ...this.workerEnvironment(scratch), ...extra });
    const proc = spawn(`${this.venv}/${bin}`, args, { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (scratch !== null) proc.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    return {
      process: proc,
      output: () => out,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once('exit', r));
        const group = (sig: NodeJS.Signals) => {
          try {
            process.kill(-proc.pid!, sig); // the whole group: engines fork worker processes
          } catch {
            /* already gone */
          }
        };
        group('SIGTERM');
        const timer = setTimeout(() => group('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      },
    };
  }

  /** Runs `python <script> args…` and parses what it prints as JSON. */
  async run<T>(script: string, args: string[], extra: Record<string, string> = {}): Promise<T> {
    this.check('python');
    const proc = spawn(`${this.venv}/python`, [script, ...args], { cwd: this.dir, env: this.environment(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => proc.on('exit', r));
    if (code !== 0) throw new Error(`${script} ${args.join(' ')} failed (${code}): ${err}`);
    return JSON.parse(out) as T;
  }
}
