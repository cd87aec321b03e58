// Storing a verified agent batch, the same way whichever transport brought it: retry payloads
// taken out of the events and sealed, events through the ingest pipeline like any source's (each
// with its sealed payload, stored in its transaction: first write wins), the agent's own reports
// (command outcomes, workers taking commands: actions/agentCommands.ts) after them, and — once all
// are committed — the batch's nonce and the agent's own report (drop counter, last seen). The
// nonce's insert (unique per agent) decides, across replicas, which storing of a batch was the
// first: only that one is 'ingested'. Sources acknowledge after this resolves.
import type { Sealer } from '../crypto/seal.js';
import { isDataException, type Db } from '../db/db.js';
import { GroupCommit } from '../db/groupCommit.js';
import type { Metrics } from '../metrics.js';
import { recordAgentReports, splitAgentReports } from '../actions/agentCommands.js';
import type { SettledAudit } from '../actions/commands.js';
import { payloadAad } from '../actions/payloads.js';
import type { AgentBatch } from './agentBatch.js';
import { BatchBudget } from './batchBudget.js';
import type { IngestPipeline } from './pipeline.js';

interface StoredBatch {
  agent: string;
  nonce: string;
  projectId: number;
  transport: string;
  seq: number | null;
  dropped: number;
}

/** How long a project's id is taken from memory before the database is asked whether it still exists. */
const PROJECT_RECHECK_MS = 30_000;

/** Largest retry payload kept (JSON characters); a bigger one is dropped and counted. */
const MAX_PAYLOAD_CHARS = 256 * 1024;

export interface StoreResult {
  outcome: 'ingested' | 'duplicate' | 'refused_unknown_project' | 'refused_bad_batch';
  events: number;
  /** Why it was refused. */
  detail?: string;
}

class UnknownProject extends Error {}

/** A payload's JSON, or null for one JSON cannot write (nested past the stack's depth, a BigInt): it is dropped, not the batch. */
function payloadText(payload: unknown): string | null {
  try {
    return JSON.stringify(payload ?? null);
  } catch {
    return null;
  }
}

export class AgentIngest {
  /** Project ids by slug, looked up again after PROJECT_RECHECK_MS (another replica may have deleted one). */
  private projectIds = new Map<string, { id: number; at: number }>();
  /**
   * Batches being stored right now (agent + nonce), with their storing: the same batch arriving
   * again meanwhile (a broker's redelivery, a claim of an entry that waits for a slow database)
   * waits for it, and is answered 'duplicate' only once it is committed; never before, or its
   * acknowledgement would let a crash lose it.
   */
  private readonly storing = new Map<string, Promise<StoreResult>>();
  /** What broker sources may hold at once, shared: they all feed the one pipeline. */
  readonly budget: BatchBudget;

  constructor(
    private readonly db: Db,
    private readonly pipeline: IngestPipeline,
    private readonly sealer: Sealer,
    private readonly metrics: Metrics,
    /** Where the commands an agent's report settles are audited. */
    private readonly audit?: SettledAudit,
  ) {
    this.budget = new BatchBudget(() => pipeline.inFlightCapacity);
  }

  /**
   * Stores the batch, or returns 'duplicate' when it was stored before or is being stored now
   * (a redelivery after a crash, or a replay). The nonce is recorded only after the events are
   * committed, so a crash in between leaves the batch to be stored again, never lost.
   * `source`: the name the pipeline's metrics and logs give what it read (`agent-redis-1`, the
   * source's, as z4j_source_* name it; `agent-http` over HTTP).
   */
  async store(batch: AgentBatch, transport: string, source = `agent-${transport}`): Promise<StoreResult> {
    const key = `${batch.agent}\u0000${batch.nonce}`;
    const inFlight = this.storing.get(key);
    if (inFlight) {
      const first = await inFlight; // throws if the first storing failed: this one is retried too
      return first.outcome.startsWith('refused_') ? first : { outcome: 'duplicate', events: 0 };
    }
    const storing = this.storeOnce(batch, transport, source);
    this.storing.set(key, storing);
    try {
      return await storing;
    } finally {
      this.storing.delete(key);
    }
  }

