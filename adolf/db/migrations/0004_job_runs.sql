-- every job run: what ran, with which arguments (secrets masked), how it ended, and the business objects it concerns
CREATE TABLE job_runs (
    id             bigserial PRIMARY KEY,
    job_id         text NOT NULL,
    job_name       text NOT NULL,
    lane           text NOT NULL,
    try            integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('success', 'failed', 'retry', 'deferred', 'cancelled')),
    args           jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at     timestamptz NOT NULL,
    duration_ms    double precision NOT NULL CHECK (duration_ms >= 0),
    error_code     text,
    error_message  text,
    result         jsonb,
    draft_id       uuid,
    publication_id uuid,
    niche_id       uuid,
    analysis_id    uuid
);
CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC);
CREATE INDEX job_runs_name_idx ON job_runs (job_name, started_at DESC);
CREATE INDEX job_runs_status_idx ON job_runs (status, started_at DESC) WHERE status <> 'success';
CREATE INDEX job_runs_job_id_idx ON job_runs (job_id);
CREATE INDEX job_runs_draft_idx ON job_runs (draft_id) WHERE draft_id IS NOT NULL;
CREATE INDEX job_runs_niche_idx ON job_runs (niche_id) WHERE niche_id IS NOT NULL;
