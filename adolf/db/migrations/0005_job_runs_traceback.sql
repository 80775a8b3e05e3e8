-- where an unexpected error (a bug, not a marketplace's or an operator's answer) was raised, for the dashboard
ALTER TABLE job_runs ADD COLUMN traceback text;