  /**
   * `store`, for a batch not being stored already. What can never succeed (the agent's project
   * is gone, data PostgreSQL refuses) is refused, so a source acknowledges it and moves on: left
   * unacknowledged it would come back forever. Anything else (the database away) throws, and
   * the batch stays with its broker for another try.
   */
  private async storeOnce(batch: AgentBatch, transport: string, source: string): Promise<StoreResult> {
    try {
      return await this.storeFresh(batch, transport, source);
    } catch (err) {
      if (err instanceof UnknownProject) return { outcome: 'refused_unknown_project', events: 0, detail: err.message };
      if (isDataException(err)) return { outcome: 'refused_bad_batch', events: 0, detail: `the database refused its data: ${String((err as Error).message).slice(0, 200)}` };
      throw err;
    }
  }

  private async storeFresh(batch: AgentBatch, transport: string, source: string): Promise<StoreResult> {
    const projectId = await this.projectId(batch.project);
    // From a broker, the nonce is looked up while the events go through the pipeline, not
    // before them: the lookup took ≈ 20 ms per batch at 25k events/s (a connection, then the
    // reply, each waiting behind the writer's work on the event loop), a tenth of a batch's way
    // from read to acknowledged (BENCHMARKS.md). The writer stores an event once whatever comes
    // again (idempotent by event id), so a batch stored before only passes through; what is
    // done once per batch (command outcomes, the agent's report, the nonce) waits for the
    // answer. Over HTTP, where a captured batch could be replayed by anyone who can reach the
    // endpoint, a replay is refused before it costs any more work. The lookup is a shortcut, not
    // the guard: two replicas given the same batch at once both find it new. The nonce's insert
    // decides (recordBatch): one of them stores it, the other answers 'duplicate'. What both did
    // meanwhile is idempotent: events by id, a report settles only a command still open.
    const seen = this.db
      .query('SELECT 1 FROM agent_batches WHERE agent_id = $1 AND nonce = $2', [batch.agent, batch.nonce], { name: 'z4j_agent_batch_seen' })
      .then((res) => res.rows.length > 0);
    seen.catch(() => undefined); // awaited below; a failure is this call's, not unhandled meanwhile
    if (transport === 'http' && (await seen)) return { outcome: 'duplicate', events: 0 };
    const { events: taken, payloads } = this.takePayloads(batch, projectId);
    const { events, outcomes, announcements } = splitAgentReports(taken);
    // Each payload travels with its event: the writer stores both in one transaction.
    const stored = new Promise<void>((done) => {
      let left = events.length;
      if (!left) return done();
      const eventDone = () => {
        if (--left === 0) done();
      };
      void this.pipeline.offerAll(source, events, eventDone, (ev) => payloads.get(ev as object));
    });
    const [storedBefore] = await Promise.all([seen, stored]);
    if (storedBefore) return { outcome: 'duplicate', events: 0 };
    const first = await this.recordBatch(batch, transport, projectId, outcomes, announcements);
    return first ? { outcome: 'ingested', events: events.length } : { outcome: 'duplicate', events: 0 };
  }

  /** Records the batch as stored; false when its nonce was already there (another replica stored it meanwhile). */
  private async recordBatch(batch: AgentBatch, transport: string, projectId: number, outcomes: Record<string, unknown>[], announcements: Record<string, unknown>[]): Promise<boolean> {
    // After the events: a command's outcome and the worker it names are then already stored.
    if (outcomes.length || announcements.length) await recordAgentReports(this.db, projectId, batch.agent, outcomes, announcements, this.audit);
    return this.batchWrites.add({ agent: batch.agent, nonce: batch.nonce, projectId, transport, seq: Number.isSafeInteger(batch.seq) ? batch.seq! : null, dropped: Number.isSafeInteger(batch.dropped) ? batch.dropped! : 0 });
  }

