-- Webhook policies: per project, which events are sent where. A delivery is a row of `jobs`
-- (kind 'WEBHOOK', parameters->>'policy_id' naming the policy): Harbor's "executions".

CREATE TABLE webhook_policies (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    event_types     TEXT[] NOT NULL,
    -- [{"type": "http"|"slack", "address", "auth_header", "skip_cert_verify",
    --   "payload_format": "Default"|"CloudEvents"}]
    targets         JSONB NOT NULL,
    creator         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- A policy's deliveries, newest first (the executions list and the last-trigger view).
CREATE INDEX jobs_webhook_policy ON jobs ((parameters->>'policy_id'), id DESC)
    WHERE kind = 'WEBHOOK';

-- Deliveries go with their policy, also when the project (and so the policy) is deleted.
CREATE FUNCTION delete_webhook_deliveries() RETURNS trigger AS $$
BEGIN
    DELETE FROM jobs WHERE kind = 'WEBHOOK' AND parameters->>'policy_id' = OLD.id::text;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhook_policies_deliveries AFTER DELETE ON webhook_policies
    FOR EACH ROW EXECUTE FUNCTION delete_webhook_deliveries();
