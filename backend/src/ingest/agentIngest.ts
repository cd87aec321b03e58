// Storing a verified agent batch, the same way whichever transport brought it: retry payloads
// taken out of the events and sealed into task_payloads (first write wins), events through the
// ingest pipeline like any source's, the agent's own reports (command outcomes, workers taking
// commands: actions/agentCommands.ts) after them, and — once all are committed — the batch's nonce
// and the agent's own report (drop counter, last seen). Sources acknowledge after this resolves.
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import type { Metrics } from '../metrics.js';
import { recordAgentReports, splitAgentReports } from '../actions/agentCommands.js';
import { payloadAad } from '../actions/payloads.js';
import type { AgentBatch } from './agentBatch.js';
import type { IngestPipeline } from './pipeline.js';

/** Largest retry payload kept (JSON characters); a bigger one is dropped and counted. */
const MAX_PAYLOAD_CHARS = 256 * 1024;

export class AgentIngest {
  private projectIds = new Map<string, number>();
  /** Batches being stored right now (agent + nonce): the same batch arriving twice at once is stored once. */
  private readonly storing = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly pipeline: IngestPipeline,
    private readonly sealer: Sealer,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Stores the batch, or returns 'duplicate' when it was stored before or is being stored now
   * (a redelivery after a crash, or a replay). The nonce is recorded only after the events are
   * committed, so a crash in between leaves the batch to be stored again, never lost.
   */
  async store(batch: AgentBatch, transport: string): Promise<{ outcome: 'ingested' | 'duplicate'; events: number }> {
    const key = `${batch.agent}\u0000${batch.nonce}`;
    if (this.storing.has(key)) return { outcome: 'duplicate', events: 0 };
    this.storing.add(key);
    try {
      const seen = await this.db.query('SELECT 1 FROM agent_batches WHERE agent_id = $1 AND nonce = $2', [batch.agent, batch.nonce]);
      if (seen.rows.length) return { outcome: 'duplicate', events: 0 };
      return { outcome: 'ingested', events: await this.storeNew(batch, transport) };
    } finally {
      this.storing.delete(key);
    }
  }

  private async storeNew(batch: AgentBatch, transport: string): Promise<number> {
    const projectId = await this.projectId(batch.project);
    const { events: taken, payloads } = this.takePayloads(batch, projectId);
    // Payloads before their events: a task shown enqueued can always be retried.
    if (payloads.length) {
      await this.db.query(
        `INSERT INTO task_payloads (project_id, engine, task_id, sealed)
         SELECT $1, u.e, u.t, u.s FROM unnest($2::text[], $3::text[], $4::bytea[]) AS u(e, t, s)
         ON CONFLICT DO NOTHING`,
        [projectId, payloads.map((r) => r[0]), payloads.map((r) => r[1]), payloads.map((r) => r[2])],
        { name: 'z4j_agent_payloads' },
      );
    }
    const { events, outcomes, announcements } = splitAgentReports(taken);
    await Promise.all(events.map((ev) => new Promise<void>((done) => void this.pipeline.offer(`agent-${transport}`, ev, done))));
    // After the events: a command's outcome and the worker it names are then already stored.
    if (outcomes.length || announcements.length) await recordAgentReports(this.db, projectId, batch.agent, outcomes, announcements);
    // The nonce and the agent's report in one statement (one commit per batch, not two).
    await this.db.query(
      `WITH nonce AS (INSERT INTO agent_batches (agent_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING)
       INSERT INTO agent_status AS s (agent_id, project_id, transport, last_seen_at, last_seq, dropped, batches)
       VALUES ($1, $3, $4, now(), $5, $6, 1)
       ON CONFLICT (agent_id) DO UPDATE SET transport = excluded.transport, last_seen_at = now(), last_seq = excluded.last_seq,
         dropped = excluded.dropped, batches = s.batches + 1, project_id = excluded.project_id`,
      [batch.agent, batch.nonce, projectId, transport, Number.isSafeInteger(batch.seq) ? batch.seq : null, Number.isSafeInteger(batch.dropped) ? batch.dropped : 0],
      { name: 'z4j_agent_batch_done' },
    );
    return events.length;
  }

  /** Takes `payload` out of every event and seals the well-formed ones. */
  private takePayloads(batch: AgentBatch, projectId: number): { events: Record<string, unknown>[]; payloads: [string, string, Buffer][] } {
    const payloads: [string, string, Buffer][] = [];
    const events = batch.events.map((ev) => {
      if (!('payload' in ev)) return ev;
      // Taken out in place (the event is this batch's own parse): a copy without the key costs
      // more than everything else done here per event.
      const { payload, engine, taskId } = ev;
      ev.payload = undefined;
      const text = JSON.stringify(payload ?? null);
      const wellFormed = typeof engine === 'string' && typeof taskId === 'string' && taskId.length <= 255 && typeof payload === 'object' && payload !== null
        && typeof (payload as { name?: unknown }).name === 'string' && text.length <= MAX_PAYLOAD_CHARS;
      if (wellFormed) payloads.push([engine, taskId, this.sealer.seal(text, payloadAad(projectId, engine, taskId))]);
      else this.metrics.agentPayloadsDropped.inc();
      return ev;
    });
    return { events, payloads };
  }

  private async projectId(slug: string): Promise<number> {
    let id = this.projectIds.get(slug);
    if (id === undefined) {
      const row = (await this.db.query<{ id: number }>('SELECT id FROM projects WHERE slug = $1', [slug])).rows[0];
      if (!row) throw new Error(`project ${slug} does not exist`);
      id = row.id;
      this.projectIds.set(slug, id);
    }
    return id;
  }
}
