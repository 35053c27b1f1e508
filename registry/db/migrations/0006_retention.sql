-- Tag retention: at most one policy per project. Its executions are RETENTION jobs (parameters
-- carry the policy id) and their per-repository tasks RETENTION_TASK jobs (parent_id = the
-- execution); its schedule is the schedules row owned by 'retention:<id>'.

CREATE TABLE retention_policies (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    algorithm       TEXT NOT NULL DEFAULT 'or' CHECK (algorithm = 'or'),
    rules           JSONB NOT NULL DEFAULT '[]',   -- Harbor RetentionRule objects
    trigger         JSONB NOT NULL,                -- {"kind": "Schedule", "settings": {"cron": …}}
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX jobs_retention_policy ON jobs ((parameters ->> 'policy_id'), id DESC)
    WHERE kind = 'RETENTION';

-- A policy goes with its project (ON DELETE CASCADE above) as well as through the API; either
-- way its schedule and its execution records must go too, or the scheduler would keep starting
-- jobs for a policy that no longer exists. Tasks follow their execution (jobs.parent_id).
CREATE FUNCTION retention_policy_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM schedules WHERE kind = 'RETENTION' AND owner = 'retention:' || OLD.id;
    DELETE FROM jobs WHERE kind = 'RETENTION' AND parameters ->> 'policy_id' = OLD.id::text;
    RETURN OLD;
END;
$$;

CREATE TRIGGER retention_policy_deleted AFTER DELETE ON retention_policies
    FOR EACH ROW EXECUTE FUNCTION retention_policy_deleted();
