-- Whether an Owner wrote this membership: only such a membership lowers an Owner the role
-- mapping makes (an Admin can write a membership for any user id, and must not demote
-- Owners through it). Rows written before this column existed keep acting as they did.
ALTER TABLE memberships ADD COLUMN set_by_owner boolean NOT NULL DEFAULT true;
ALTER TABLE memberships ALTER COLUMN set_by_owner SET DEFAULT false;
