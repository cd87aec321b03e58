import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Db } from '../db/db.js';
import type { EngineDriver } from '../engines/driver.js';
import { StaticAgentKeyStore } from '../ingest/agentKeys.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { AgentCommands, commandQueue, NoAgentRoute, recordAgentReports, signCommand, splitAgentReports } from './agentCommands.js';
import { createCommand, reconcileCommands } from './commands.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
let db: Db;
let n = 0;
const secret = Buffer.from('the-agents-secret-0123456789');
const keys = new StaticAgentKeyStore([{ agentId: 'agent-a', project: 'default', secrets: [secret] }]);

async function online(worker: string, agentId = 'agent-a', actions = ['retry', 'terminate'], queues = ['q1'], channel = 'redis'): Promise<void> {
  await db.query(
    `INSERT INTO workers (project_id, engine, hostname, online, first_seen_at, last_seen_at, heartbeat_s) VALUES (1, 'huey', $1, true, now(), now(), 1)
     ON CONFLICT (project_id, engine, hostname) DO UPDATE SET online = true, last_seen_at = now()`,
    [worker],
  );
  const ann = { v: 1, type: 'worker', kind: 'worker-heartbeat', engine: 'huey', worker, fields: { commands: { channel, actions, queues } } };
  await recordAgentReports(db, 1, agentId, [], [ann]);
}

function fakeDriver(commandChannel?: 'redis' | 'amqp'): EngineDriver & { delivered: { project: string; worker: string; signed: string; ttlS: number }[] } {
  const delivered: { project: string; worker: string; signed: string; ttlS: number }[] = [];
  return { engine: 'huey', capabilities: {}, commandChannel, delivered, deliverAgentCommand: async (project, worker, signed, ttlS) => void delivered.push({ project, worker, signed, ttlS }) };
}

/** A terminate sent to a live worker's agent: the command and its delivery id (what the agent reports back). */
async function terminateSentTo(worker: string) {
  await online(worker);
  const driver = fakeDriver();
  const cmd = await newCommand();
  await new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, cmd, Date.now() + 60_000).send('terminate', { taskId: 't' }, { worker });
  return { cmd, ref: JSON.parse(JSON.parse(driver.delivered[0]!.signed).command).id as string };
}

async function newCommand(kind = 'task.terminate') {
  return (await createCommand(db, { projectId: 1, idempotencyKey: `k-${++n}`, kind, engine: 'huey', target: `t-${n}`, args: {}, requestedBy: 'otto' })).command;
}

beforeAll(async () => {
  db = await openTestDb('pglite', 'agent_commands');
});
afterAll(() => db.close());

