-- Recovery: requeue backoff, archived metric points of abandoned attempts, and
-- numbered log lines so a replayed report is stored once.

-- A run requeued after a lost or crashed attempt is not claimed before this time.
ALTER TABLE runs ADD COLUMN not_before timestamptz;

-- Points of an earlier attempt past the step a later attempt resumed from: kept,
-- but not part of the run's series.
ALTER TABLE metrics ADD COLUMN archived boolean NOT NULL DEFAULT false;

-- Line number within the attempt's log (from 1), NULL for lines stored before this
-- migration; a line is stored once per number.
ALTER TABLE run_logs ADD COLUMN line_no bigint;
CREATE UNIQUE INDEX run_logs_line ON run_logs (run_id, attempt, line_no);
