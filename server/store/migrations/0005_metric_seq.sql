-- Commit order of metric points, for live streams: a stream reads a run's points
-- with seq greater than the last one it sent. RecordMetrics locks the run row
-- before inserting, so per run seq increases in commit order and a reader that
-- saw seq s has seen every point of that run with a smaller seq.
ALTER TABLE metrics ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX metrics_by_seq ON metrics (run_id, seq);
-- The first step of each attempt (where it resumed), found with one index probe
-- per attempt: the clean series drops points of earlier attempts from there on.
CREATE INDEX metrics_by_attempt ON metrics (run_id, attempt, step);
