// Where a retry's exact payload comes from: the sealed copy the agent sent (stored by ingest,
// see docs/agent-protocol.md). Never the redacted display copy in `tasks`.
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import type { RetryPayload } from '../engines/driver.js';

export interface PayloadStore {
  open(projectId: number, engine: string, taskId: string): Promise<RetryPayload | null>;
  /** The payload sealed for another task (a retry sent from z4j re-sends the same call under a new id). */
  sealFor(projectId: number, engine: string, taskId: string, payload: RetryPayload): Buffer;
}

/** The additional data a payload is sealed with: it opens only for the task it belongs to. */
export const payloadAad = (projectId: number, engine: string, taskId: string) => `task-payload:${projectId}:${engine}:${taskId}`;

export class DbPayloadStore implements PayloadStore {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {}

  async open(projectId: number, engine: string, taskId: string): Promise<RetryPayload | null> {
    const row = (await this.db.query<{ sealed: Buffer | null }>(
      'SELECT sealed_payload AS sealed FROM tasks WHERE project_id = $1 AND engine = $2 AND task_id = $3',
      [projectId, engine, taskId],
    )).rows[0];
    if (!row?.sealed) return null;
    return JSON.parse(this.sealer.open(Buffer.from(row.sealed), payloadAad(projectId, engine, taskId)).toString('utf8')) as RetryPayload;
  }

  sealFor(projectId: number, engine: string, taskId: string, payload: RetryPayload): Buffer {
    return this.sealer.seal(JSON.stringify(payload), payloadAad(projectId, engine, taskId));
  }
}
