// The service's start and stop as a user runs them. When its port is taken: a message that says
// so and what to change, exit 1, instead of a TypeError from reading the address of a server that
// never listened. Started with `npm start`, a SIGTERM to npm stops the service too.
import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = new URL('../dist/main.js', import.meta.url).pathname;

test('a port already in use is named, with what to change', async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the service first (npm run build -w backend)`);
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  const dataDir = mkdtempSync(join(tmpdir(), 'z4j-port-'));
  try {
    const env = { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', Z4J_DATA_DIR: dataDir, Z4J_LOG_LEVEL: 'error' };
    const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `z4j: cannot start: port ${port} on 127.0.0.1 is already in use: stop what listens there, or set PORT to another port\n`,
    });
  } finally {
    taken.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);

/** Whether something accepts connections on the port. */
const listening = (port: number) => new Promise<boolean>((resolve) => {
  const socket = connect(port, '127.0.0.1');
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
});

test('a SIGTERM to `npm start` stops the service it started, not only npm', async () => {
  const free: Server = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as { port: number }).port;
  await new Promise((resolve) => free.close(resolve));
  const dataDir = mkdtempSync(join(tmpdir(), 'z4j-start-'));
  const root = new URL('../..', import.meta.url).pathname;
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', Z4J_DATA_DIR: dataDir, Z4J_LOG_LEVEL: 'error' };
  const npm = spawn('npm', ['start'], { cwd: root, env, stdio: 'ignore' });
  let started: number[] = [];
  try {
    const deadline = Date.now() + 150_000; // it builds the service first
    while (!(await listening(port))) {
      if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not listen on ${port} (exit ${npm.exitCode})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    started = descendants(npm.pid!); // before the signal: a child npm leaves behind is no longer its own
    npm.kill('SIGTERM');
    const stopped = Date.now() + 15_000;
    while ((await listening(port)) && Date.now() < stopped) await new Promise((r) => setTimeout(r, 250));
    expect(await listening(port)).toBe(false);
  } finally {
    // Whatever is left of it (all of it when the test fails), so that nothing keeps the port.
    for (const pid of [...started, ...descendants(npm.pid!), npm.pid!]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 200_000);

function descendants(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  const children = out.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  return children.flatMap((child) => [...descendants(child), child]);
}
