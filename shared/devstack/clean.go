package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// databaseMark is the COMMENT of every database the local stack creates:
// Clean drops only databases that bear it.
const databaseMark = "created by the JobWeaver local stack (make run); make clean drops it"

// Clean resets everything the local stack keeps: it drops the service
// databases it created on the server at cfg.DatabaseURL (those named
// <prefix>_api, _scheduler, _worker and _dlq that bear its mark; a
// database of that name it did not create is left alone and named), and
// removes cfg.DataDir (the broker's log, a private Postgres cluster, the
// state file). Each thing it drops or leaves is a line on out. A stack
// running on cfg.DataDir is an error, and nothing is touched.
//
// A server that does not answer is not an error: its databases cannot be
// dropped now (out says so), DATA_DIR is removed all the same, and a
// later start re-drives whatever those databases had in flight on the new
// broker.
func Clean(ctx context.Context, cfg Config, out io.Writer) error {
	out = discardIfNil(out)
	cfg = cfg.withDefaults()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("devstack: DATA_DIR %s: %w", cfg.DataDir, err)
	}
	if _, err := os.Stat(dir); err == nil {
		lock, err := lockData(dir)
		if errors.Is(err, errLocked) {
			return fmt.Errorf("devstack: a local stack (pid %d) is running on DATA_DIR %s: stop it (Ctrl-C) before make clean", lockHolder(dir), dir)
		}
		if err != nil {
			return err
		}
		defer lock.unlock()
	}

	server := pgdb.Redact(cfg.DatabaseURL)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, cfg.DatabaseURL)
	cancel()
	if err != nil {
		fmt.Fprintf(out, "Postgres at %s does not answer (%v): no database dropped there.\n", server, err)
		fmt.Fprintf(out, "  If make run used it, start it and run make clean again to drop %v.\n", dbNames(cfg.DatabasePrefix))
	} else {
		conn.Close(ctx)
		dropped := 0
		for _, name := range dbNames(cfg.DatabasePrefix) {
			comment, exists, err := pgdb.DatabaseComment(ctx, cfg.DatabaseURL, name)
			switch {
			case err != nil:
				return fmt.Errorf("devstack: %w", err)
			case !exists:
				continue
			case comment != databaseMark:
				fmt.Fprintf(out, "left database %s on %s alone: make run did not create it (it lacks make run's mark). If it is make run's data, drop it yourself: DROP DATABASE %s;\n",
					name, server, pgx.Identifier{name}.Sanitize())
				continue
			}
			if err := pgdb.DropDatabase(ctx, cfg.DatabaseURL, name); err != nil {
				return fmt.Errorf("devstack: drop database %s on %s: %w", name, server, err)
			}
			dropped++
			fmt.Fprintf(out, "dropped database %s on %s\n", name, server)
		}
		if dropped == 0 {
			fmt.Fprintf(out, "no make run database on %s to drop\n", server)
		}
	}

	if _, err := os.Stat(dir); err == nil {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("devstack: remove DATA_DIR %s: %w", dir, err)
		}
		fmt.Fprintf(out, "removed %s (the broker's log and offsets, a private Postgres cluster if any, the state file)\n", dir)
	}
	return nil
}
