-- The workflow graph of a group's member finds the other members by their group id: members of
-- a group sent on its own share neither a root nor a parent. Partial: most tasks have no group.
CREATE INDEX tasks_by_group ON tasks (project_id, group_id) WHERE group_id IS NOT NULL;
