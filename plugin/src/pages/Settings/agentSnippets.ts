// What to paste into a worker to turn the agent on, per engine (the same as agent/README.md).
export const AGENT_SNIPPETS: Record<string, string> = {
  celery: `# next to app = Celery(...), in producers and workers
import z4j_agent.celery
z4j_agent.celery.install(app)
# start workers with task events on: celery -A proj worker -E`,
  rq: `# workers
rq worker -w z4j_agent.rq.Z4jWorker high default
# processes that enqueue
import z4j_agent.rq
z4j_agent.rq.install()`,
  dramatiq: `# where the broker is set up, in producers and workers
import z4j_agent.dramatiq
broker.add_middleware(z4j_agent.dramatiq.Z4jMiddleware())`,
  huey: `# next to huey = RedisHuey(...), in producers and the consumer
import z4j_agent.huey
z4j_agent.huey.install(huey)`,
  arq: `import z4j_agent.arq
z4j_agent.arq.instrument(WorkerSettings)   # workers
z4j_agent.arq.install()                    # producers: every ArqRedis.enqueue_job`,
  taskiq: `import z4j_agent.taskiq
broker = ListQueueBroker("redis://localhost:6379/0").with_middlewares(
    z4j_agent.taskiq.Z4jMiddleware())`,
};

export function agentEnv(agentId: string, secret: string, project: string): string {
  return `pip install './agent[<engine>]'   # from a checkout of z4j
export Z4J_PROJECT=${project}
export Z4J_AGENT_ID=${agentId}
export Z4J_AGENT_SECRET=${secret}`;
}
