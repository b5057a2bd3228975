package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"sync"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// migrations are the embedded migrations of each service, the same the
// functions embed.
var migrations = map[string]func() fs.FS{
	"api":       api.Migrations,
	"scheduler": scheduler.Migrations,
	"worker":    worker.Migrations,
	"dlq":       dlq.Migrations,
}

// databasesProps are Custom::JobWeaverDatabases' properties.
type databasesProps struct {
	// Host and Port are the instance's endpoint (not the RDS Proxy's:
	// migrations take session-level advisory locks).
	Host string `json:"Host"`
	Port string `json:"Port"`
	// MasterSecretArn holds the master user's {username, password}.
	MasterSecretArn string `json:"MasterSecretArn"`
	Services        []struct {
		Name      string `json:"Name"`
		Database  string `json:"Database"`
		SecretArn string `json:"SecretArn"` // {username, password}
	} `json:"Services"`
	// SSLMode is the libpq sslmode (require on RDS; disable for tests).
	SSLMode string `json:"SSLMode"`
	// MigrationsHash only makes CloudFormation call an update when the
	// migrations change.
	MigrationsHash string `json:"MigrationsHash"`
}

// credentials are the fields of an RDS secret that matter here.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// secretReader returns a secret's string value.
type secretReader func(ctx context.Context, arn string) (string, error)

// lazySecrets reads secrets with a Secrets Manager client made on first
// use, from the default AWS configuration (the function's role, through
// the VPC's Secrets Manager endpoint).
func lazySecrets() secretReader {
	var (
		once   sync.Once
		client *secretsmanager.Client
		err    error
	)
	return func(ctx context.Context, arn string) (string, error) {
		once.Do(func() {
			cfg, e := awsconfig.LoadDefaultConfig(ctx)
			if e != nil {
				err = fmt.Errorf("migrate: load AWS configuration: %w", e)
				return
			}
			client = secretsmanager.NewFromConfig(cfg)
		})
		if err != nil {
			return "", err
		}
		out, e := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
		if e != nil {
			return "", fmt.Errorf("migrate: read secret %s: %w", arn, e)
		}
		if out.SecretString == nil {
			return "", fmt.Errorf("migrate: secret %s has no string value", arn)
		}
		return *out.SecretString, nil
	}
}

func (h *Handler) readCredentials(ctx context.Context, arn string) (credentials, error) {
	s, err := h.secrets(ctx, arn)
	if err != nil {
		return credentials{}, err
	}
	var c credentials
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return credentials{}, fmt.Errorf("migrate: secret %s is not JSON: %w", arn, err)
	}
	if c.Username == "" || c.Password == "" {
		return credentials{}, fmt.Errorf("migrate: secret %s lacks username or password", arn)
	}
	return c, nil
}

// provisionDatabases reads the secrets the properties name and provisions.
func (h *Handler) provisionDatabases(ctx context.Context, p databasesProps) (map[string]any, error) {
	if p.Host == "" || p.MasterSecretArn == "" || len(p.Services) == 0 {
		return nil, errors.New("migrate: Host, MasterSecretArn and Services are required")
	}
	master, err := h.readCredentials(ctx, p.MasterSecretArn)
	if err != nil {
		return nil, err
	}
	var services []Service
	for _, s := range p.Services {
		m, ok := migrations[s.Name]
		if !ok {
			return nil, fmt.Errorf("migrate: unknown service %q", s.Name)
		}
		c, err := h.readCredentials(ctx, s.SecretArn)
		if err != nil {
			return nil, err
		}
		services = append(services, Service{Name: s.Name, Database: s.Database, User: c.Username, Password: c.Password, Migrations: m()})
	}
	port := p.Port
	if port == "" {
		port = "5432"
	}
	sslmode := p.SSLMode
	if sslmode == "" {
		sslmode = "require"
	}
	admin := (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(master.Username, master.Password),
		Host:     net.JoinHostPort(p.Host, port),
		Path:     "/postgres",
		RawQuery: url.Values{"sslmode": {sslmode}, "connect_timeout": {"10"}}.Encode(),
	}).String()
	if err := Provision(ctx, h.log, admin, services); err != nil {
		return nil, err
	}
	data := map[string]any{}
	for _, s := range services {
		data[s.Name] = s.Database
	}
	return data, nil
}

// Service is one service's database, login role and migrations.
type Service struct {
	Name, Database, User, Password string
	Migrations                     fs.FS
}

// Provision makes, for each service, its login role (the password is set
// again each time, so a changed secret takes effect) and its database,
// applies its migrations as the admin user (who owns every table), and
// grants the role data privileges on its own database only: CONNECT and
// TEMPORARY on the database (revoked from PUBLIC, so no other role can
// connect), USAGE on schema public but not CREATE, SELECT, INSERT,
// UPDATE and DELETE on the tables (and their future ones), nothing on
// goose's version table. Provision is idempotent.
func Provision(ctx context.Context, log *slog.Logger, adminDSN string, services []Service) error {
	for _, s := range services {
		if s.Database == "" || s.User == "" || s.Migrations == nil {
			return fmt.Errorf("migrate: service %q: database, user and migrations are required", s.Name)
		}
		if err := provisionOne(ctx, adminDSN, s); err != nil {
			return fmt.Errorf("migrate: %s: %w", s.Name, err)
		}
		if log != nil {
			log.Info("database provisioned", slog.String("service", s.Name), slog.String("database", s.Database), slog.String("user", s.User))
		}
	}
	return nil
}

func provisionOne(ctx context.Context, adminDSN string, s Service) error {
	if err := ensureRole(ctx, adminDSN, s.User, s.Password); err != nil {
		return err
	}
	if err := pgdb.EnsureDatabase(ctx, adminDSN, s.Database); err != nil {
		return err
	}
	dsn, err := pgdb.WithDatabase(adminDSN, s.Database)
	if err != nil {
		return err
	}
	pool, err := pgdb.Open(ctx, dsn, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, s.Migrations); err != nil {
		return err
	}
	db, user := ident(s.Database), ident(s.User)
	stmts := []string{
		"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC",
		"GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO " + user,
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public TO " + user,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + user,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO " + user,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + user,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO " + user,
	}
	for _, q := range stmts {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	// The service never migrates (DB_MIGRATE stays false in Lambda): keep
	// it off goose's bookkeeping.
	var goose bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('public.goose_db_version') IS NOT NULL`).Scan(&goose); err != nil {
		return err
	}
	if goose {
		if _, err := pool.Exec(ctx, "REVOKE ALL ON public.goose_db_version FROM "+user); err != nil {
			return fmt.Errorf("revoke on goose_db_version: %w", err)
		}
	}
	return nil
}

// ensureRole creates the login role (no superuser, createdb or createrole:
// CREATE ROLE's defaults) or, if it exists, sets its password. The server
// quotes the name and the password (format's %I and %L). Only LOGIN and
// PASSWORD are named: on RDS the master is no superuser, and naming
// SUPERUSER or NOSUPERUSER at all needs one.
func ensureRole(ctx context.Context, adminDSN, user, password string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", pgdb.Redact(adminDSN), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, user).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", user, err)
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	var stmt string
	if err := conn.QueryRow(ctx, `SELECT format('`+verb+` ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)`,
		user, password).Scan(&stmt); err != nil {
		return fmt.Errorf("quote role %s: %w", user, err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s role %s: %w", verb, user, err)
	}
	return nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
