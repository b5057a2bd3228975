package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/outbox"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// A broker that lost its log (make clean kept an external Postgres's
// databases, or DATA_DIR/kafka was removed) no longer holds the records
// the databases sent to it: run-jobs of RUNNING jobs, results on their
// way back. Left alone, those jobs wait for their lease (15 minutes by
// default) and, MaxInFlight being reached, hold back every new job.
//
// So at start the stack compares the broker's cluster ID with the one
// the scheduler's database recorded (scheduler.Service.Broker). It is a
// new broker when the IDs differ, or when none was recorded and the
// embedded broker has just been created. Then the stack re-drives the
// RUNNING jobs at once (scheduler.Service.Redrive: the same attempt, sent
// again, no attempt charged) and re-sends every function's unsent outbox
// rows, says so, and records the new ID. Jobs the api accepted whose
// job-created the scheduler never ingested (it was in the old broker)
// get their job-created again (reingest), and FAILED jobs whose dead
// letter the dlq never stored get it again (deadLetterAgain).
//
// None of this is needed after a restart on the same broker (a kill -9
// included): its log still holds every record the offsets have not
// passed.

// brokerCheck is what checkBroker found and did.
type brokerCheck struct {
	ClusterID, Recorded string
	New                 bool
	Running, Unsent     int // RUNNING jobs and unsent outbox rows in the scheduler's database when checked
	Redriven            int // RUNNING jobs re-driven
	Reingested          int // accepted jobs the scheduler never ingested, sent again
	DeadLettered        int // dead letters the dlq never stored, sent again
	Resent              int // outbox rows re-sent, all functions
}

// checkBroker compares the broker with the one the databases recorded,
// re-drives their work if it is new, and records it. It runs once the
// databases are migrated and before the event-source mappings start.
func (in *infra) checkBroker(ctx context.Context, cfg Config, log *slog.Logger) (brokerCheck, error) {
	var bc brokerCheck
	id, err := in.clusterID(ctx)
	if err != nil {
		return bc, err
	}
	bc.ClusterID = id
	open := func(name string) (*wiring.Deps, error) {
		url, err := pgdb.WithDatabase(in.dbURL, cfg.DatabasePrefix+"_"+name)
		if err != nil {
			return nil, err
		}
		kcfg := in.kafka
		kcfg.ClientID = "jobweaver-devstack-" + name
		return wiring.Open(ctx, name, url, 2, false, nil, kcfg, log)
	}
	deps, err := open(invoke.Scheduler)
	if err != nil {
		return bc, fmt.Errorf("devstack: check the broker: %w", err)
	}
	defer deps.Close()
	sched, err := scheduler.New(cfg.Scheduler, deps)
	if err != nil {
		return bc, fmt.Errorf("devstack: check the broker: %w", err)
	}
	if bc.Recorded, err = sched.Broker(ctx); err != nil {
		return bc, fmt.Errorf("devstack: %w", err)
	}
	bc.New = bc.Recorded != id && (bc.Recorded != "" || in.freshBroker)
	if bc.New {
		if bc.Running, bc.Unsent, err = sched.InFlight(ctx); err != nil {
			return bc, fmt.Errorf("devstack: %w", err)
		}
		if bc.Redriven, err = sched.Redrive(ctx); err != nil {
			return bc, fmt.Errorf("devstack: re-drive the RUNNING jobs: %w", err)
		}
		all := map[string]*wiring.Deps{invoke.Scheduler: deps}
		for _, name := range Functions {
			if all[name] != nil {
				continue
			}
			d, err := open(name)
			if err != nil {
				return bc, fmt.Errorf("devstack: re-drive: %w", err)
			}
			defer d.Close()
			all[name] = d
		}
		if bc.Reingested, err = reingest(ctx, all[invoke.API].Pool, deps.Pool); err != nil {
			return bc, err
		}
		if bc.DeadLettered, err = deadLetterAgain(ctx, sched, all[invoke.DLQ].Pool); err != nil {
			return bc, err
		}
		// Every function's unsent rows: the re-driven run-jobs, job-created
		// and dead letters included.
		for _, name := range Functions {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			n, err := all[name].Relay.Drain(dctx)
			cancel()
			bc.Resent += n
			if err != nil {
				// Not fatal: the rows stay, and the functions' own relays
				// (the tick, the next invocation) try again.
				log.Warn("re-sending an outbox to the new broker failed; its relay will retry", "function", name, "resent", n, "error", err.Error())
			}
		}
		level := slog.LevelDebug // a first start: nothing was in flight
		if bc.Redriven+bc.Reingested+bc.DeadLettered+bc.Resent > 0 {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "the Kafka broker is new: it holds none of the records the databases sent; re-drove the work in flight",
			"clusterId", id, "recordedClusterId", bc.Recorded, "runningJobs", bc.Running, "unsentSchedulerOutboxRows", bc.Unsent,
			"redrivenJobs", bc.Redriven, "reingestedJobs", bc.Reingested, "deadLettersSentAgain", bc.DeadLettered, "resentOutboxRows", bc.Resent)
	}
	if bc.Recorded != id {
		if err := sched.RecordBroker(ctx, id); err != nil {
			return bc, fmt.Errorf("devstack: %w", err)
		}
	}
	return bc, nil
}

