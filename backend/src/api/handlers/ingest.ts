// HTTP ingest for agents that cannot share a broker with the service: the same signed batch
// as on the broker transports, authenticated by its signature (route role `agent`).
import { ApiError } from '../errors.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';
import { HTTP_STALE_MS, verifyAgentBatch, type RefusalReason } from '../../ingest/agentBatch.js';

const STATUS: Record<RefusalReason, [number, string]> = {
  unknown_agent: [401, 'UNKNOWN_AGENT'],
  bad_signature: [401, 'BAD_SIGNATURE'],
  stale: [401, 'STALE_BATCH'],
  replay: [409, 'REPLAY'],
  bad_batch: [400, 'BAD_BATCH'],
};

export const ingestBatch = (ctx: ApiContext): Handler => async (req, res) => {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const agent = req.get('x-z4j-agent') ?? '';
  const sig = req.get('x-z4j-signature') ?? '';
  const verified = await verifyAgentBatch(body, agent, sig, ctx.agentKeys, { staleMs: HTTP_STALE_MS });
  const refuse = (reason: RefusalReason, message: string): never => {
    ctx.metrics.agentBatches.inc({ transport: 'http', outcome: `refused_${reason}` });
    const [status, code] = STATUS[reason];
    throw new ApiError(status, code, message);
  };
  if (!verified.ok) return refuse(verified.reason, verified.detail);
  // Batches in hand share the broker sources' budget: while the pipeline is behind, a request
  // is answered at once (the agent sends it again later) instead of holding its batch in memory.
  const budget = ctx.agentIngest.budget;
  if (!budget.tryTake(body.length)) {
    ctx.metrics.agentBatches.inc({ transport: 'http', outcome: 'busy' });
    res.set('Retry-After', '1');
    throw new ApiError(503, 'BUSY', 'ingest is behind: send this batch again shortly');
  }
  try {
    budget.learn(body.length, verified.batch.events.length);
    const stored = await ctx.agentIngest.store(verified.batch, 'http');
    if (stored.outcome === 'duplicate') return refuse('replay', 'this batch was already received');
    ctx.metrics.agentBatches.inc({ transport: 'http', outcome: stored.outcome });
    if (stored.outcome === 'refused_unknown_project') throw new ApiError(400, 'UNKNOWN_PROJECT', stored.detail ?? 'the agent\'s project does not exist');
    if (stored.outcome === 'refused_bad_batch') {
      // The database's own words go to the log: the answer says what was wrong, not how PostgreSQL put it.
      ctx.log.warn({ source: 'agent-http', agent: verified.batch.agent, detail: stored.detail }, 'agent batch refused');
      throw new ApiError(400, 'BAD_BATCH', 'the database refused a value in the batch: a NUL or broken text, or a number out of range');
    }
    res.status(202).json({ accepted: stored.events });
  } finally {
    budget.release(body.length);
  }
};
