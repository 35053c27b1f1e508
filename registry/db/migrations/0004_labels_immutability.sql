-- Labels (global, or owned by one project) and the artifacts they are attached to; immutable
-- tag rules per project.

CREATE TABLE labels (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    color           TEXT NOT NULL DEFAULT '',
    scope           CHAR(1) NOT NULL CHECK (scope IN ('g', 'p')),
    project_id      BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A global label belongs to no project; a project label to exactly one.
    CHECK ((scope = 'g') = (project_id IS NULL))
);
-- NULLs never collide in a plain UNIQUE constraint, so global labels are keyed on project 0.
CREATE UNIQUE INDEX labels_name ON labels (name, scope, COALESCE(project_id, 0));
CREATE INDEX labels_project ON labels (project_id) WHERE project_id IS NOT NULL;

CREATE TABLE artifact_labels (
    artifact_id     BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    label_id        BIGINT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (artifact_id, label_id)
);
CREATE INDEX artifact_labels_label ON artifact_labels (label_id);

CREATE TABLE immutable_rules (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    priority        INTEGER NOT NULL DEFAULT 0,
    template        TEXT NOT NULL DEFAULT 'immutable_template',
    tag_selectors   JSONB NOT NULL,     -- [{"kind","decoration","pattern"}]
    scope_selectors JSONB NOT NULL,     -- {"repository": [{"kind","decoration","pattern"}]}
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One rule per selector set in a project, as Harbor keeps it; jsonb's text form is canonical
-- (sorted keys, fixed spacing), and hashing keeps long patterns under the btree size limit.
CREATE UNIQUE INDEX immutable_rules_selectors
    ON immutable_rules (project_id, md5(tag_selectors::text || scope_selectors::text));
