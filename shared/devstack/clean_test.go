package devstack

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/pgdb"
)

func TestCleanDropsOnlyTheDatabasesTheStackCreated(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	names := dbNames(cfg.DatabasePrefix)
	// A worker database that was there before the stack: not its own.
	foreign := cfg.DatabasePrefix + "_worker"
	if err := pgdb.EnsureDatabase(ctx, cfg.DatabaseURL, foreign); err != nil {
		t.Fatal(err)
	}
	s := start(t, cfg)
	waitStatus(t, s.APIURL, submit(t, s.APIURL), "COMPLETED")

	// Not while the stack runs.
	var out bytes.Buffer
	if err := Clean(ctx, cfg, &out); err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Fatalf("Clean while running = %v; want an error saying to stop the stack", err)
	}
	for _, name := range names {
		if _, exists, err := pgdb.DatabaseComment(ctx, cfg.DatabaseURL, name); err != nil || !exists {
			t.Fatalf("database %s after a refused Clean: exists %v, %v", name, exists, err)
		}
	}
	s.Close()

	out.Reset()
	if err := Clean(ctx, cfg, &out); err != nil {
		t.Fatalf("Clean: %v\n%s", err, out.String())
	}
	for _, name := range names {
		_, exists, err := pgdb.DatabaseComment(ctx, cfg.DatabaseURL, name)
		if err != nil {
			t.Fatal(err)
		}
		if name == foreign {
			if !exists || !strings.Contains(out.String(), "left database "+foreign) {
				t.Errorf("the foreign database %s: exists %v; want it kept and named:\n%s", foreign, exists, out.String())
			}
			continue
		}
		if exists || !strings.Contains(out.String(), "dropped database "+name+" on ") {
			t.Errorf("database %s: exists %v; want it dropped and listed:\n%s", name, exists, out.String())
		}
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("DATA_DIR %s after Clean: %v", cfg.DataDir, err)
	}
	if !strings.Contains(out.String(), "removed "+cfg.DataDir) {
		t.Errorf("Clean does not say it removed DATA_DIR:\n%s", out.String())
	}

	// Again: nothing left of the stack's, and no error.
	out.Reset()
	if err := Clean(ctx, cfg, &out); err != nil || !strings.Contains(out.String(), "no make run database") {
		t.Errorf("second Clean = %v:\n%s", err, out.String())
	}
}

func TestCleanWithoutPostgresStillRemovesTheDataFolder(t *testing.T) {
	cfg := Config{DataDir: t.TempDir() + "/data", DatabaseURL: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2"}
	if err := os.MkdirAll(cfg.DataDir+"/kafka", 0o700); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Clean(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "does not answer") || !strings.Contains(out.String(), "run make clean again") {
		t.Errorf("Clean does not say the server did not answer:\n%s", out.String())
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("DATA_DIR after Clean: %v", err)
	}
}
