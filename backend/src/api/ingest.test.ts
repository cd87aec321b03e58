// HTTP agent ingest on both storages: payloads sealed into their task's row (bytea arrays bind on
// pg and PGlite alike), events stored, replays refused.
import request from 'supertest';
import { payloadAad } from '../actions/payloads.js';
import { testApp } from '../../test/helpers/api.js';
import { agentKeyEntry, batchOf, lifecycle, testAgent } from '../../test/helpers/agentBatches.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb, STORAGES } from '../../test/helpers/storage.js';

describe.each(STORAGES)('HTTP agent ingest on %s', (storage) => {
  test('stores a batch once, with its payload sealed', async () => {
    const db = await openTestDb(storage, 'http_ingest');
    const agent = testAgent();
    const { app, ctx, pipeline } = testApp(db, { config: { Z4J_AGENT_KEYS: [agentKeyEntry(agent)] } });
    pipeline.start();
    try {
      const payload = { name: 'tasks.add', args: [1, 2], kwargs: { token: 'sk_live_abcdefghijklmnop' }, queue: 'default' };
      const b = batchOf(agent, lifecycle(agent, 'huey', 'task-1', 'succeeded', payload));
      const post = () => request(app).post('/api/ingest/v1/batches').set('content-type', 'application/json').set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'));
      expect((await post()).status).toBe(202);
      expect((await post()).status).toBe(409);
      const row = (await db.query<{ project_id: number; sealed: Buffer }>("SELECT project_id, sealed_payload AS sealed FROM tasks WHERE task_id = 'task-1'")).rows[0]!;
      expect(JSON.parse(ctx.sealer.open(Buffer.from(row.sealed), payloadAad(row.project_id, 'huey', 'task-1')).toString())).toEqual(payload);
      expect((await db.query<{ state: string }>("SELECT state FROM tasks WHERE task_id = 'task-1'")).rows[0]!.state).toBe('succeeded');
    } finally {
      await pipeline.stop();
      await db.close();
    }
  });

  test('a report it cannot store is skipped, not the batch whose events are already stored', async () => {
    const db = await openTestDb(storage, 'http_ingest_reports');
    const agent = testAgent();
    const { app, pipeline } = testApp(db, { config: { Z4J_AGENT_KEYS: [agentKeyEntry(agent)] } });
    pipeline.start();
    try {
      const at = Date.now();
      const reports = [
        { v: 1, type: 'worker', id: 'w-nul', project: agent.project, kind: 'worker-heartbeat', engine: 'hu\u0000ey', worker: 'w1@host', occurredAt: at, fields: { commands: { actions: ['retry'] } } },
        { v: 1, type: 'command', id: 'c-nul', project: agent.project, command: 1, commandId: 'ref\u0000x', state: 'succeeded', occurredAt: at },
        { v: 1, type: 'command', id: 'c-time', project: agent.project, command: 2, commandId: 'ref-2', state: 'failed', occurredAt: 'x\u0000', worker: 'w\u0000', detail: { message: 'no' } },
      ];
      const b = batchOf(agent, [...lifecycle(agent, 'huey', 'task-r', 'succeeded', { name: 'tasks.add' }, at), ...reports]);
      const post = () => request(app).post('/api/ingest/v1/batches').set('content-type', 'application/json').set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'));
      const first = await post();
      expect([first.status, first.body]).toEqual([202, { accepted: 4 }]); // the lifecycle's three events and the worker's
      expect((await post()).status).toBe(409); // its nonce was recorded
      expect((await db.query<{ state: string }>("SELECT state FROM tasks WHERE task_id = 'task-r'")).rows[0]!.state).toBe('succeeded');
    } finally {
      await pipeline.stop();
      await db.close();
    }
  });

  test('a deleted project\'s agent is refused from the moment it is deleted', async () => {
    const db = await openTestDb(storage, 'http_ingest_deleted');
    await db.query(`INSERT INTO projects (slug, name) VALUES ('gone', 'Gone')`);
    const agent = testAgent('gone');
    const { app, pipeline } = testApp(db, { config: { Z4J_AGENT_KEYS: [agentKeyEntry(agent)] } });
    pipeline.start();
    try {
      const post = (taskId: string) => {
        const b = batchOf(agent, lifecycle(agent, 'huey', taskId, 'succeeded', { name: 'tasks.add' }));
        return request(app).post('/api/ingest/v1/batches').set('content-type', 'application/json').set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'));
      };
      expect((await post('before')).status).toBe(202);
      await request(app).delete('/api/projects/gone').set(authHeaders('owner')).expect(204);
      const after = await post('after');
      expect([after.status, after.body.error?.code]).toEqual([400, 'UNKNOWN_PROJECT']);
    } finally {
      await pipeline.stop();
      await db.close();
    }
  });
});
