-- Core content model: projects hold repositories; blobs are stored once and linked to the
-- projects that hold them; artifacts are manifests in a repository; tags point at artifacts.

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email           TEXT,
    realname        TEXT NOT NULL DEFAULT '',
    password_hash   TEXT,
    sysadmin        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    owner_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    public          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE repositories (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    pull_count      BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX repositories_project ON repositories (project_id);
-- _catalog pages by name in C collation so the order is byte-wise lexical, as the spec asks.
CREATE INDEX repositories_name_c ON repositories (name COLLATE "C");

CREATE TABLE blobs (
    id              BIGSERIAL PRIMARY KEY,
    digest          TEXT NOT NULL UNIQUE,
    size            BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Which projects hold a blob: quota accounting and the guard against reading a blob by
-- guessing its digest in a project the caller cannot pull from.
CREATE TABLE project_blobs (
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    blob_id         BIGINT NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, blob_id)
);
CREATE INDEX project_blobs_blob ON project_blobs (blob_id);

CREATE TABLE artifacts (
    id              BIGSERIAL PRIMARY KEY,
    repository_id   BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    artifact_type   TEXT,
    config_media_type TEXT,
    size            BIGINT NOT NULL,
    manifest        BYTEA NOT NULL,
    subject_digest  TEXT,
    annotations     JSONB,
    pushed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    pulled_at       TIMESTAMPTZ,
    UNIQUE (repository_id, digest)
);
CREATE INDEX artifacts_subject ON artifacts (repository_id, subject_digest)
    WHERE subject_digest IS NOT NULL;
CREATE INDEX artifacts_digest ON artifacts (digest);

-- Blobs a manifest names (config and layers): drives GC and per-repository blob visibility.
CREATE TABLE artifact_blobs (
    artifact_id     BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    blob_id         BIGINT NOT NULL REFERENCES blobs (id),
    PRIMARY KEY (artifact_id, blob_id)
);
CREATE INDEX artifact_blobs_blob ON artifact_blobs (blob_id);

-- Index → child manifests.
CREATE TABLE artifact_references (
    parent_id       BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    child_id        BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    platform        JSONB,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX artifact_references_child ON artifact_references (child_id);

CREATE TABLE tags (
    id              BIGSERIAL PRIMARY KEY,
    repository_id   BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    artifact_id     BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    pushed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    pulled_at       TIMESTAMPTZ,
    UNIQUE (repository_id, name)
);
CREATE INDEX tags_artifact ON tags (artifact_id);
CREATE INDEX tags_repo_name_c ON tags (repository_id, name COLLATE "C");

CREATE TABLE upload_sessions (
    id              UUID PRIMARY KEY,
    repository      TEXT NOT NULL,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    size            BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX upload_sessions_updated ON upload_sessions (updated_at);
