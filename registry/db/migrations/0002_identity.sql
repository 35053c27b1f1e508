-- Identity and access: external users, groups, project members, robot accounts, the token
-- signing keys, system configuration and the audit log.

ALTER TABLE users
    ADD COLUMN comment       TEXT NOT NULL DEFAULT '',
    ADD COLUMN source        TEXT NOT NULL DEFAULT 'db',  -- 'db' or 'ldap'
    ADD COLUMN external_id   TEXT,                        -- LDAP DN
    ADD COLUMN password_changed_at TIMESTAMPTZ;
CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email IS NOT NULL AND email <> '';

ALTER TABLE projects ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}';
UPDATE projects SET metadata = jsonb_build_object('public', CASE WHEN public THEN 'true' ELSE 'false' END);

CREATE TABLE user_groups (
    id              BIGSERIAL PRIMARY KEY,
    group_name      TEXT NOT NULL,
    group_type      INTEGER NOT NULL DEFAULT 1,           -- Harbor: 1 LDAP, 2 HTTP, 3 OIDC
    ldap_group_dn   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_groups_dn ON user_groups (lower(ldap_group_dn)) WHERE ldap_group_dn IS NOT NULL;
CREATE UNIQUE INDEX user_groups_name ON user_groups (group_type, group_name)
    WHERE ldap_group_dn IS NULL;

-- Group memberships as the identity backend reported them at the user's last login.
CREATE TABLE user_group_members (
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id        BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_group_members_group ON user_group_members (group_id);

CREATE TABLE project_members (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    entity_type     CHAR(1) NOT NULL CHECK (entity_type IN ('u', 'g')),
    entity_id       BIGINT NOT NULL,
    role            INTEGER NOT NULL CHECK (role BETWEEN 1 AND 5),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, entity_type, entity_id)
);
CREATE INDEX project_members_entity ON project_members (entity_type, entity_id);

CREATE TABLE robots (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,          -- the part after robot$ (project robots: project+name)
    description     TEXT NOT NULL DEFAULT '',
    level           TEXT NOT NULL CHECK (level IN ('system', 'project')),
    project_id      BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    secret_hash     TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    duration        INTEGER NOT NULL DEFAULT -1,   -- days; -1 never expires
    expires_at      TIMESTAMPTZ,
    creator         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (name)
);
CREATE INDEX robots_project ON robots (project_id);

-- What a robot may do where: namespace is a project name or '*' (every project).
CREATE TABLE robot_permissions (
    robot_id        BIGINT NOT NULL REFERENCES robots (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL DEFAULT 'project',
    namespace       TEXT NOT NULL,
    access          JSONB NOT NULL,         -- [{"resource","action","effect"}]
    PRIMARY KEY (robot_id, kind, namespace)
);

CREATE TABLE token_keys (
    kid             TEXT PRIMARY KEY,
    private_pem     TEXT NOT NULL,
    public_pem      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE configurations (
    key             TEXT PRIMARY KEY,
    value           JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
    id              BIGSERIAL PRIMARY KEY,
    project_id      BIGINT,
    operation       TEXT NOT NULL,      -- create, delete, pull, push, update, ...
    resource_type   TEXT NOT NULL,      -- artifact, project, member, user, robot, ...
    resource        TEXT NOT NULL,
    username        TEXT NOT NULL,
    op_time         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_time ON audit_logs (op_time);
CREATE INDEX audit_logs_project ON audit_logs (project_id, op_time);
