// What the service prints when it has started: where it listens, and for each way in (Celery's
// events, the agents' batches, actions, Grafana, the API) what it reads or what to set, so a
// first run says what is missing instead of staying silent.
import type { Config } from './config.js';
import { DRIVER_SETTINGS } from './actions/actionService.js';
import { ENGINES, type Engine } from './ingest/envelope.js';
import { brokerLocation } from './sources/source.js';

export interface BannerFacts {
  url: string;
  /** Where the proxy secret came from: 'Z4J_PROXY_SECRET', or the file it was generated into. */
  proxySecretSource: string;
  /** The engines the service can act on (a driver with a broker). */
  actsOn: readonly Engine[];
}

export function startBanner(config: Config, facts: BannerFacts): string {
  const { url } = facts;
  const where = config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.Z4J_DATA_DIR}`;
  const others = ENGINES.filter((e) => !facts.actsOn.includes(e));
  const agentBrokers = [...config.Z4J_AGENT_REDIS_URLS.map(brokerLocation), ...config.Z4J_AGENT_AMQP_URLS.map((u) => `${brokerLocation(u)} (queue ${config.Z4J_AGENT_AMQP_QUEUE})`)];
  const lines = [
    `z4j service ${url} (storage: ${where})`,
    `  API:     ${url}/api/tasks   OpenAPI: ${url}/api/openapi.json   metrics: ${url}/metrics`,
    config.Z4J_CELERY_BROKERS.length
      ? `  Celery:  consuming events from ${config.Z4J_CELERY_BROKERS.map(brokerLocation).join(', ')}`
      : `  Celery:  set Z4J_CELERY_BROKERS=redis://localhost:6379/0 (or amqp://...) to observe your workers`,
    agentBrokers.length
      ? `  Agents:  reading the z4j agents' batches from ${agentBrokers.join(', ')}, and over HTTP (agents with Z4J_TRANSPORT=http Z4J_HTTP_URL=${url})`
      : `  Agents:  set Z4J_AGENT_REDIS_URLS=redis://localhost:6379/0 (or Z4J_AGENT_AMQP_URLS) to the broker your z4j agents publish to (RQ, Dramatiq, Huey, arq, taskiq), or give them Z4J_TRANSPORT=http Z4J_HTTP_URL=${url}`,
    `  Actions: ${facts.actsOn.length ? `on ${facts.actsOn.join(', ')}` : 'none yet'}` +
      (others.length ? `; to act on ${others.join(', ')}, set ${others.map((e) => DRIVER_SETTINGS[e]).join(', ')} (README, "Configuration")` : ''),
    facts.proxySecretSource === 'Z4J_PROXY_SECRET'
      ? `  Grafana: proxy secret from Z4J_PROXY_SECRET`
      : `  Grafana: paste the proxy secret in ${facts.proxySecretSource} into the z4j app configuration page`,
    `  Tokens:  for curl and scripts, an Admin mints one (POST /api/tokens; before Grafana is connected: README, "API tokens")`,
  ];
  return `${lines.join('\n')}\n`;
}
