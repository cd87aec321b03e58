// What to paste into a worker to turn the agent on, per engine (see agent/README.md).
export const AGENT_SNIPPETS: Record<string, string> = {
  celery: `# celery_app.py, after app = Celery(...)
import z4j_agent.celery
z4j_agent.celery.install(app)
# and start workers with events on: celery -A celery_app worker -E`,
  rq: `# run workers with the z4j worker class
rq worker -w z4j_agent.rq.Z4jWorker default`,
  dramatiq: `# where the broker is set up
from z4j_agent.dramatiq import Z4jMiddleware
broker.add_middleware(Z4jMiddleware())`,
  huey: `# next to huey = RedisHuey(...)
import z4j_agent.huey
z4j_agent.huey.install(huey)`,
  arq: `# your worker settings module
import z4j_agent.arq

@z4j_agent.arq.instrument
class WorkerSettings:
    functions = [...]`,
  taskiq: `# where the broker is set up
from z4j_agent.taskiq import Z4jMiddleware
broker = broker.with_middlewares(Z4jMiddleware())`,
};

export function agentEnv(agentId: string, secret: string, project: string): string {
  return `pip install 'z4j-agent[<engine>]'
export Z4J_PROJECT=${project}
export Z4J_AGENT_ID=${agentId}
export Z4J_AGENT_SECRET=${secret}`;
}
