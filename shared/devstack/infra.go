package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgserver"
)

// infra is the plumbing the functions share: brokers and a Postgres server.
type infra struct {
	brokers []string
	// kafka is the brokers and how to connect to them; kafkaOpts are its
	// Opts, which every client of the stack gets (producers through
	// kafka.NewProducer).
	kafka     kafka.Config
	kafkaOpts []kgo.Opt
	embedded  *kfake.Cluster // nil for external brokers
	// freshBroker is true when the embedded broker started with no log
	// (no DATA_DIR/kafka/meta.json): whatever the databases had sent to a
	// broker is gone.
	freshBroker bool
	pg          *pgserver.Server
	dbURL       string // the server's maintenance database
	out         io.Writer
}

// openInfra starts (or connects to) Kafka and Postgres.
func openInfra(ctx context.Context, cfg Config, out io.Writer) (_ *infra, err error) {
	in := &infra{out: out}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	kcfg := cfg.Kafka
	if len(kcfg.Brokers) == 0 {
		if in.embedded, in.freshBroker, err = startBroker(cfg.DataDir, cfg.KafkaPort, cfg.KafkaSyncWrites); err != nil {
			return nil, err
		}
		kcfg = kafka.Config{Brokers: in.embedded.ListenAddrs()}
	}
	if err := in.setKafka(kcfg); err != nil {
		return nil, err
	}
	if err := in.ensureTopics(ctx); err != nil {
		return nil, err
	}
	in.pg, err = pgserver.Find(ctx, cfg.DatabaseURL, filepath.Join(cfg.DataDir, "postgres"), out, cfg.PostgresOptions...)
	if err != nil {
		return nil, err
	}
	in.dbURL = in.pg.URL
	return in, nil
}

// setKafka makes c the brokers and security of every client.
func (in *infra) setKafka(c kafka.Config) error {
	opts, err := c.Opts()
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	c.ClientID = ""
	in.brokers, in.kafka, in.kafkaOpts = c.Brokers, c, opts
	return nil
}

// kafkaAuth is c's KAFKA_AUTH in lower case, or "" for none.
func kafkaAuth(c kafka.Config) kafka.Auth {
	a := kafka.Auth(strings.ToLower(strings.TrimSpace(string(c.Auth))))
	if a == kafka.AuthNone {
		return ""
	}
	return a
}

// kafkaEnv is the environment that connects a function to c's brokers:
// KAFKA_BROKERS and, unless c is plaintext, KAFKA_AUTH and its settings.
func kafkaEnv(c kafka.Config) map[string]string {
	env := map[string]string{"KAFKA_BROKERS": strings.Join(c.Brokers, ",")}
	auth := kafkaAuth(c)
	if auth == "" {
		return env
	}
	env["KAFKA_AUTH"] = string(auth)
	for name, v := range map[string]string{
		"KAFKA_TLS_CA_FILE":    c.TLSCAFile,
		"KAFKA_SASL_MECHANISM": c.SASLMechanism,
		"KAFKA_SASL_USERNAME":  c.SASLUsername,
		"KAFKA_SASL_PASSWORD":  c.SASLPassword,
	} {
		if v != "" {
			env[name] = v
		}
	}
	return env
}

// runningKafka is how a one-shot invocation reaches the brokers of the
// stack that st describes: plaintext as that stack does, or with the
// security settings of own (this process's KAFKA_AUTH and its settings),
// which must name the same KAFKA_AUTH.
func runningKafka(st state, own kafka.Config) (kafka.Config, error) {
	if st.KafkaAuth == "" {
		return kafka.Config{Brokers: st.Brokers}, nil
	}
	if kafkaAuth(own) != st.KafkaAuth {
		return kafka.Config{}, fmt.Errorf("devstack: the running local stack (pid %d) connects to Kafka at %s with KAFKA_AUTH=%s: set KAFKA_BROKERS, KAFKA_AUTH and its settings as for it",
			st.PID, strings.Join(st.Brokers, ","), st.KafkaAuth)
	}
	own.Brokers = st.Brokers
	return own, nil
}

// kafkaClient returns a client of the stack's brokers with its security
// options.
func (in *infra) kafkaClient(clientID string) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(in.brokers...), kgo.ClientID(clientID)}, in.kafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("devstack: kafka client for %v: %w", in.brokers, err)
	}
	return cl, nil
}

// close closes the embedded broker (which flushes its log) and stops a
// private Postgres.
func (in *infra) close() {
	if in.embedded != nil {
		in.embedded.Close()
		in.embedded = nil
	}
	if in.pg != nil && in.pg.Private {
		if err := in.pg.Stop(); err != nil {
			fmt.Fprintf(in.out, "%v\n", err)
		}
		in.pg = nil
	}
}

