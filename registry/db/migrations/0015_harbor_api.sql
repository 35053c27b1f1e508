-- The rest of Harbor's management API.

-- Paused job queues: a job of a paused kind (or of any kind, while 'all' is paused) is not
-- started by a worker; it waits, Pending, until the queue is resumed.
CREATE TABLE job_queue_pauses (
    job_type        TEXT PRIMARY KEY,       -- a job kind, or 'all'
    paused_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