  /**
   * Nonces of stored batches, and each agent's report: its newest batch's, with the count added
   * up. Only batches whose nonce this write inserted count; each is answered whether it did.
   */
  private readonly batchWrites = new GroupCommit<StoredBatch, boolean>(async (stored) => {
    const inserted = await this.db.query<{ agent_id: string; nonce: string }>(
      `WITH given AS (
         SELECT agent_id COLLATE "C" AS agent_id, nonce COLLATE "C" AS nonce, project_id, transport, seq, dropped, i
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::int[]) WITH ORDINALITY AS u(agent_id, nonce, project_id, transport, seq, dropped, i)),
       fresh AS (
         INSERT INTO agent_batches (agent_id, nonce) SELECT agent_id, nonce FROM given ON CONFLICT DO NOTHING RETURNING agent_id, nonce),
       latest AS (
         -- Ordered by agent: rows of agent_status are locked in one order by every writer.
         SELECT DISTINCT ON (g.agent_id) g.agent_id, g.project_id, g.transport, g.seq, g.dropped, count(*) OVER (PARTITION BY g.agent_id) AS n
           FROM given g JOIN fresh f USING (agent_id, nonce)
          ORDER BY g.agent_id, g.seq DESC NULLS LAST, g.i DESC),
       status AS (
         INSERT INTO agent_status AS s (agent_id, project_id, transport, last_seen_at, last_seq, dropped, batches)
         SELECT agent_id, project_id, transport, now(), seq, dropped, n FROM latest
         ON CONFLICT (agent_id) DO UPDATE SET transport = excluded.transport, last_seen_at = now(), last_seq = excluded.last_seq,
           dropped = excluded.dropped, batches = s.batches + excluded.batches, project_id = excluded.project_id)
       SELECT agent_id, nonce FROM fresh`,
      [
        stored.map((b) => b.agent), stored.map((b) => b.nonce), stored.map((b) => b.projectId), stored.map((b) => b.transport),
        stored.map((b) => b.seq), stored.map((b) => b.dropped),
      ],
      { name: 'z4j_agent_batches_done' },
    );
    const fresh = new Set(inserted.rows.map((r) => `${r.agent_id}\u0000${r.nonce}`));
    return stored.map((b) => fresh.delete(`${b.agent}\u0000${b.nonce}`));
  });

  /** Takes `payload` out of every event and seals the well-formed ones, by event. */
  private takePayloads(batch: AgentBatch, projectId: number): { events: Record<string, unknown>[]; payloads: Map<object, Buffer> } {
    const payloads = new Map<object, Buffer>();
    const events = batch.events.map((ev) => {
      if (!('payload' in ev)) return ev;
      // Taken out in place (the event is this batch's own parse): a copy without the key costs
      // more than everything else done here per event.
      const { payload, engine, taskId } = ev;
      ev.payload = undefined;
      const text = payloadText(payload);
      const wellFormed = text !== null && typeof engine === 'string' && typeof taskId === 'string' && taskId.length <= 255 && typeof payload === 'object' && payload !== null
        && typeof (payload as { name?: unknown }).name === 'string' && text.length <= MAX_PAYLOAD_CHARS;
      if (wellFormed) payloads.set(ev, this.sealer.seal(text, payloadAad(projectId, engine, taskId)));
      else this.metrics.agentPayloadsDropped.inc();
      return ev;
    });
    return { events, payloads };
  }

  private async projectId(slug: string): Promise<number> {
    const known = this.projectIds.get(slug);
    if (known && Date.now() - known.at < PROJECT_RECHECK_MS) return known.id;
    const row = (await this.db.query<{ id: number }>('SELECT id FROM projects WHERE slug = $1 AND deleted_at IS NULL', [slug])).rows[0];
    if (!row) {
      this.projectIds.delete(slug);
      throw new UnknownProject(`project ${slug} does not exist`);
    }
    this.projectIds.set(slug, { id: row.id, at: Date.now() });
    return row.id;
  }

  /** A project just deleted: its agents' batches are refused from now on, not only once the slug is looked up again. */
  forgetProject(slug: string): void {
    this.projectIds.delete(slug);
  }
}
