-- A reason is dropped with the send it explains when that send fails (the agent refused it, or
-- no agent could take it): found by its command, so that lookup (and the cascade when a command
-- goes) reads an index rather than the whole table.
CREATE INDEX task_reasons_by_command ON task_reasons (command_id);
