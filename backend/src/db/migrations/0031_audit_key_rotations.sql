-- The audit key ring is the service's, not a project's: one key MACs every project's chain. Its
-- rotations are recorded once here (each live project's chain gets an audit row as well), so
-- that rotations keep a minimum interval and a key from Z4J_AUDIT_KEYS is recorded only once,
-- whichever replica is asked. Rotations before this table are in the chains alone.
CREATE TABLE audit_key_rotations (
  key_id       int PRIMARY KEY,
  from_key_id  int,
  rotated_at   timestamptz NOT NULL DEFAULT now(),
  rotated_by   text NOT NULL
);

-- Rotations made before this table, from the chains (a key rotated to, once: the first row that
-- names it), so that the first rotation after this migration keeps the interval and a key from
-- Z4J_AUDIT_KEYS already recorded is not recorded again.
INSERT INTO audit_key_rotations (key_id, from_key_id, rotated_at, rotated_by)
SELECT DISTINCT ON (key_id) key_id, from_key_id, at, rotated_by
  FROM (
    SELECT (detail->>'to')::int AS key_id, (detail->>'from')::int AS from_key_id, at, coalesce(actor_name, actor_kind) AS rotated_by
      FROM audit_log
     WHERE action = 'audit.key.rotate' AND outcome = 'ok' AND detail->>'to' ~ '^[0-9]{1,10}$' AND (detail->>'to')::bigint BETWEEN 1 AND 2147483647
       AND coalesce(detail->>'from', '0') ~ '^[0-9]{1,10}$' AND coalesce((detail->>'from')::bigint, 0) <= 2147483647
  ) AS rotated
 ORDER BY key_id, at;
