// A command a worker took but never answered (it crashed with it) ends timed out through the
// service's own reconciliation loop, not stuck dispatched: visible through the API, and audited.
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { createCommand, transition } from '../src/actions/commands.js';
import { loadConfig } from '../src/config.js';
import { startService, type Service } from '../src/service.js';
import { authHeaders, TEST_PROXY_SECRET } from './helpers/auth.js';
import { createTestDatabase } from './helpers/storage.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(60_000);

describe('an unanswered command', () => {
  let svc: Service;

  beforeAll(async () => {
    svc = await startService(loadConfig({}, {
      PORT: 0, HOST: '127.0.0.1', DATABASE_URL: await createTestDatabase('command_timeout'),
      Z4J_CELERY_BROKERS: [], Z4J_PROXY_SECRET: TEST_PROXY_SECRET, Z4J_COMMAND_TIMEOUT: 5,
    }), { log: pino({ level: 'warn' }) });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  test('times out after Z4J_COMMAND_TIMEOUT, through the API and in the audit log', async () => {
    const projectId = (await svc.db.query<{ id: number }>("SELECT id::int AS id FROM projects WHERE slug = 'default'")).rows[0]!.id;
    // As the actions leave a command a worker's agent took: dispatched, waiting for its report.
    const { command } = await createCommand(svc.db, { projectId, idempotencyKey: randomUUID(), kind: 'task.retry', engine: 'arq', target: 'crashed-job', args: {}, requestedBy: 'otto' });
    await transition(svc.db, command.id, 'dispatched', { worker: 'arq-worker-1' });
    const started = Date.now();
    const seen = await eventually(async () => {
      const res = await fetch(`${svc.url}/api/commands/${command.id}`, { headers: authHeaders('viewer') });
      const body = (await res.json()) as { command: { state: string; outcome: Record<string, unknown> } };
      if (body.command.state === 'dispatched') throw new Error('still dispatched');
      return body.command;
    }, 30_000, 500);
    expect(seen).toMatchObject({ state: 'timed_out', outcome: { worker: 'arq-worker-1', message: 'no confirmation from the engine in time' } });
    expect(Date.now() - started).toBeLessThan(15_000);
    const audited = await svc.db.query<{ action: string; outcome: string; actor_kind: string; detail: Record<string, unknown> }>(
      'SELECT action, outcome, actor_kind, detail FROM audit_log WHERE project_id = $1 AND target = $2', [projectId, 'arq/crashed-job'],
    );
    expect(audited.rows).toEqual([expect.objectContaining({ action: 'task.retry', outcome: 'error', actor_kind: 'system', detail: expect.objectContaining({ commandId: command.id, state: 'timed_out' }) })]);
  });
});
