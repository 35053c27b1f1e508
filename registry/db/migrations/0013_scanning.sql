-- Scanning, SBOMs and signatures: scanner registrations (Harbor's pluggable scanners), the
-- scanner each project uses, scan reports per artifact and scanner, CVE allowlists and the
-- cosign public keys a project trusts.

CREATE TABLE scanner_registrations (
    id                  BIGSERIAL PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    url                 TEXT NOT NULL UNIQUE,
    auth                TEXT NOT NULL DEFAULT '',       -- '', Basic, Bearer, X-ScannerAdapter-API-Key
    access_credential   TEXT NOT NULL DEFAULT '',       -- sealed with the secret key
    skip_cert_verify    BOOLEAN NOT NULL DEFAULT FALSE,
    use_internal_addr   BOOLEAN NOT NULL DEFAULT FALSE,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    is_default          BOOLEAN NOT NULL DEFAULT FALSE,
    immutable           BOOLEAN NOT NULL DEFAULT FALSE, -- the scanner berth serve runs itself
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX scanner_registrations_one_default ON scanner_registrations (is_default)
    WHERE is_default;

CREATE TABLE project_scanners (
    project_id          BIGINT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    registration_id     BIGINT NOT NULL REFERENCES scanner_registrations (id) ON DELETE CASCADE
);

CREATE TABLE scan_reports (
    id                  BIGSERIAL PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    artifact_id         BIGINT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    digest              TEXT NOT NULL,
    registration_id     BIGINT NOT NULL REFERENCES scanner_registrations (id) ON DELETE CASCADE,
    scan_type           TEXT NOT NULL,                  -- vulnerability, sbom
    mime_type           TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'Pending',-- Pending, Running, Success, Error, Stopped
    job_id              BIGINT,                         -- the SCAN job (jobs are purged on their own)
    scanner             JSONB,                          -- {name, vendor, version}
    report              JSONB,
    severity            TEXT,
    summary             JSONB,                          -- {total, fixable, summary: {sev: n}}
    sbom_digest         TEXT,
    trigger             TEXT NOT NULL DEFAULT 'MANUAL',
    start_time          TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time            TIMESTAMPTZ,
    UNIQUE (artifact_id, registration_id, scan_type)
);
CREATE INDEX scan_reports_job ON scan_reports (job_id);

CREATE TABLE cve_allowlists (
    id                  BIGSERIAL PRIMARY KEY,
    project_id          BIGINT UNIQUE REFERENCES projects (id) ON DELETE CASCADE, -- NULL: system
    items               JSONB NOT NULL DEFAULT '[]',    -- [{"cve_id": "CVE-…"}]
    expires_at          BIGINT,                         -- unix seconds; NULL never
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX cve_allowlists_one_system ON cve_allowlists ((project_id IS NULL))
    WHERE project_id IS NULL;

CREATE TABLE cosign_keys (
    id                  BIGSERIAL PRIMARY KEY,
    project_id          BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    public_key          TEXT NOT NULL,                  -- PEM
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
