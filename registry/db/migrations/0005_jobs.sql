-- The job service: every asynchronous job has a record; schedules start jobs.

CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,          -- GARBAGE_COLLECTION, RETENTION, WEBHOOK, PURGE_AUDIT_LOG, …
    trigger         TEXT NOT NULL DEFAULT 'MANUAL',   -- MANUAL, SCHEDULE, EVENT
    status          TEXT NOT NULL DEFAULT 'Pending',  -- Pending, Running, Success, Error, Stopped
    parameters      JSONB NOT NULL DEFAULT '{}',
    result          JSONB,
    log             TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    stop_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    parent_id       BIGINT REFERENCES jobs (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at      TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX jobs_kind ON jobs (kind, id DESC);
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('Pending', 'Running');

CREATE TABLE schedules (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,          -- the job kind it starts
    owner           TEXT NOT NULL,          -- 'system', 'retention:<id>', … : one schedule per owner
    schedule_type   TEXT NOT NULL,          -- Hourly, Daily, Weekly, Custom, None
    cron            TEXT NOT NULL,          -- Harbor's 6-field cron: second minute hour dom month dow
    parameters      JSONB NOT NULL DEFAULT '{}',
    last_run_at     TIMESTAMPTZ,
    next_run_at     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (kind, owner)
);

-- When a blob was last asked for: garbage collection spares blobs a push may still need.
ALTER TABLE project_blobs ADD COLUMN touched_at TIMESTAMPTZ NOT NULL DEFAULT now();
