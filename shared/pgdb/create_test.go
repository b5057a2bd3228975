package pgdb_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

func TestCreateDatabaseMarksOnlyWhatItCreates(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.AdminDSN(t)
	name := fmt.Sprintf("jwtest_pgdb_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() { _ = pgdb.DropDatabase(context.Background(), admin, name) })

	if _, exists, err := pgdb.DatabaseComment(ctx, admin, name); err != nil || exists {
		t.Fatalf("DatabaseComment before = exists %v, %v", exists, err)
	}
	const mark = "made by a test; it's ours"
	created, err := pgdb.CreateDatabase(ctx, admin, name, mark)
	if err != nil || !created {
		t.Fatalf("CreateDatabase = %v, %v; want created", created, err)
	}
	if c, exists, err := pgdb.DatabaseComment(ctx, admin, name); err != nil || !exists || c != mark {
		t.Fatalf("DatabaseComment = %q, %v, %v; want %q", c, exists, err, mark)
	}
	// A database that exists is neither created nor marked again.
	if created, err := pgdb.CreateDatabase(ctx, admin, name, "another mark"); err != nil || created {
		t.Fatalf("second CreateDatabase = %v, %v; want not created", created, err)
	}
	if c, _, _ := pgdb.DatabaseComment(ctx, admin, name); c != mark {
		t.Fatalf("comment = %q after the second CreateDatabase; want %q", c, mark)
	}
	if err := pgdb.EnsureDatabase(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	if err := pgdb.DropDatabase(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	if _, exists, err := pgdb.DatabaseComment(ctx, admin, name); err != nil || exists {
		t.Fatalf("after drop: exists %v, %v", exists, err)
	}
}
