-- Access: users with a role, projects and their members, bearer tokens (only salted
-- hashes are stored), and the audit log of every state-changing call.
--
-- Roles: a viewer reads the projects it is a member of; a member also submits and
-- cancels there; an admin does everything, in every project, and manages users,
-- projects and tokens. An experiment belongs to one project (resources.project).
CREATE TABLE users (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  role       text NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
  disabled   boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
  name       text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_members (
  project text NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (project, user_id)
);

-- A token is "<prefix>_<lookup>_<secret>": lookup finds the row, the secret is checked
-- against sha256(salt || secret). Worker tokens (kind 'worker') open only the worker
-- stream; user tokens (kind 'user') only the user API.
CREATE TABLE tokens (
  id           bigserial PRIMARY KEY,
  lookup       text NOT NULL UNIQUE,
  kind         text NOT NULL CHECK (kind IN ('user', 'worker')),
  user_id      bigint REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  salt         text NOT NULL,  -- hex
  hash         text NOT NULL,  -- hex sha256(salt || secret)
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,    -- NULL: never
  revoked_at   timestamptz,
  CHECK ((kind = 'user') = (user_id IS NOT NULL))
);

CREATE TABLE audit_log (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,  -- user name, "worker:<token name>", or "-" when unauthenticated
  method  text NOT NULL,  -- e.g. "ExperimentService/SubmitExperiment"
  target  text NOT NULL,  -- e.g. "exp-12", "user alice"
  peer    text NOT NULL,  -- the caller's address as gRPC reports it
  outcome text NOT NULL   -- "OK" or the status code and message
);

ALTER TABLE experiments ADD COLUMN project text NOT NULL DEFAULT 'default';
ALTER TABLE experiments ADD COLUMN owner text NOT NULL DEFAULT '';
UPDATE experiments e SET project = r.project
  FROM (SELECT DISTINCT ON (experiment_id) experiment_id, project FROM runs ORDER BY experiment_id, id) r
  WHERE r.experiment_id = e.id;
CREATE INDEX experiments_project ON experiments (project, id);
INSERT INTO projects (name) SELECT 'default' UNION SELECT DISTINCT project FROM experiments ON CONFLICT DO NOTHING;
