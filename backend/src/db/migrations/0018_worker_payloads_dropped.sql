-- How many of a worker's tasks its agent sent without their retry payload (too big to carry):
-- those tasks are shown but cannot be retried from z4j, so the Workers page says how many.
ALTER TABLE workers ADD COLUMN payloads_dropped bigint;
