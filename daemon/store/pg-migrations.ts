/**
 * The PostgreSQL schema's migrations, its own line of versions (the SQLite
 * schema has its own, migrations.ts). Migration i (0-based) brings the schema
 * from version i to i + 1; `umbra_schema.version` records the version reached.
 * Append new migrations; never edit one that has shipped.
 *
 * Same tables and columns as SQLite (and `cells.daemon`), so both stores share one row mapping;
 * JSON stays TEXT (returned exactly as written). The tables named `umbra_*`
 * exist only here: several daemons on one database.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    phase TEXT NOT NULL,
    phase_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX deployments_service ON deployments (service, created_at);

  CREATE TABLE transitions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    from_phase TEXT NOT NULL,
    to_phase TEXT NOT NULL,
    event TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX transitions_deployment ON transitions (deployment_id, id);

  CREATE TABLE decisions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id TEXT,
    service TEXT NOT NULL,
    at BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
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
    second BIGINT NOT NULL,
    deployment_id TEXT,
    stats TEXT NOT NULL,
    -- The daemon that aggregated the cell: each keeps its own, and reads add them up.
    daemon TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service, second, endpoint, segment, daemon)
  );
  CREATE INDEX cells_second ON cells (second);

  CREATE TABLE histograms (
    service TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    arm TEXT NOT NULL,
    minute BIGINT NOT NULL,
    count BIGINT NOT NULL,
    encoded TEXT NOT NULL,
    PRIMARY KEY (service, minute, endpoint, arm)
  );
  CREATE INDEX histograms_minute ON histograms (minute);

  CREATE TABLE models (
    version INTEGER PRIMARY KEY,
    created_at BIGINT NOT NULL,
    params TEXT NOT NULL,
    trained_on TEXT NOT NULL
  );

  -- The leader's lease: one row per name; token grows by one with every new holder (the fencing token).
  CREATE TABLE umbra_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    address TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );

  -- Daemons on this database: the configuration each runs and when it last said so.
  CREATE TABLE umbra_daemons (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
  );
  `,
  // 2: per-daemon watermarks of closed seconds (daemon/ha/merged-seconds.ts).
  `
  -- The last second each daemon closed: its cells of every second up to it are saved.
  CREATE TABLE umbra_watermarks (
    daemon TEXT PRIMARY KEY,
    second BIGINT NOT NULL
  );
  `,
  // 3: what the leader publishes over xDS, served by every daemon (daemon/parts/xds-share.ts).
  `
  -- Per node, the snapshot the leader last published (its encoded resources) and its versions.
  CREATE TABLE umbra_xds (
    node TEXT PRIMARY KEY,
    versions TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    token BIGINT NOT NULL
  );
  -- ACKs and NACKs proxies sent to daemons that do not lead, for the leader's refusal handling.
  CREATE TABLE umbra_xds_answers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    daemon TEXT NOT NULL,
    kind TEXT NOT NULL,
    answer TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
  );
  `,
  // 4: histograms per daemon, as cells: reads add them up (pg-sql.ts mergeHistograms).
  `
  ALTER TABLE histograms ADD COLUMN daemon TEXT NOT NULL DEFAULT '';
  ALTER TABLE histograms DROP CONSTRAINT histograms_pkey;
  ALTER TABLE histograms ADD PRIMARY KEY (service, minute, endpoint, arm, daemon);
  `,
  // 5: chaos experiment runs, so that a restarted daemon resumes or closes them.
  `
  CREATE TABLE chaos_runs (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    phase TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX chaos_runs_service ON chaos_runs (service, started_at);
  `,
  // 6: A/B experiments, so that a restarted daemon (or the next leader) resumes them.
  `
  CREATE TABLE experiments (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    stable TEXT NOT NULL,
    phase TEXT NOT NULL,
    spec TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    stopped_at BIGINT,
    stop_reason TEXT,
    harmful INTEGER NOT NULL,
    decision TEXT NOT NULL,
    decided_at BIGINT,
    transitions TEXT NOT NULL,
    latest TEXT NOT NULL,
    series TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX experiments_service ON experiments (service, started_at);
  `,
  // 7: telemetry to every daemon (daemon/ha/telemetry-members.ts, daemon/ha/control-orders.ts).
  `
  -- The address the proxies reach each daemon's telemetry at (daemon.telemetry.advertise); NULL: not told.
  ALTER TABLE umbra_daemons ADD COLUMN telemetry TEXT;
  -- The leader's current order to each service's filters; every daemon sends it on its own streams.
  CREATE SEQUENCE umbra_control_seq;
  CREATE TABLE umbra_control (
    service TEXT PRIMARY KEY,
    percentage DOUBLE PRECISION,
    paused BOOLEAN,
    split DOUBLE PRECISION,
    token BIGINT NOT NULL,
    seq BIGINT NOT NULL
  );
  `,
  // 8: the proxies on each daemon's xDS, whose ACKs the leader waits for (daemon/ha/remote-proxies.ts).
  `
  -- The nodes with an ADS stream open on each daemon that does not lead, with what they ACKed there
  -- (JSON, by short type name) and their standing refusal (JSON NackRecord): the leader waits for their ACKs.
  CREATE TABLE umbra_xds_streams (
    daemon TEXT NOT NULL,
    node TEXT NOT NULL,
    acked TEXT NOT NULL,
    nack TEXT,
    PRIMARY KEY (daemon, node)
  );
  `,
];
