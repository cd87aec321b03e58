// The Python agent and the service agree on the wire: lifecycles the real z4j_agent package
// signs and publishes (Redis Stream, and HTTP) are verified, stored, and their payloads sealed
// exactly — including non-ASCII text — while secrets never reach a readable column.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { payloadAad } from '../src/actions/payloads.js';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { agentKeyEntry, testAgent } from './helpers/agentBatches.js';
import { TEST_PROXY_SECRET } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';
import { venvBin } from './helpers/pyapp.js';

jest.setTimeout(120_000);

const PYTHON = `${venvBin('celery')}/python`;
// A Redis DB of its own: a service consumes every agent stream in its DB (db 8 is agent.ingest's).
const REDIS_URL = process.env.Z4J_TEST_AGENT_PYTHON_REDIS_URL ?? 'redis://127.0.0.1:6379/17';

async function python(script: string, env: Record<string, string>): Promise<void> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash scripts/setup-python.sh celery\``);
  const proc = spawn(PYTHON, ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`python failed (${code}): ${err}`);
}

const EMIT = `
import os, z4j_agent
a = z4j_agent.get_agent()
tid, name = os.environ["TASK_ID"], "billing.charge"
payload = {"name": name, "args": ["Zoë", 42], "kwargs": {"password": "hunter2-secret", "note": "日本語"}, "queue": "billing"}
a.task_event("rq", "enqueued", tid, fields={"name": name, "queue": "billing", "args": payload["args"], "kwargs": payload["kwargs"], "retries": 0}, payload=payload)
a.task_event("rq", "started", tid, fields={"name": name, "retries": 0}, worker="w1")
a.task_event("rq", "succeeded", tid, fields={"name": name, "result": {"ok": True}, "runtime": 0.01, "retries": 0}, worker="w1")
assert a.flush(10), a.stats()
`;

describe('the Python agent, end to end', () => {
  const agent = testAgent();
  let svc: Service;
  beforeAll(async () => {
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('py_agent'),
      Z4J_AGENT_REDIS_URLS: [REDIS_URL], Z4J_AGENT_KEYS: [agentKeyEntry(agent)], Z4J_CELERY_BROKERS: [],
      Z4J_INGEST_FLUSH_MS: 20, Z4J_PROXY_SECRET: TEST_PROXY_SECRET,
    }), { log: pino({ level: 'silent' }) });
  });
  afterAll(() => svc?.stop());

  test.each(['redis', 'http'])('over %s', async (transport) => {
    const taskId = randomUUID();
    const target: Record<string, string> = transport === 'redis' ? { Z4J_BROKER_URL: REDIS_URL } : { Z4J_TRANSPORT: 'http', Z4J_HTTP_URL: svc.url };
    await python(EMIT, { TASK_ID: taskId, Z4J_AGENT_ID: agent.id, Z4J_AGENT_SECRET: agent.secret, Z4J_PROJECT: agent.project, ...target });
    const task = await eventually(async () => {
      const row = (await svc.db.query<{ state: string; args: unknown; kwargs: Record<string, unknown>; project_id: number }>(
        'SELECT state, args, kwargs, project_id FROM tasks WHERE task_id = $1', [taskId])).rows[0];
      // Waits for the enqueue too: the agent may send it in another batch than the outcome, and
      // the service stores batches in the order their checks finish.
      if (row?.state !== 'succeeded' || row.args === null) throw new Error(`task is ${row?.state}${row && row.args === null ? ', its enqueue not stored' : ''}`);
      return row;
    }, 60_000, 200);
    expect(task.args).toEqual(['Zoë', 42]);
    expect(task.kwargs).toEqual({ password: '[redacted]', note: '日本語' });
    const sealed = (await svc.db.query<{ sealed: Buffer }>('SELECT sealed_payload AS sealed FROM tasks WHERE task_id = $1', [taskId])).rows[0]!;
    const payload = JSON.parse(svc.sealer.open(Buffer.from(sealed.sealed), payloadAad(task.project_id, 'rq', taskId)).toString());
    expect(payload).toEqual({ name: 'billing.charge', args: ['Zoë', 42], kwargs: { password: 'hunter2-secret', note: '日本語' }, queue: 'billing' });
    const clear = await svc.db.query(`SELECT 1 FROM task_events WHERE task_id = $1 AND fields::text LIKE '%hunter2%'`, [taskId]);
    expect(clear.rows).toHaveLength(0);
  });
});
