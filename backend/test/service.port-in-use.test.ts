// The service's start when its port is taken: a message that says so and what to change, exit 1,
// instead of a TypeError from reading the address of a server that never listened.
import { spawn } from 'node:child_process';
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
