-- Scheduling: what each run needs (its fair-share project, GPUs on one worker and
-- memory per GPU), the runs a stage waits for, the GPUs an attempt holds, and
-- cooperative preemption (an attempt asked to stop for a higher-priority run ends
-- as 'preempted'; its run is queued again without using up a restart).
ALTER TABLE runs ADD COLUMN project text NOT NULL DEFAULT 'default';
ALTER TABLE runs ADD COLUMN gpus int NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN gpu_memory_bytes bigint NOT NULL DEFAULT 0;
-- Attempts that ended by preemption; restarts left = max_restarts - (attempt - 1 - this).
ALTER TABLE runs ADD COLUMN preempted_attempts int NOT NULL DEFAULT 0;

-- A stage (run_id) starts only after each run it depends on has succeeded.
CREATE TABLE run_dependencies (
  run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  depends_on bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  PRIMARY KEY (run_id, depends_on)
);

ALTER TABLE attempts ADD COLUMN gpus int[] NOT NULL DEFAULT '{}';  -- device indices on its worker
ALTER TABLE attempts ADD COLUMN preempt_requested boolean NOT NULL DEFAULT false;
ALTER TABLE attempts DROP CONSTRAINT attempts_state_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_state_check
  CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled', 'lost', 'preempted'));