// clusterID asks the brokers for their cluster ID.
func (in *infra) clusterID(ctx context.Context) (string, error) {
	cl, err := in.kafkaClient("jobweaver-devstack")
	if err != nil {
		return "", err
	}
	defer cl.Close()
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(mctx)
	if err != nil {
		return "", fmt.Errorf("devstack: ask Kafka at %v for its cluster ID: %w", in.brokers, err)
	}
	if md.Cluster == "" {
		return "", errors.New("devstack: the Kafka brokers report no cluster ID")
	}
	return md.Cluster, nil
}

// reingestChunk is how many api jobs reingest compares at once.
const reingestChunk = 2000

// reingest writes a job-created event to the api's outbox for every job
// the api accepted that the scheduler does not have: its job-created was
// published to a broker that is gone. The scheduler ingests a job once
// (by its ID), so a job-created that was not lost after all changes
// nothing. It returns how many it wrote.
//
// This is the local stack acting as an operator across two services'
// databases, reading only the api's accepted jobs (jobs: id, job_type,
// payload, max_retry_count, trace_id, created_at, created_by) and the scheduler's
// job IDs; the functions themselves never do.
func reingest(ctx context.Context, api, sched *pgxpool.Pool) (int, error) {
	total, after := 0, uuid.Nil.String()
	for {
		rows, err := api.Query(ctx, `
			SELECT id::text, job_type, payload::text, max_retry_count, trace_id, created_at, created_by
			  FROM jobs WHERE id > $1::uuid ORDER BY id LIMIT $2`, after, reingestChunk)
		if err != nil {
			return total, fmt.Errorf("devstack: re-ingest: read the api's jobs: %w", err)
		}
		type job struct {
			id, jobType, payload, traceID string
			createdBy                     string
			maxRetry                      int
			created                       time.Time
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
			var j job
			err := r.Scan(&j.id, &j.jobType, &j.payload, &j.maxRetry, &j.traceID, &j.created, &j.createdBy)
			return j, err
		})
		if err != nil {
			return total, fmt.Errorf("devstack: re-ingest: read the api's jobs: %w", err)
		}
		if len(jobs) == 0 {
			return total, nil
		}
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.id
		}
		rows, err = sched.Query(ctx, `SELECT id::text FROM jobs WHERE id = ANY($1::uuid[])`, ids)
		if err != nil {
			return total, fmt.Errorf("devstack: re-ingest: read the scheduler's jobs: %w", err)
		}
		known, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return total, fmt.Errorf("devstack: re-ingest: read the scheduler's jobs: %w", err)
		}
		have := make(map[string]bool, len(known))
		for _, id := range known {
			have[id] = true
		}
		var envs []envelope.Envelope
		for _, j := range jobs {
			if have[j.id] {
				continue
			}
			e, err := envelope.New(envelope.TypeJobCreated, j.traceID, j.id, envelope.JobCreated{
				JobSpec:   envelope.JobSpec{JobType: j.jobType, Payload: json.RawMessage(j.payload), MaxRetryCount: j.maxRetry},
				CreatedAt: j.created.UTC(),
				CreatedBy: j.createdBy,
			})
			if err != nil {
				return total, err
			}
			envs = append(envs, e)
		}
		if len(envs) > 0 {
			if err := pgx.BeginFunc(ctx, api, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, envs...) }); err != nil {
				return total, fmt.Errorf("devstack: re-ingest: %w", err)
			}
			total += len(envs)
		}
		if len(jobs) < reingestChunk {
			return total, nil
		}
		after = jobs[len(jobs)-1].id
	}
}

// deadLetterAgain has the scheduler send again the dead letter of every
// FAILED job the dlq has no entry for (dead_letters.job_id): it was in the
// old broker. It returns how many it sent.
func deadLetterAgain(ctx context.Context, sched *scheduler.Service, dlq *pgxpool.Pool) (int, error) {
	total, after := 0, ""
	for {
		ids, err := sched.FailedJobs(ctx, after, reingestChunk)
		if err != nil {
			return total, fmt.Errorf("devstack: %w", err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		rows, err := dlq.Query(ctx, `SELECT DISTINCT job_id::text FROM dead_letters WHERE job_id = ANY($1::uuid[])`, ids)
		if err != nil {
			return total, fmt.Errorf("devstack: read the dlq's entries: %w", err)
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return total, fmt.Errorf("devstack: read the dlq's entries: %w", err)
		}
		have := make(map[string]bool, len(stored))
		for _, id := range stored {
			have[id] = true
		}
		var missing []string
		for _, id := range ids {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		n, err := sched.DeadLetterAgain(ctx, missing)
		total += n
		if err != nil {
			return total, fmt.Errorf("devstack: %w", err)
		}
		if len(ids) < reingestChunk {
			return total, nil
		}
		after = ids[len(ids)-1]
	}
}