describe('the agent command channel, service side', () => {
  test('a command goes to the named live worker, signed with its agent’s key, and is recorded as dispatched first', async () => {
    await online('w-term');
    const driver = fakeDriver();
    const cmd = await newCommand();
    const channel = new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, cmd, Date.now() + 60_000);
    expect(await channel.send('terminate', { taskId: 't' }, { worker: 'w-term' })).toEqual({ worker: 'w-term' });
    const [d] = driver.delivered;
    expect([d!.project, d!.worker]).toEqual(['default', 'w-term']);
    expect(d!.ttlS).toBeGreaterThan(55);
    const { command, sigs } = JSON.parse(d!.signed) as { command: string; sigs: string[] };
    expect(sigs).toEqual(signCommand(command, [secret]));
    expect(JSON.parse(command)).toMatchObject({ v: 1, command: cmd.id, agent: 'agent-a', worker: 'w-term', engine: 'huey', action: 'terminate', args: { taskId: 't' } });
    const row = (await db.query<{ state: string; outcome: Record<string, unknown> }>('SELECT state, outcome FROM commands WHERE id = $1', [cmd.id])).rows[0]!;
    expect(row.state).toBe('dispatched');
    expect(row.outcome).toMatchObject({ via: 'agent', agent: 'agent-a', worker: 'w-term', ref: JSON.parse(command).id });
  });

  test('the signature is the one the Python agent checks', () => {
    const python = `${ROOT}.venvs/huey/bin/python`;
    if (!existsSync(python)) throw new Error('run scripts/setup-python.sh huey');
    const text = '{"v":1,"id":"x","note":"ünïcode"}';
    const out = execFileSync(python, ['-c', 'import sys; from z4j_agent.commands import sign_command; print(sign_command(sys.argv[1].encode(), sys.argv[2]))', text, secret.toString()], { env: { ...process.env, PYTHONPATH: `${ROOT}agent/src` } });
    expect(out.toString().trim()).toBe(signCommand(text, [secret])[0]);
  });

  test("a worker's RabbitMQ command queue is named as the Python agent names it (a digest past 255 bytes)", () => {
    expect(commandQueue('unit', 'dramatiq@host:12')).toBe('z4j.commands.unit.dramatiq@host:12');
    // agent/tests/unit/test_commands_amqp.py has the same vector.
    expect(commandQueue('unit', 'w'.repeat(300))).toBe('z4j.commands.9b5a2f60eed8c30ca7febdf729e189df37d665c3452aecbff0a08640b05a98c8');
  });

  test('a command goes only to workers whose agent takes commands on the broker the driver reaches', async () => {
    await online('w-rabbit', 'agent-a', ['retry'], ['q-broker'], 'amqp');
    const channel = (driver: EngineDriver) => new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, { id: 1 } as never, Date.now() + 60_000);
    await expect(channel(fakeDriver('redis')).send('retry', {}, { worker: 'w-rabbit' })).rejects.toThrow(/on Redis, the broker z4j reaches huey on/);
    await expect(channel(fakeDriver('redis')).send('retry', {}, { queue: 'q-broker' })).rejects.toThrow(/no live huey worker .* on Redis/);
    expect(await channel(fakeDriver('amqp')).send('retry', {}, { queue: 'q-broker' })).toEqual({ worker: 'w-rabbit' });
    expect(await channel(fakeDriver()).send('retry', {}, { queue: 'q-broker' })).toEqual({ worker: 'w-rabbit' }); // a driver that does not say
  });

  test('a retry goes to a live worker serving the queue; nobody there, or an agent that cannot, is a plain refusal', async () => {
    await online('w-q2', 'agent-a', ['retry'], ['q2']);
    const driver = fakeDriver();
    const channel = () => new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, { id: 1 } as never, Date.now() + 60_000);
    expect(await channel().send('retry', {}, { queue: 'q2' })).toEqual({ worker: 'w-q2' });
    await expect(channel().send('retry', {}, { queue: 'nobody-serves-this' })).rejects.toThrow(NoAgentRoute);
    await expect(channel().send('terminate', {}, { worker: 'w-q2' })).rejects.toThrow(/cannot terminate/);
    await db.query(`UPDATE workers SET online = false WHERE hostname = 'w-q2'`);
    await expect(channel().send('retry', {}, { queue: 'q2' })).rejects.toThrow(/no live huey worker/);
    await online('w-revoked', 'agent-gone', ['retry'], ['q3']);
    await expect(channel().send('retry', {}, { queue: 'q3' })).rejects.toThrow(/unknown or revoked/);
  });

  test('an outcome settles the command only from the agent it was sent to, with its delivery id, once', async () => {
    const { cmd, ref } = await terminateSentTo('w-settle');
    const outcome = (commandId: string, state: string, detail: Record<string, unknown> = {}) => ({ v: 1, type: 'command', commandId, command: cmd.id, state, detail, occurredAt: Date.now() });
    expect(await recordAgentReports(db, 1, 'agent-other', [outcome(ref, 'succeeded')], [])).toBe(0);
    expect(await recordAgentReports(db, 1, 'agent-a', [outcome('another-delivery', 'succeeded')], [])).toBe(0);
    expect(await recordAgentReports(db, 1, 'agent-a', [outcome(ref, 'succeeded', { stopped: true, agent: 'forged', note: 'via redis://:hunter2pass@cache:6379/0', api_key: 'k-123' })], [])).toBe(1);
    expect(await recordAgentReports(db, 1, 'agent-a', [outcome(ref, 'failed')], [])).toBe(0);
    const row = (await db.query<{ state: string; outcome: Record<string, unknown> }>('SELECT state, outcome FROM commands WHERE id = $1', [cmd.id])).rows[0]!;
    expect(row.state).toBe('succeeded');
    expect(row.outcome).toMatchObject({ stopped: true, agent: 'agent-a', message: 'the z4j agent ran it', api_key: '[redacted]', reportedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    expect(JSON.stringify(row.outcome)).not.toMatch(/hunter2pass|k-123/); // what an agent reports is scrubbed like task payload
  });

  test('a report that comes after the command timed out still settles it, marked late, and is audited again', async () => {
    const { cmd, ref } = await terminateSentTo('w-late');
    const audited: { action: string; outcome: string }[] = [];
    const audit = { append: async (e: { action: string; outcome: string }) => void audited.push({ action: e.action, outcome: e.outcome }) };
    await db.query(`UPDATE commands SET created_at = now() - interval '10 minutes' WHERE id = $1`, [cmd.id]);
    expect(await reconcileCommands(db, 120, audit)).toBeGreaterThanOrEqual(1);
    expect(audited).toContainEqual({ action: 'task.terminate', outcome: 'error' });

    const report = { v: 1, type: 'command', commandId: ref, command: cmd.id, state: 'succeeded', detail: { message: 'terminated' }, occurredAt: Date.now() };
    expect(await recordAgentReports(db, 1, 'agent-a', [report], [], audit)).toBe(1);
    const row = (await db.query<{ state: string; outcome: Record<string, unknown> }>('SELECT state, outcome FROM commands WHERE id = $1', [cmd.id])).rows[0]!;
    expect(row).toMatchObject({ state: 'succeeded', outcome: { reportedLate: true, message: 'terminated (reported after the command had timed out)' } });
    expect(audited.at(-1)).toEqual({ action: 'task.terminate', outcome: 'ok' });
    expect(await recordAgentReports(db, 1, 'agent-a', [{ ...report, state: 'failed' }], [], audit)).toBe(0); // settled for good now
  });

  describe('a command to every live worker of a queue (cancel)', () => {
    const audited: { action: string; outcome: string; detail: Record<string, unknown> | null | undefined }[] = [];
    const audit = { append: async (e: { action: string; outcome: string; detail?: Record<string, unknown> | null }) => void audited.push({ action: e.action, outcome: e.outcome, detail: e.detail }) };
    const reply = (cmd: { id: number }, delivered: { worker: string; signed: string }, state: string, detail: Record<string, unknown> = {}) =>
      ({ v: 1, type: 'command', worker: delivered.worker, commandId: JSON.parse(JSON.parse(delivered.signed).command).id as string, command: cmd.id, state, detail, occurredAt: Date.now() });
    const stateOf = async (id: number) => (await db.query<{ state: string; outcome: Record<string, unknown> }>('SELECT state, outcome FROM commands WHERE id = $1', [id])).rows[0]!;
    const sendToAll = async (queue: string) => {
      const driver = fakeDriver();
      const cmd = await newCommand('task.cancel');
      const sent = await new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, cmd, Date.now() + 60_000).sendToAll('cancel', { taskId: cmd.target }, queue);
      return { cmd, sent, delivered: driver.delivered };
    };

    beforeAll(async () => {
      await online('w-c1', 'agent-a', ['cancel', 'terminate'], ['qc']);
      await online('w-c2', 'agent-a', ['cancel'], []); // serves any queue
      await online('w-old', 'agent-a', ['terminate'], ['qc']); // an agent without cancel
      await online('w-other', 'agent-a', ['cancel'], ['elsewhere']);
    });

    test('goes to each of them, signed, says which live workers it could not reach, and succeeds with the first that took it (audited)', async () => {
      const { cmd, sent, delivered } = await sendToAll('qc');
      expect([sent.workers.sort(), sent.notReached]).toEqual([['w-c1', 'w-c2'], ['w-old']]);
      expect(delivered.map((d) => JSON.parse(JSON.parse(d.signed).command)).map((c) => [c.worker, c.action, c.args.taskId])).toEqual(
        delivered.map((d) => [d.worker, 'cancel', cmd.target]));
      expect((await stateOf(cmd.id)).state).toBe('dispatched');
      const [first, second] = delivered;
      expect(await recordAgentReports(db, 1, 'agent-other', [reply(cmd, first!, 'succeeded')], [], audit)).toBe(0); // not its agent
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, first!, 'succeeded', { remembered: true, message: 'skips it' })], [], audit)).toBe(1);
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, second!, 'succeeded', { remembered: true })], [], audit)).toBe(0); // settled already
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, second!, 'failed', { code: 'EXPIRED' })], [], audit)).toBe(0); // so is a refusal
      expect(await stateOf(cmd.id)).toMatchObject({ state: 'succeeded', outcome: { takenBy: first!.worker, message: `${first!.worker} took it: skips it`, remembered: true } });
      expect(audited.at(-1)).toEqual({ action: 'task.cancel', outcome: 'ok', detail: expect.objectContaining({ commandId: cmd.id, state: 'succeeded' }) });
    });

    test('a worker that has the task in its hands fails it, even after another said it would skip it (audited again)', async () => {
      const { cmd, delivered } = await sendToAll('qc');
      const [first, second] = delivered;
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, first!, 'succeeded', { remembered: true, message: 'skips it' })], [], audit)).toBe(1);
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, second!, 'failed', { code: 'STARTED', message: 'already taken by its receiver' })], [], audit)).toBe(1);
      expect(await stateOf(cmd.id)).toMatchObject({ state: 'failed', outcome: {
        code: 'STARTED', message: `${second!.worker}: already taken by its receiver (${first!.worker} had said it would skip it; the task was in ${second!.worker}'s hands)` } });
      expect(audited.slice(-2).map((a) => a.outcome)).toEqual(['ok', 'error']);
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, first!, 'failed', { code: 'STARTED' })], [], audit)).toBe(0); // failed for good
    });

    test('a worker where the task already started fails it, saying so', async () => {
      const { cmd, delivered } = await sendToAll('qc');
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, delivered[0]!, 'failed', { code: 'STARTED', message: 'already started in this worker' })], [], audit)).toBe(1);
      expect(await stateOf(cmd.id)).toMatchObject({ state: 'failed', outcome: { code: 'STARTED', message: `${delivered[0]!.worker}: already started in this worker` } });
      expect(audited.at(-1)).toMatchObject({ action: 'task.cancel', outcome: 'error' });
    });

    test('other refusals wait for the rest, and fail it once every worker refused', async () => {
      const { cmd, delivered } = await sendToAll('qc');
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, delivered[0]!, 'failed', { code: 'EXPIRED', message: 'expired' })], [])).toBe(0);
      expect((await stateOf(cmd.id)).state).toBe('dispatched');
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, delivered[1]!, 'failed', { message: 'cannot' })], [])).toBe(1);
      const row = await stateOf(cmd.id);
      expect(row.state).toBe('failed');
      expect(String(row.outcome.message)).toMatch(/^no worker took it: /);
    });

    test('a worker it could not be delivered to is not waited for, and is named', async () => {
      const driver = fakeDriver();
      const deliver = driver.deliverAgentCommand!;
      driver.deliverAgentCommand = async (project, worker, signed, ttlS) => {
        if (worker === 'w-c2') throw new Error('no queue z4j.commands.default.w-c2');
        await deliver(project, worker, signed, ttlS);
      };
      const cmd = await newCommand('task.cancel');
      const sent = await new AgentCommands(db, keys).channel(driver, { id: 1, slug: 'default' }, cmd, Date.now() + 60_000).sendToAll('cancel', { taskId: cmd.target }, 'qc');
      expect(sent).toEqual({ workers: ['w-c1'], notReached: ['w-old', 'w-c2'] });
      expect((await stateOf(cmd.id)).outcome).toMatchObject({ workers: ['w-c1'], notReached: ['w-old', 'w-c2'] });
      expect(Object.keys((await stateOf(cmd.id)).outcome.refs as object)).toHaveLength(1);
      expect(await recordAgentReports(db, 1, 'agent-a', [reply(cmd, driver.delivered[0]!, 'failed', { message: 'cannot' })], [])).toBe(1);
      expect((await stateOf(cmd.id)).state).toBe('failed');
    });

    test('nobody live serving the queue with an agent that can cancel is a plain refusal', async () => {
      await online('w-only-old', 'agent-a', ['terminate'], ['q-old']);
      await db.query(`UPDATE workers SET online = false WHERE hostname = 'w-c2'`); // it served any queue
      await expect(sendToAll('q-old')).rejects.toThrow(/cannot cancel/);
      await expect(sendToAll('q-nobody')).rejects.toThrow(/no live huey worker/);
    });
  });

  test('command events never reach the ingest pipeline; announcements pass through', () => {
    const { events, outcomes, announcements } = splitAgentReports([
      { type: 'command', commandId: 'x' },
      { type: 'worker', kind: 'worker-online', fields: { commands: { actions: ['retry'] } } },
      { type: 'worker', kind: 'worker-offline', fields: { commands: { actions: ['retry'] } } },
      { type: 'task', kind: 'started' },
    ]);
    expect([events.length, outcomes.length, announcements.length]).toEqual([3, 1, 1]);
  });
});
