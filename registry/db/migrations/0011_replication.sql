-- Replication: remote registries, policies, executions and their tasks. Each task is a row
-- of `jobs` (kind REPLICATION_TASK) on the job service, linked here by job_id; an execution's
-- listing step is a REPLICATION job. Statuses shown by the API are derived from the jobs.

CREATE TABLE replication_registries (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,                 -- docker-registry, harbor
    url             TEXT NOT NULL,
    credential_type TEXT NOT NULL DEFAULT 'basic',
    access_key      TEXT NOT NULL DEFAULT '',
    access_secret   TEXT NOT NULL DEFAULT '',      -- sealed (services/secrets.py)
    insecure        BOOLEAN NOT NULL DEFAULT FALSE,
    status          TEXT NOT NULL DEFAULT 'unknown',   -- healthy, unhealthy, unknown
    -- Inbound notifications from this registry must carry it (sealed; '' accepts none).
    webhook_secret  TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE replication_policies (
    id                           BIGSERIAL PRIMARY KEY,
    name                         TEXT NOT NULL UNIQUE,
    description                  TEXT NOT NULL DEFAULT '',
    -- NULL is the local Berth; a registry in use by a policy cannot be deleted.
    src_registry_id              BIGINT REFERENCES replication_registries (id),
    dest_registry_id             BIGINT REFERENCES replication_registries (id),
    dest_namespace               TEXT NOT NULL DEFAULT '',
    dest_namespace_replace_count INTEGER NOT NULL DEFAULT -1,
    filters                      JSONB NOT NULL DEFAULT '[]',
    trigger                      JSONB NOT NULL DEFAULT '{"type": "manual"}',
    replicate_deletion           BOOLEAN NOT NULL DEFAULT FALSE,
    override                     BOOLEAN NOT NULL DEFAULT TRUE,
    enabled                      BOOLEAN NOT NULL DEFAULT TRUE,
    speed                        INTEGER NOT NULL DEFAULT -1,
    copy_by_chunk                BOOLEAN NOT NULL DEFAULT FALSE,
    single_active_replication    BOOLEAN NOT NULL DEFAULT FALSE,
    creator                      TEXT NOT NULL DEFAULT '',
    created_at                   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (src_registry_id IS NULL OR dest_registry_id IS NULL)
);

CREATE TABLE replication_executions (
    id          BIGSERIAL PRIMARY KEY,
    policy_id   BIGINT NOT NULL REFERENCES replication_policies (id) ON DELETE CASCADE,
    trigger     TEXT NOT NULL DEFAULT 'manual',    -- manual, scheduled, event_based
    -- InProgress until the tasks are done; then Succeed, Failed or Stopped.
    status      TEXT NOT NULL DEFAULT 'InProgress',
    status_text TEXT NOT NULL DEFAULT '',
    job_id      BIGINT REFERENCES jobs (id) ON DELETE SET NULL,   -- the listing step
    listed      BOOLEAN NOT NULL DEFAULT FALSE,    -- all tasks are recorded
    start_time  TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time    TIMESTAMPTZ
);
CREATE INDEX replication_executions_policy ON replication_executions (policy_id, id DESC);

CREATE TABLE replication_tasks (
    id            BIGSERIAL PRIMARY KEY,
    execution_id  BIGINT NOT NULL REFERENCES replication_executions (id) ON DELETE CASCADE,
    job_id        BIGINT REFERENCES jobs (id) ON DELETE SET NULL,
    operation     TEXT NOT NULL,                   -- copy, deletion, tag deletion
    resource_type TEXT NOT NULL DEFAULT 'image',
    src_resource  TEXT NOT NULL,
    dst_resource  TEXT NOT NULL
);
CREATE INDEX replication_tasks_execution ON replication_tasks (execution_id, id);
CREATE INDEX replication_tasks_job ON replication_tasks (job_id);

-- Jobs of an execution go with it.
CREATE FUNCTION replication_execution_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM jobs WHERE id = OLD.job_id
        OR id IN (SELECT job_id FROM replication_tasks WHERE execution_id = OLD.id);
    RETURN OLD;
END;
$$;

CREATE TRIGGER replication_execution_deleted BEFORE DELETE ON replication_executions
    FOR EACH ROW EXECUTE FUNCTION replication_execution_deleted();

-- A project with a registry is a proxy cache of that registry (pull-through; no pushes).
ALTER TABLE projects ADD COLUMN registry_id BIGINT REFERENCES replication_registries (id);
