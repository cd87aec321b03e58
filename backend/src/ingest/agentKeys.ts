// Who may send agent batches. The ingest side (stream / AMQP / HTTP sources) asks this for
// an agent's project and live secrets; the identity side (agent credentials minted, rotated
// and revoked by admins, stored sealed in the database) implements it. A static store built
// from `Z4J_AGENT_KEYS` serves tests and the Docker demo before anyone has minted credentials.

export interface AgentCredentials {
  agentId: string;
  /** Slug of the only project this agent may report into. */
  project: string;
  /** Every secret currently accepted: more than one during a rotation's overlap window. */
  secrets: Buffer[];
}

/**
 * `fresh`: read past a cache older than a second (DbAgentKeyStore: AGENT_KEY_FRESH_MS), as a
 * secret just rotated on another replica may not be in it yet.
 */
export interface LookupOptions {
  fresh?: boolean;
}

export interface AgentKeyStore {
  /** Null when the agent is unknown or revoked. Implementations cache, but a revocation must bite within seconds. */
  lookup(agentId: string, opts?: LookupOptions): Promise<AgentCredentials | null>;
}

/** `Z4J_AGENT_KEYS`: comma-separated `<agent id>@<project>:<secret>`. */
export function parseStaticAgentKeys(value: string[]): AgentCredentials[] {
  return value.map((entry) => {
    const m = /^([A-Za-z0-9._-]{1,128})@([a-z0-9][a-z0-9-]{0,62}):(.{16,})$/.exec(entry);
    if (!m) throw new Error('expected <agent id>@<project>:<secret of 16+ characters>');
    return { agentId: m[1]!, project: m[2]!, secrets: [Buffer.from(m[3]!)] };
  });
}

export class StaticAgentKeyStore implements AgentKeyStore {
  private readonly byId: Map<string, AgentCredentials>;
  constructor(entries: AgentCredentials[]) {
    this.byId = new Map(entries.map((e) => [e.agentId, e]));
  }
  async lookup(agentId: string): Promise<AgentCredentials | null> {
    return this.byId.get(agentId) ?? null;
  }
}

/** Asks each store in turn (database first, then static bootstrap keys). */
export class ChainedAgentKeyStore implements AgentKeyStore {
  constructor(private readonly stores: AgentKeyStore[]) {}
  async lookup(agentId: string, opts?: LookupOptions): Promise<AgentCredentials | null> {
    for (const s of this.stores) {
      const found = await s.lookup(agentId, opts);
      if (found) return found;
    }
    return null;
  }
}
