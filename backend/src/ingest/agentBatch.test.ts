import { StaticAgentKeyStore } from './agentKeys.js';
import { MAX_BATCH_BYTES, signBatch, verifyAgentBatch } from './agentBatch.js';

const secret = Buffer.from('s3cret-s3cret-s3cret');
const rotated = Buffer.from('the-new-secret-after-rotation');
const keys = new StaticAgentKeyStore([
  { agentId: 'agent-1', project: 'default', secrets: [secret] },
  { agentId: 'agent-2', project: 'default', secrets: [rotated, secret] },
]);
const event = (over: object = {}) => ({ v: 1, id: 'e1', type: 'task', engine: 'rq', project: 'default', kind: 'enqueued', taskId: 't1', occurredAt: Date.now(), fields: {}, ...over });
const batch = (over: object = {}) => Buffer.from(JSON.stringify({ v: 1, agent: 'agent-1', project: 'default', sentAt: Date.now(), nonce: '0123456789abcdef0123456789abcdef', seq: 1, dropped: 0, events: [event()], ...over }));
const verify = (body: Buffer, agent = 'agent-1', key = secret, opts = {}) => verifyAgentBatch(body, agent, signBatch(body, key), keys, opts);

describe('agent batch verification', () => {
  test('a well-signed batch is accepted', async () => {
    const r = await verify(batch());
    expect(r.ok && r.batch.events).toHaveLength(1);
  });

  test('the signature covers the exact bytes', async () => {
    const body = batch();
    const sig = signBatch(body, secret);
    const reordered = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(await verifyAgentBatch(reordered, 'agent-1', sig, keys)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  test('wrong secret, unknown agent, malformed signature', async () => {
    expect(await verify(batch(), 'agent-1', Buffer.from('not-the-secret'))).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await verify(batch({ agent: 'ghost' }), 'ghost')).toMatchObject({ ok: false, reason: 'unknown_agent' });
    expect(await verifyAgentBatch(batch(), 'agent-1', 'zz', keys)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await verifyAgentBatch(batch(), '../../etc', 'aa', keys)).toMatchObject({ ok: false, reason: 'unknown_agent' });
  });

  test('during a rotation both secrets are accepted', async () => {
    expect((await verify(batch({ agent: 'agent-2' }), 'agent-2', rotated)).ok).toBe(true);
    expect((await verify(batch({ agent: 'agent-2' }), 'agent-2', secret)).ok).toBe(true);
  });

  test('project and agent must be the signer’s, on the batch and on every event', async () => {
    expect(await verify(batch({ project: 'other' }))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ events: [event(), event({ project: 'other' })] }))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ agent: 'agent-2' }))).toMatchObject({ reason: 'bad_batch' });
  });

  test('malformed, wrong version, too many events, too big, stale', async () => {
    expect(await verify(Buffer.from('{not json'))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ v: 2 }))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ nonce: 'short' }))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ events: Array.from({ length: 1001 }, () => event()) }))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(Buffer.alloc(MAX_BATCH_BYTES + 1, 32))).toMatchObject({ reason: 'bad_batch' });
    expect(await verify(batch({ sentAt: Date.now() - 10 * 60_000 }), 'agent-1', secret, { staleMs: 300_000 })).toMatchObject({ reason: 'stale' });
    expect((await verify(batch({ sentAt: Date.now() - 10 * 60_000 }))).ok).toBe(true); // broker backlog: old is fine
  });
});
