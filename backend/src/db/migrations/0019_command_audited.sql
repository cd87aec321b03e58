-- Whether a command's outcome has its audit row. The bulk runner audits each task's command
-- once it ended, in a transaction of its own after the command; a chunk retried after that
-- append failed must know which commands still lack their row (and which the reconciler
-- audited meanwhile). Commands from before this migration count as audited: a bulk job running
-- across the upgrade must not audit them twice.
ALTER TABLE commands ADD COLUMN audited boolean NOT NULL DEFAULT true;
ALTER TABLE commands ALTER COLUMN audited SET DEFAULT false;
