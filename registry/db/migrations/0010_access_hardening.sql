-- Access hardening.

-- A robot's permission names its project by id, resolved once when the robot is created or
-- updated: a namespace is matched neither by name nor by a number that happens to be a name.
-- NULL for the '*' namespace (every project). A permission whose project is deleted goes with
-- it, so a project re-created under the same name is not opened to the robot.
ALTER TABLE robot_permissions
    ADD COLUMN project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE;
UPDATE robot_permissions AS rp SET project_id = p.id
    FROM projects AS p
    WHERE rp.namespace <> '*' AND p.name = rp.namespace;
DELETE FROM robot_permissions WHERE namespace <> '*' AND project_id IS NULL;
CREATE INDEX robot_permissions_project ON robot_permissions (project_id);

-- A value sealed with the secret key when it was first used with this database: a process
-- started with another key finds it cannot open it, and refuses to start instead of failing
-- on every sealed secret (the key itself never enters the database).
CREATE TABLE secret_key_check (
    singleton       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    sealed          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
