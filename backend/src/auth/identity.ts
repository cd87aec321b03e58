// Builds what identity and trust add to the API context: the proxy secret, the Grafana ID
// token verifier, the mailer, the audit log, and the agent key stores the ingest side asks.
import { AuditLog } from '../audit/chain.js';
import { auditKeysFromConfig, type AuditKeyRing } from '../audit/keys.js';
import type { Config } from '../config.js';
import type { Sealer } from '../crypto/seal.js';
import type { Db } from '../db/db.js';
import { ChainedAgentKeyStore, parseStaticAgentKeys, StaticAgentKeyStore, type AgentKeyStore } from '../ingest/agentKeys.js';
import type { Logger } from '../logger.js';
import { DbAgentKeyStore } from './agentCredentials.js';
import { IdTokenVerifier } from './grafana.js';
import { mailerFromConfig, type Mailer } from './mailer.js';
import { proxySecretFromConfig, type ProxySecret } from './secrets.js';

export interface AuthSettings {
  proxySecret: ProxySecret;
  /** Null when GRAFANA_URL is not set (then X-Grafana-Context alone, behind the secret, names the user). */
  idTokens: IdTokenVerifier | null;
  mailer: Mailer | null;
  /** The database agent store (the API invalidates its cache on rotate / revoke). */
  agentStore: DbAgentKeyStore;
}

export interface Identity {
  auth: AuthSettings;
  audit: AuditLog;
  /** Database credentials first, then the bootstrap ones from Z4J_AGENT_KEYS. */
  agentKeys: AgentKeyStore;
}

export function createIdentity(
  config: Config,
  db: Db,
  sealer: Sealer,
  log: Logger,
  overrides: { auditKeys?: AuditKeyRing; idTokens?: IdTokenVerifier | null; mailer?: Mailer | null } = {},
): Identity {
  const agentStore = new DbAgentKeyStore(db, sealer);
  const idTokens = overrides.idTokens !== undefined
    ? overrides.idTokens
    : config.GRAFANA_URL ? new IdTokenVerifier({ grafanaUrl: config.GRAFANA_URL, issuer: config.Z4J_GRAFANA_ID_ISSUER }) : null;
  return {
    auth: {
      proxySecret: proxySecretFromConfig(config, log),
      idTokens,
      mailer: overrides.mailer !== undefined ? overrides.mailer : mailerFromConfig(config),
      agentStore,
    },
    audit: new AuditLog(db, overrides.auditKeys ?? auditKeysFromConfig(config, log)),
    agentKeys: new ChainedAgentKeyStore([agentStore, new StaticAgentKeyStore(parseStaticAgentKeys(config.Z4J_AGENT_KEYS))]),
  };
}
