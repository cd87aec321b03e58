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
