-- Experiments, runs and their attempts, workers, metric points and log lines.
-- Times are timestamptz; run and attempt states are the lower-case names of
-- gwo::server::RunState ('lost': the worker went away during the attempt).

CREATE TABLE workers (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  hostname      text NOT NULL DEFAULT '',
  devices       text NOT NULL DEFAULT '[]',  -- JSON array, for display
  slots         int NOT NULL DEFAULT 1,
  online        boolean NOT NULL DEFAULT true,
  registered_at timestamptz NOT NULL DEFAULT now(),
  last_seen     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE experiments (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL,
  spec_yaml       text NOT NULL,
  idempotency_key text UNIQUE,  -- NULL when none was given
  cancelled       boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);

CREATE TABLE runs (
  id            bigserial PRIMARY KEY,
  experiment_id bigint NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  name          text NOT NULL,
  variant       text NOT NULL,
  dataset       text NOT NULL,
  seed          bigint NOT NULL,
  spec_yaml     text NOT NULL,
  state         text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  priority      int NOT NULL DEFAULT 0,
  attempt       int NOT NULL DEFAULT 0,  -- 0 before the first claim
  max_restarts  int NOT NULL DEFAULT 3,
  worker_id     bigint REFERENCES workers (id),  -- worker of the current attempt
  step          bigint NOT NULL DEFAULT 0,  -- highest step reported by the current attempt
  total_steps   bigint NOT NULL DEFAULT 0,
  error         text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,  -- first claim
  finished_at   timestamptz,
  UNIQUE (experiment_id, name)
);
-- ClaimNextRun: the queued run of highest priority, then oldest.
CREATE INDEX runs_queue ON runs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX runs_worker ON runs (worker_id) WHERE state = 'running';

CREATE TABLE attempts (
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  attempt     int NOT NULL,
  worker_id   bigint REFERENCES workers (id),
  state       text NOT NULL
              CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled', 'lost')),
  error       text NOT NULL DEFAULT '',
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (run_id, attempt)
);

-- One value per (run, attempt, step, name), written once. The key starts with
-- (run_id, name, step) so that reading a run's series is an index range scan.
CREATE TABLE metrics (
  run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name    text NOT NULL,
  step    bigint NOT NULL,
  attempt int NOT NULL,
  value   double precision NOT NULL,
  PRIMARY KEY (run_id, name, step, attempt)
);

-- Per run and name, the point at the highest step (highest attempt on ties),
-- maintained by RecordMetrics so listing runs does not scan their series.
CREATE TABLE latest_metrics (
  run_id  bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name    text NOT NULL,
  step    bigint NOT NULL,
  attempt int NOT NULL,
  value   double precision NOT NULL,
  PRIMARY KEY (run_id, name)
);

CREATE TABLE run_logs (
  id         bigserial PRIMARY KEY,
  run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  attempt    int NOT NULL,
  line       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_logs_by_run ON run_logs (run_id, id);
