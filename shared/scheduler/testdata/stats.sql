-- The scheduler's state for TestStats: what GET /internal/stats reports.
-- Jobs: three PENDING and due (the oldest due for 120 s, one of them a
-- retry), one PENDING not yet due, two RUNNING, one COMPLETED.
INSERT INTO jobs (id, job_type, payload, max_retry_count, trace_id, status, attempts, next_run_at, created_at) VALUES
  ('00000000-0000-7000-8000-000000000001', 'SIMULATION', '{}', 3, 't', 'PENDING',   0, now() - interval '120 seconds', now()),
  ('00000000-0000-7000-8000-000000000002', 'SIMULATION', '{}', 3, 't', 'PENDING',   0, now() - interval '10 seconds',  now()),
  ('00000000-0000-7000-8000-000000000003', 'SIMULATION', '{}', 3, 't', 'PENDING',   1, now() - interval '30 seconds',  now()),
  ('00000000-0000-7000-8000-000000000004', 'SIMULATION', '{}', 3, 't', 'PENDING',   1, now() + interval '1 hour',      now()),
  ('00000000-0000-7000-8000-000000000005', 'SIMULATION', '{}', 3, 't', 'RUNNING',   1, now(),                          now()),
  ('00000000-0000-7000-8000-000000000006', 'SIMULATION', '{}', 3, 't', 'RUNNING',   2, now(),                          now()),
  ('00000000-0000-7000-8000-000000000007', 'SIMULATION', '{}', 3, 't', 'COMPLETED', 1, now(),                          now());

-- Attempts: five minutes ago two completed, one failed, one lease expiry
-- and one cancelled; 30 minutes ago one failed; 90 minutes ago (outside
-- the hour) one completed; one still running (not finished).
INSERT INTO job_attempts (job_id, attempt, dispatched_at, finished_at, outcome) VALUES
  ('00000000-0000-7000-8000-000000000007', 1, now(), now() - interval '5 minutes',  'COMPLETED'),
  ('00000000-0000-7000-8000-000000000006', 1, now(), now() - interval '5 minutes',  'COMPLETED'),
  ('00000000-0000-7000-8000-000000000003', 1, now(), now() - interval '5 minutes',  'FAILED'),
  ('00000000-0000-7000-8000-000000000004', 1, now(), now() - interval '5 minutes',  'LEASE_EXPIRED'),
  ('00000000-0000-7000-8000-000000000001', 9, now(), now() - interval '5 minutes',  'CANCELLED'),
  ('00000000-0000-7000-8000-000000000002', 9, now(), now() - interval '30 minutes', 'FAILED'),
  ('00000000-0000-7000-8000-000000000005', 9, now(), now() - interval '90 minutes', 'COMPLETED'),
  ('00000000-0000-7000-8000-000000000005', 1, now(), NULL, NULL);

-- The outbox: two rows waiting, one parked.
INSERT INTO outbox (topic, value) VALUES ('job-dead-letter', 'a'), ('run-job', 'b');
INSERT INTO outbox_parked (outbox_id, topic, value, created_at, error) VALUES (1, 'run-job', 'c', now(), 'MESSAGE_TOO_LARGE');
