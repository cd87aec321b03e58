-- Which broker a worker's agent takes commands on ("redis" or "amqp", as its announcement says;
-- NULL from agents that did not say). A command goes only to workers on the channel the engine's
-- driver can reach: a worker on the other broker is refused plainly instead of timing out.
ALTER TABLE agent_workers ADD COLUMN channel text;
