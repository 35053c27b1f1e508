-- The rest of Harbor's management API.

-- Paused job queues: a job of a paused kind (or of any kind, while 'all' is paused) is not
-- started by a worker; it waits, Pending, until the queue is resumed.
CREATE TABLE job_queue_pauses (
    job_type        TEXT PRIMARY KEY,       -- a job kind, or 'all'
    paused_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A robot permission may be limited to the repositories of its project that match a pattern
-- (namespace "team/app-*"): the doublestar pattern over the repository path below the
-- project. NULL: every repository of the project.
ALTER TABLE robot_permissions ADD COLUMN repository_pattern TEXT;

-- How a retention policy judges: 'artifact' (Harbor's: an artifact no rule retains is deleted
-- with all its tags) or 'tag' (each tag is judged alone; a tag no rule retains is removed,
-- the artifact stays).
ALTER TABLE retention_policies ADD COLUMN mode TEXT NOT NULL DEFAULT 'artifact'
    CHECK (mode IN ('artifact', 'tag'));

-- Users who sign in through an OpenID Connect provider: their subject there (issuer and
-- sub), and the CLI secret they use for docker/helm logins instead of a password (its scrypt
-- hash is checked; the sealed copy is shown to its owner, as Harbor does).
CREATE TABLE oidc_users (
    user_id         BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    subject         TEXT NOT NULL UNIQUE,
    secret_hash     TEXT,
    secret_sealed   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
