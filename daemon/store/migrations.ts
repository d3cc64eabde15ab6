/**
 * Versioned schema migrations. Migration i (0-based) brings the schema from
 * version i to i + 1; `PRAGMA user_version` records the version reached.
 * Append new migrations; never edit one that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    phase TEXT NOT NULL,
    phase_data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX deployments_service ON deployments (service, created_at);

  CREATE TABLE transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    from_phase TEXT NOT NULL,
    to_phase TEXT NOT NULL,
    event TEXT NOT NULL,
    at INTEGER NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX transitions_deployment ON transitions (deployment_id, id);

  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT,
    service TEXT NOT NULL,
    at INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    threshold REAL NOT NULL,
    model_version INTEGER,
    explanation TEXT NOT NULL
  );
  CREATE INDEX decisions_deployment ON decisions (deployment_id, id);
  CREATE INDEX decisions_service ON decisions (service, id);
  CREATE INDEX decisions_at ON decisions (at);

  CREATE TABLE cells (
    service TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    segment TEXT NOT NULL,
    second INTEGER NOT NULL,
    deployment_id TEXT,
    stats TEXT NOT NULL,
    PRIMARY KEY (service, second, endpoint, segment)
  ) WITHOUT ROWID;
  CREATE INDEX cells_second ON cells (second);

  CREATE TABLE histograms (
    service TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    arm TEXT NOT NULL,
    minute INTEGER NOT NULL,
    count INTEGER NOT NULL,
    encoded TEXT NOT NULL,
    PRIMARY KEY (service, minute, endpoint, arm)
  ) WITHOUT ROWID;
  CREATE INDEX histograms_minute ON histograms (minute);

  CREATE TABLE models (
    version INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    params TEXT NOT NULL,
    trained_on TEXT NOT NULL
  );
  `,
  // 2: chaos experiment runs, so that a restarted daemon resumes or closes them.
  `
  CREATE TABLE chaos_runs (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    phase TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX chaos_runs_service ON chaos_runs (service, started_at);
  `,
  // 3: A/B experiments, so that a restarted daemon resumes them.
  `
  CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    stable TEXT NOT NULL,
    phase TEXT NOT NULL,
    spec TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    stopped_at INTEGER,
    stop_reason TEXT,
    harmful INTEGER NOT NULL,
    decision TEXT NOT NULL,
    decided_at INTEGER,
    transitions TEXT NOT NULL,
    latest TEXT NOT NULL,
    series TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX experiments_service ON experiments (service, started_at);
  `,
];
