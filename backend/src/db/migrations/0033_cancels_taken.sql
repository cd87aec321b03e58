-- The cancels workers' agents took: each remembers the task id and skips its message when it
-- comes. The reconciler takes one back once its task ran anyway (reconcileCommands), for as long
-- as the agents remember it. Cancels are few, commands many: a small partial index spares the
-- reconciler a scan of every command each round.
CREATE INDEX commands_cancels_taken ON commands (updated_at) WHERE kind = 'task.cancel' AND state = 'succeeded' AND outcome ? 'takenBy';
