-- Chart repositories (ChartMuseum API).
--
-- A chart version uploaded through /api/chartrepo is stored as an OCI chart artifact in the
-- repository <project>/<name> (tag: the version with '+' as '_', as Helm pushes it), so its
-- bytes are blobs like any other: counted in the project's quota, collected by GC. This table
-- holds what the index needs, and goes with its artifact however that is deleted.
CREATE TABLE chart_versions (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    artifact_id     BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    chart_digest    TEXT NOT NULL,
    chart_size      BIGINT NOT NULL,
    prov_digest     TEXT,
    metadata        JSONB NOT NULL,
    -- The version's index.yaml entry, written once (see registry/charts/index.py).
    index_entry     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name, version)
);
CREATE INDEX chart_versions_artifact ON chart_versions (artifact_id);

-- Bumped by every change to a project's chart versions, whatever made it (an upload, a
-- delete through either API, a cascade): a cached index names the revision it was built at.
-- No foreign key, so the trigger still works while a project is being deleted.
CREATE TABLE chart_index_revisions (
    project_id      BIGINT PRIMARY KEY,
    revision        BIGINT NOT NULL DEFAULT 1
);

CREATE FUNCTION bump_chart_index_revision() RETURNS trigger AS $$
BEGIN
    INSERT INTO chart_index_revisions AS r (project_id)
        VALUES (COALESCE(NEW.project_id, OLD.project_id))
        ON CONFLICT (project_id) DO UPDATE SET revision = r.revision + 1;
    IF TG_OP = 'UPDATE' AND NEW.project_id <> OLD.project_id THEN
        INSERT INTO chart_index_revisions AS r (project_id) VALUES (OLD.project_id)
            ON CONFLICT (project_id) DO UPDATE SET revision = r.revision + 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER chart_versions_changed
    AFTER INSERT OR UPDATE OR DELETE ON chart_versions
    FOR EACH ROW EXECUTE FUNCTION bump_chart_index_revision();
