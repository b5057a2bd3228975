package api

import (
	"context"
	"strconv"
	"testing"

	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

// BenchmarkCreateJob measures the submission's database write alone
// (createJob, createBatch: the jobs, their outbox rows and, since issue
// #12, their audit row, in one statement or transaction), without HTTP
// or the publish. Compare runs with `go test -bench CreateJob -count 5`.
func BenchmarkCreateJob(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b, Migrations())
	job, err := jobspec.Decode([]byte(sampleJob), jobspec.Default)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("single", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := createJob(ctx, pool, job, "", "bench", "bench-caller"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("single-with-key", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := createJob(ctx, pool, job, b.Name()+strconv.Itoa(i), "bench", "bench-caller"); err != nil {
				b.Fatal(err)
			}
		}
	})
	batch := make([]jobspec.Job, 100)
	for i := range batch {
		batch[i] = job
	}
	b.Run("batch-100-with-key", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := createBatch(ctx, pool, batch, b.Name()+strconv.Itoa(i), "bench", "bench-caller"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
