-- Management of repositories and artifacts: storage quotas per project, and artifact details
-- computed once (image config attributes).

CREATE TABLE quotas (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    hard_storage    BIGINT NOT NULL DEFAULT -1,       -- bytes; -1 is unlimited
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO quotas (project_id) SELECT id FROM projects;

ALTER TABLE artifacts
    ADD COLUMN extra_attrs JSONB,
    ADD COLUMN artifact_kind TEXT;     -- IMAGE, CHART, CNAB, UNKNOWN (Harbor's "type")

CREATE INDEX artifacts_repo_pushed ON artifacts (repository_id, pushed_at DESC);