// startBroker starts the embedded Kafka-protocol broker persisting to
// dataDir/kafka, on port if it is free and on a random port otherwise.
//
// Every write reaches the OS before the produce is acknowledged, so a hard
// kill of the process loses nothing; syncWrites adds an fsync per batch,
// which also survives a power cut, at a large cost in throughput (a real
// Kafka broker does not fsync per batch either by default).
//
// A broker with no log yet gets a cluster ID of its own (kfake's default
// is the same for every cluster, "kfake"), which it persists; fresh says
// so. The stack compares the ID with the one its databases recorded
// (see redrive.go).
func startBroker(dataDir string, port int, syncWrites bool) (_ *kfake.Cluster, fresh bool, _ error) {
	dir := filepath.Join(dataDir, "kafka")
	_, err := os.Stat(filepath.Join(dir, "meta.json"))
	fresh = errors.Is(err, fs.ErrNotExist)
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(dir), kfake.ClusterID("jobweaver-" + uuid.NewString())}
	if syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	for _, t := range kafka.Topics {
		opts = append(opts, kfake.SeedTopics(t.Partitions, t.Name))
	}
	if port > 0 {
		c, err := kfake.NewCluster(append(opts, kfake.Ports(port))...)
		if err == nil {
			return c, fresh, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, false, brokerError(dir, err)
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, false, brokerError(dir, err)
	}
	return c, fresh, nil
}

func brokerError(dir string, err error) error {
	return fmt.Errorf("devstack: start the embedded Kafka broker on %s: %v (remove %s, or run `make clean`, to start afresh)", dir, err, dir)
}

// ensureTopics creates the lifecycle topics that are missing.
func (in *infra) ensureTopics(ctx context.Context) error {
	cl, err := in.kafkaClient("jobweaver-devstack")
	if err != nil {
		return err
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(tctx, cl, kafka.Topics); err != nil {
		return fmt.Errorf("devstack: Kafka at %s (auth %s): %w", strings.Join(in.brokers, ","), in.kafka.Describe(), err)
	}
	return nil
}

// databases creates the service databases that are missing, with the
// mark Clean looks for, and returns each one's URL.
func databases(ctx context.Context, adminURL, prefix string, names []string) (map[string]string, error) {
	urls := map[string]string{}
	for _, n := range names {
		db := prefix + "_" + n
		if _, err := pgdb.CreateDatabase(ctx, adminURL, db, databaseMark); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		u, err := pgdb.WithDatabase(adminURL, db)
		if err != nil {
			return nil, err
		}
		urls[n] = u
	}
	return urls, nil
}

// The data folder's lock and state file tell a one-shot invocation
// whether a local stack already runs on it, and where its plumbing is.

const (
	lockName  = "devstack.lock"
	stateName = "devstack.json"
)

// state is what a running stack records in DATA_DIR/devstack.json.
type state struct {
	PID          int      `json:"pid"`
	Brokers      []string `json:"brokers"`
	DatabaseURL  string   `json:"databaseUrl"`
	APIURL       string   `json:"apiUrl"`
	SchedulerURL string   `json:"schedulerUrl"`
	WorkerURL    string   `json:"workerUrl"`
	// KafkaAuth is the KAFKA_AUTH the stack connects with ("" for none);
	// a one-shot invocation takes its settings (no Kafka secret is written
	// here) from its own environment.
	KafkaAuth kafka.Auth `json:"kafkaAuth,omitempty"`
	// InternalSecret is this run's secret for writes to the internal
	// routes (Front.Secret), made at start; the file is 0600.
	InternalSecret string `json:"internalSecret,omitempty"`
}

// dataLock is an exclusive flock on DATA_DIR/devstack.lock.
type dataLock struct{ f *os.File }

// errLocked says another process holds the data folder.
var errLocked = errors.New("data folder in use")

func lockData(dir string) (*dataLock, error) {
	// 0700: the folder holds the state file (DATABASE_URL, the internal
	// routes' secret), the broker's log and a private Postgres.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: create DATA_DIR %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("devstack: lock %s: %w", dir, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &dataLock{f}, nil
}

func (l *dataLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// lockHolder returns the PID recorded by the holder of dir's lock, or 0.
func lockHolder(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func writeState(dir string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	// The state names DATABASE_URL and the internal routes' secret: only
	// the owner reads it. CreateTemp makes the file 0600 whatever the umask.
	f, err := os.CreateTemp(dir, stateName+".*.tmp")
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateName))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("devstack: write %s: %w", filepath.Join(dir, stateName), err)
	}
	return nil
}

func readState(dir string) (state, error) {
	var s state
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("devstack: %s: %w", filepath.Join(dir, stateName), err)
	}
	return s, nil
}
