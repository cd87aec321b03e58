// Queue depths for the Queues page: every queue the broker projects have seen, sampled through
// its engine's driver (the broker the service acts on), written to `queues` (and when it was last
// seen empty, for purges that only count: actions/actionService.ts markPurged). A broker is shared
// by every project that may act on it (Z4J_BROKER_PROJECTS), so one read serves all their rows.
import type { Db } from '../db/db.js';
import type { EngineDriver } from '../engines/driver.js';
import type { Engine } from '../ingest/envelope.js';

/** The most queues read per round: a project with more has its least recently seen ones left unsampled. */
export const MAX_SAMPLED_QUEUES = 2000;

export async function sampleQueueDepths(db: Db, projectSlugs: readonly string[], drivers: ReadonlyMap<Engine, EngineDriver>): Promise<void> {
  const engines = [...drivers.values()].filter((d) => d.queueDepth && !d.notConfigured).map((d) => d.engine);
  if (!engines.length || !projectSlugs.length) return;
  const queues = (await db.query<{ engine: Engine; name: string }>(
    `SELECT q.engine, q.name FROM queues q JOIN projects p ON p.id = q.project_id
      WHERE p.slug = ANY($1::text[]) AND q.engine = ANY($2::text[])
      GROUP BY q.engine, q.name ORDER BY max(q.last_seen_at) DESC LIMIT ${MAX_SAMPLED_QUEUES}`,
    [projectSlugs, engines],
  )).rows;
  for (const { engine, name } of queues) {
    // One at a time: a round is a background chore, and a broker shared with workers should not
    // see thousands of reads at once. A broker that does not answer leaves the last sample.
    const depth = await drivers.get(engine)!.queueDepth!(name).catch(() => null);
    if (depth === null) continue;
    await db.query(
      `UPDATE queues q SET depth = $4::bigint, depth_at = now(), empty_at = CASE WHEN $4::bigint = 0 THEN now() ELSE q.empty_at END FROM projects p
        WHERE p.slug = ANY($1::text[]) AND q.project_id = p.id AND q.engine = $2 AND q.name = $3`,
      [projectSlugs, engine, name, depth],
    );
  }
}
