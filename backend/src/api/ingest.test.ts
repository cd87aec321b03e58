// HTTP agent ingest on both storages: payloads sealed into their task's row (bytea arrays bind on
// pg and PGlite alike), events stored, replays refused.
import request from 'supertest';
import { payloadAad } from '../actions/payloads.js';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { agentKeyEntry, batchOf, lifecycle, testAgent, type TestAgent } from '../../test/helpers/agentBatches.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb, STORAGES, type StorageKind } from '../../test/helpers/storage.js';

type Service = ReturnType<typeof testApp> & { db: Db; agent: TestAgent; post: (b: { body: Buffer; sig: string }) => request.Test };

/** A service on its own database with one agent of `project` (made first when not the default), for `run`. */
async function withService(storage: StorageKind, label: string, project: string | undefined, run: (s: Service) => Promise<void>): Promise<void> {
  const db = await openTestDb(storage, label);
  if (project) await db.query(`INSERT INTO projects (slug, name) VALUES ($1, $1)`, [project]);
  const agent = testAgent(project);
  const service = testApp(db, { config: { Z4J_AGENT_KEYS: [agentKeyEntry(agent)] } });
  const post = (b: { body: Buffer; sig: string }) =>
    request(service.app).post('/api/ingest/v1/batches').set('content-type', 'application/json').set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'));
  service.pipeline.start();
  try {
    await run({ ...service, db, agent, post });
  } finally {
    await service.pipeline.stop();
    await db.close();
  }
}

/** `db` as replicas share it, where the first `n` replay checks (agentIngest's lookup of a nonce) are answered only once all `n` were asked. */
function replayChecksMeet(db: Db, n: number): Db {
  let waiting = n;
  let meet!: () => void;
  const met = new Promise<void>((resolve) => (meet = resolve));
  return {
    storage: db.storage,
    query: async (sql, params, options) => {
      if (options?.name === 'z4j_agent_batch_seen' && waiting > 0) {
        if (--waiting === 0) meet();
        await met;
      }
      return db.query(sql, params, options);
    },
    exec: (sql) => db.exec(sql),
    ...(db.copyFrom ? { copyFrom: db.copyFrom.bind(db) } : {}),
    transaction: (fn, prelude) => db.transaction(fn, prelude),
    close: () => db.close(),
  } as Db;
}

describe.each(STORAGES)('HTTP agent ingest on %s', (storage) => {
  test('stores a batch once, with its payload sealed', () =>
    withService(storage, 'http_ingest', undefined, async ({ db, ctx, agent, post }) => {
      const payload = { name: 'tasks.add', args: [1, 2], kwargs: { token: 'sk_live_abcdefghijklmnop' }, queue: 'default' };
      const b = batchOf(agent, lifecycle(agent, 'huey', 'task-1', 'succeeded', payload));
      expect((await post(b)).status).toBe(202);
      expect((await post(b)).status).toBe(409);
      const row = (await db.query<{ project_id: number; sealed: Buffer }>("SELECT project_id, sealed_payload AS sealed FROM tasks WHERE task_id = 'task-1'")).rows[0]!;
      expect(JSON.parse(ctx.sealer.open(Buffer.from(row.sealed), payloadAad(row.project_id, 'huey', 'task-1')).toString())).toEqual(payload);
      expect((await db.query<{ state: string }>("SELECT state FROM tasks WHERE task_id = 'task-1'")).rows[0]!.state).toBe('succeeded');
    }));

  test('a report it cannot store is skipped, not the batch whose events are already stored', () =>
    withService(storage, 'http_ingest_reports', undefined, async ({ db, agent, post }) => {
      const at = Date.now();
      const reports = [
        { v: 1, type: 'worker', id: 'w-nul', project: agent.project, kind: 'worker-heartbeat', engine: 'hu\u0000ey', worker: 'w1@host', occurredAt: at, fields: { commands: { actions: ['retry'] } } },
        { v: 1, type: 'command', id: 'c-nul', project: agent.project, command: 1, commandId: 'ref\u0000x', state: 'succeeded', occurredAt: at },
        { v: 1, type: 'command', id: 'c-time', project: agent.project, command: 2, commandId: 'ref-2', state: 'failed', occurredAt: 'x\u0000', worker: 'w\u0000', detail: { message: 'no' } },
      ];
      const b = batchOf(agent, [...lifecycle(agent, 'huey', 'task-r', 'succeeded', { name: 'tasks.add' }, at), ...reports]);
      const first = await post(b);
      expect([first.status, first.body]).toEqual([202, { accepted: 4 }]); // the lifecycle's three events and the worker's
      expect((await post(b)).status).toBe(409); // its nonce was recorded
      expect((await db.query<{ state: string }>("SELECT state FROM tasks WHERE task_id = 'task-r'")).rows[0]!.state).toBe('succeeded');
    }));

  test('two replicas given the same batch at once accept it once', () =>
    withService(storage, 'http_ingest_replicas', undefined, async ({ db, agent }) => {
      // Each replica's replay check waits for the other's: both ask before either has stored the batch.
      const shared = replayChecksMeet(db, 2);
      const replicas = [0, 1].map(() => testApp(shared, { config: { Z4J_AGENT_KEYS: [agentKeyEntry(agent)] } }));
      for (const r of replicas) r.pipeline.start();
      try {
        const b = batchOf(agent, lifecycle(agent, 'huey', 'task-twice', 'succeeded', { name: 'tasks.add' }));
        const answers = await Promise.all(replicas.map((r) => request(r.app).post('/api/ingest/v1/batches').set('content-type', 'application/json')
          .set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'))));
        expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
        expect((await db.query<{ batches: number }>('SELECT batches::int FROM agent_status WHERE agent_id = $1', [agent.id])).rows).toEqual([{ batches: 1 }]);
      } finally {
        for (const r of replicas) await r.pipeline.stop();
      }
    }));

  test('a deleted project\'s agent is refused from the moment it is deleted', () =>
    withService(storage, 'http_ingest_deleted', 'gone', async ({ app, agent, post }) => {
      expect((await post(batchOf(agent, lifecycle(agent, 'huey', 'before', 'succeeded', { name: 'tasks.add' })))).status).toBe(202);
      await request(app).delete('/api/projects/gone').set(authHeaders('owner')).expect(204);
      const after = await post(batchOf(agent, lifecycle(agent, 'huey', 'after', 'succeeded', { name: 'tasks.add' })));
      expect([after.status, after.body.error?.code]).toEqual([400, 'UNKNOWN_PROJECT']);
    }));
});
