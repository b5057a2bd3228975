package provision

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
)

func TestHandleRoutesAndDecodes(t *testing.T) {
	var gotDB databasesProps
	var gotTopics []kafka.Topic
	h := &Handler{
		log: logging.New("migrate", nil),
		databases: func(_ context.Context, p databasesProps) (map[string]any, error) {
			gotDB = p
			return map[string]any{"api": "jobweaver_api"}, nil
		},
		topics: func(_ context.Context, p topicsProps) (map[string]any, error) {
			var err error
			gotTopics, err = p.topics()
			return nil, err
		},
	}
	ctx := context.Background()
	resp, err := h.Handle(ctx, cfn.Event{RequestType: cfn.RequestCreate, ResourceType: TypeDatabases, ResourceProperties: map[string]any{
		"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:x", "Host": "db.example", "Port": "5432",
		"MasterSecretArn": "arn:master", "MigrationsHash": "abc",
		"Services": []any{map[string]any{"Name": "api", "Database": "jobweaver_api", "SecretArn": "arn:api"}},
	}})
	if err != nil || resp.PhysicalResourceID != physicalDatabases || resp.Data["api"] != "jobweaver_api" {
		t.Fatalf("databases create: %+v, %v", resp, err)
	}
	if gotDB.Host != "db.example" || len(gotDB.Services) != 1 || gotDB.Services[0].SecretArn != "arn:api" {
		t.Errorf("databases props decoded as %+v", gotDB)
	}

	resp, err = h.Handle(ctx, cfn.Event{RequestType: cfn.RequestUpdate, ResourceType: TypeTopics, PhysicalResourceID: physicalTopics,
		ResourceProperties: map[string]any{"Topics": []any{map[string]any{"Name": "job-created", "Partitions": "6"}}}})
	if err != nil || resp.PhysicalResourceID != physicalTopics {
		t.Fatalf("topics update: %+v, %v", resp, err)
	}
	if len(gotTopics) != 1 || gotTopics[0] != (kafka.Topic{Name: "job-created", Partitions: 6}) {
		t.Errorf("topics decoded as %+v", gotTopics)
	}

	_, err = h.Handle(ctx, cfn.Event{RequestType: cfn.RequestCreate, ResourceType: TypeTopics,
		ResourceProperties: map[string]any{"Topics": []any{map[string]any{"Name": "x", "Partitions": "zero"}}}})
	if err == nil {
		t.Error("a bad partition count was accepted")
	}

	// Delete keeps everything and calls nothing.
	h.databases, h.topics = nil, nil
	resp, err = h.Handle(ctx, cfn.Event{RequestType: cfn.RequestDelete, ResourceType: TypeDatabases, PhysicalResourceID: physicalDatabases})
	if err != nil || resp.PhysicalResourceID != physicalDatabases {
		t.Errorf("delete: %+v, %v", resp, err)
	}
	if _, err := h.Handle(ctx, cfn.Event{RequestType: cfn.RequestCreate, ResourceType: "Custom::Other"}); err == nil {
		t.Error("an unknown resource type was accepted")
	}
}

func TestProvisionDatabasesReadsSecrets(t *testing.T) {
	secrets := map[string]string{
		"arn:master": `{"username":"admin","password":"pw"}`,
		"arn:api":    `{"username":"jobweaver_api","password":"p1"}`,
	}
	h := &Handler{secrets: func(_ context.Context, arn string) (string, error) {
		if s, ok := secrets[arn]; ok {
			return s, nil
		}
		return "", errors.New("no such secret")
	}}
	var p databasesProps
	p.Host, p.MasterSecretArn = "127.0.0.1", "arn:master"
	p.Services = append(p.Services, struct {
		Name      string `json:"Name"`
		Database  string `json:"Database"`
		SecretArn string `json:"SecretArn"`
	}{"api", "jobweaver_api", "arn:missing"})
	if _, err := h.provisionDatabases(context.Background(), p); err == nil {
		t.Fatal("a missing service secret was not reported")
	}
	p.Services[0].Name = "nope"
	p.Services[0].SecretArn = "arn:api"
	if _, err := h.provisionDatabases(context.Background(), p); err == nil {
		t.Fatal("an unknown service was accepted")
	}
}

// TestProvision runs Provision twice against a real server, as a master
// role that is no superuser but has CREATEDB and CREATEROLE (as on RDS),
// and checks what each service's role may do.
func TestProvision(t *testing.T) {
	admin := pgtest.AdminDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("jwmig_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	master := prefix + "_master"
	exec(t, admin, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD 'master-pw'", master))

	var services []Service
	for _, n := range []string{"api", "scheduler", "worker", "dlq"} {
		services = append(services, Service{Name: n, Database: prefix + "_" + n, User: prefix + "_" + n + "_user",
			Password: "it's a \"pw\" for " + n, Migrations: migrations[n]()})
	}
	t.Cleanup(func() {
		for _, s := range services {
			_ = pgdb.DropDatabase(context.Background(), admin, s.Database)
		}
		for _, s := range services {
			exec(t, admin, "DROP ROLE IF EXISTS "+ident(s.User))
		}
		exec(t, admin, "DROP ROLE IF EXISTS "+ident(master))
	})
	masterDSN := withUser(t, admin, master, "master-pw", "postgres")
	for i := 0; i < 2; i++ { // idempotent
		if err := Provision(ctx, logging.New("migrate", nil), masterDSN, services); err != nil {
			t.Fatalf("provision #%d: %v", i+1, err)
		}
	}

	api, sched := services[0], services[1]
	conn, err := pgx.Connect(ctx, withUser(t, admin, api.User, api.Password, api.Database))
	if err != nil {
		t.Fatalf("api role cannot connect to its database: %v", err)
	}
	defer conn.Close(ctx)
	var canWrite, canCreate bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege('outbox', 'INSERT,UPDATE,DELETE,SELECT'),
		has_schema_privilege('public', 'CREATE')`).Scan(&canWrite, &canCreate); err != nil {
		t.Fatal(err)
	}
	if !canWrite || canCreate {
		t.Errorf("api role: write outbox %v (want true), create in public %v (want false)", canWrite, canCreate)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE sneaky (i int)`); !isCode(err, "42501") {
		t.Errorf("api role created a table: %v", err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM goose_db_version`); !isCode(err, "42501") {
		t.Errorf("api role could touch goose_db_version: %v", err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM outbox`); err != nil {
		t.Errorf("api role cannot delete from its outbox: %v", err)
	}
	other, err := pgx.Connect(ctx, withUser(t, admin, api.User, api.Password, sched.Database))
	if err == nil {
		other.Close(ctx)
		t.Error("api role connected to the scheduler's database")
	} else if !isCode(err, "42501") {
		t.Errorf("api role on the scheduler's database: %v (want permission denied)", err)
	}
}

func TestEnsureTopicsCreatesAndGrows(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kafka.NewProducer(kafka.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, nil, cl, kafka.Topics); err != nil {
		t.Fatal(err)
	}
	grown := append([]kafka.Topic(nil), kafka.Topics...)
	grown[0].Partitions += 2
	if err := EnsureTopics(ctx, nil, cl, grown); err != nil {
		t.Fatal(err)
	}
	details, err := kadm.NewClient(cl).ListTopics(ctx, kafka.TopicNames()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range grown {
		if got := len(details[want.Name].Partitions); got != int(want.Partitions) {
			t.Errorf("%s has %d partitions, want %d", want.Name, got, want.Partitions)
		}
	}
}

func exec(t *testing.T, dsn, q string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func withUser(t *testing.T, dsn, user, password, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	u.Path = "/" + db
	return u.String()
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
