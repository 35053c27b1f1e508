-- Jobs are dispatched through an outbox: a job row is committed first and sent to the broker
-- after; whatever was never sent (the sender died, the broker was down) or was sent long ago
-- and never claimed is sent again by the scheduler. A running job holds a lease that its
-- worker renews; a lease that runs out means the worker died, and the job is retried.
ALTER TABLE jobs ADD COLUMN enqueued_at TIMESTAMPTZ;   -- last hand-over to the broker (NULL: never)
ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMPTZ;   -- while Running: when its worker must renew
ALTER TABLE jobs ADD COLUMN worker TEXT;               -- who claimed it last (host:pid)
-- Rows from before: whatever is still pending is dispatched again.
UPDATE jobs SET enqueued_at = NULL WHERE status = 'Pending';
UPDATE jobs SET lease_until = now() WHERE status = 'Running';
CREATE INDEX jobs_pending_dispatch ON jobs (enqueued_at NULLS FIRST) WHERE status = 'Pending';
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE status = 'Running';
