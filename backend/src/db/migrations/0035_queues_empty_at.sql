-- When the queue was last seen empty (a depth sample of 0, or a purge of the whole queue): no
-- task sent before then still waits in it. A purge the broker only counts (RabbitMQ) marks the
-- tasks z4j had waiting there, but only those sent since: one whose worker's reports were lost
-- long ago (it ran; z4j still shows it enqueued) is not taken for purged (actions/actionService.ts).
ALTER TABLE queues ADD COLUMN empty_at timestamptz;
