// Package pgserver finds a Postgres server to use: the one at a given URL
// if it answers, or else a private cluster it starts under a data folder
// from the installed Postgres binaries.
//
// A private cluster lives in dataDir/pgdata and listens only on 127.0.0.1,
// on a port recorded in dataDir/port so that every restart reuses it, with
// its Unix socket in dataDir and its server log in dataDir/postgres.log.
// It is initialized with trust authentication, UTF8 and the superuser
// postgres, and keeps fsync on, so it survives a hard kill of the process
// that started it (or of Postgres itself: the next Find restarts it, and
// crash recovery replays the WAL).
//
// initdb and postgres refuse to run as root. When the caller is root, the
// data folder is handed to the postgres user (or nobody) and the binaries
// run as that user through runuser (or su).
package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultURL is where a local Postgres usually listens.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultPort is the port a new private cluster takes if it is free.
const DefaultPort = 54329

// ErrNoPostgres says neither a server nor binaries were found. The error
// Find returns wraps it and reads as one line saying what to do.
var ErrNoPostgres = errors.New("no Postgres found")

// NoPostgresError is returned by Find when nothing answered at URL and no
// Postgres binaries were found. It wraps ErrNoPostgres.
type NoPostgresError struct {
	URL string
}

func (e *NoPostgresError) Error() string {
	return fmt.Sprintf("no Postgres answered at %s and no Postgres binaries were found; "+
		"install with `sudo apt-get install postgresql` or set DATABASE_URL", redact(e.URL))
}

func (e *NoPostgresError) Unwrap() error { return ErrNoPostgres }

// Server is a reachable Postgres server.
type Server struct {
	URL     string // maintenance database URL
	Private bool   // true if it is a private cluster under DataDir
	// For a private cluster:
	DataDir string // the folder given to Find
	Port    int
	Started bool // this Find started it (false: it was already running)
	stop    func() error
}

// Stop stops a private cluster (pg_ctl stop -m fast); it does nothing for
// an external server.
func (s *Server) Stop() error {
	if s == nil || s.stop == nil {
		return nil
	}
	return s.stop()
}

// Option adjusts Find.
type Option func(*options)

type options struct {
	binDirs   []string // nil: search PATH and the Debian/Ubuntu layout
	port      int
	runAs     string // "" picks postgres or nobody when root
	pingLimit time.Duration
}

// WithBinDirs makes Find look for initdb and pg_ctl only in dirs (in that
// order) instead of PATH and /usr/lib/postgresql/*/bin. An empty list
// means no binaries, as on a machine without Postgres.
func WithBinDirs(dirs ...string) Option {
	return func(o *options) { o.binDirs = append([]string{}, dirs...) }
}

// WithPort makes a new private cluster prefer port instead of DefaultPort.
func WithPort(port int) Option {
	return func(o *options) { o.port = port }
}

// Find returns the server at url if it answers. Otherwise, if Postgres's
// binaries are installed, it starts (or restarts, or finds running) a
// private cluster under dataDir and returns that. Progress lines go to log
// (may be nil). If there is neither, the error is a *NoPostgresError.
func Find(ctx context.Context, url, dataDir string, log io.Writer, opts ...Option) (*Server, error) {
	o := options{port: DefaultPort, pingLimit: 3 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = io.Discard
	}
	var pingErr error
	if url != "" {
		if pingErr = ping(ctx, url, o.pingLimit); pingErr == nil {
			return &Server{URL: url}, nil
		}
	}
	bin, err := findBinaries(o.binDirs, dataDir)
	if err != nil {
		return nil, err
	}
	if bin == "" {
		return nil, &NoPostgresError{URL: url}
	}
	if pingErr != nil {
		fmt.Fprintf(log, "no Postgres answered at %s (%v); using the binaries in %s\n", redact(url), pingErr, bin)
	}
	if dataDir == "" {
		return nil, fmt.Errorf("pgserver: no Postgres answered at %s and no data folder was given for a private cluster", redact(url))
	}
	return startPrivate(ctx, bin, dataDir, log, o)
}

// cluster holds what a private cluster needs.
type cluster struct {
	bin     string // folder with initdb, pg_ctl, postgres
	dir     string // absolute dataDir
	pgdata  string
	logFile string
	runAs   *user.User // nil: run as ourselves
}

func startPrivate(ctx context.Context, bin, dataDir string, log io.Writer, o options) (*Server, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pgserver: create %s: %w", dir, err)
	}
	// One process at a time sets the cluster up.
	unlock, err := lockFile(ctx, filepath.Join(dir, "setup.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	c := &cluster{bin: bin, dir: dir, pgdata: filepath.Join(dir, "pgdata"), logFile: filepath.Join(dir, "postgres.log")}
	if os.Geteuid() == 0 {
		if c.runAs, err = unprivilegedUser(o.runAs); err != nil {
			return nil, err
		}
		if err := c.handOver(log); err != nil {
			return nil, err
		}
	}
	if err := c.initdb(ctx, log); err != nil {
		return nil, err
	}

	port, err := c.port(o.port)
	if err != nil {
		return nil, err
	}
	srv := &Server{URL: c.url(port), Private: true, DataDir: dir, Port: port}
	srv.stop = func() error { return c.stopServer(context.Background()) }

	// Already running (left over by a process that was killed)? Reuse it.
	if c.running(ctx) {
		if err := waitReady(ctx, srv.URL, 15*time.Second); err == nil {
			fmt.Fprintf(log, "using private Postgres already running under %s (port %d)\n", c.pgdata, port)
			return srv, nil
		}
		// Running but not answering: stop it and start again below.
		fmt.Fprintf(log, "private Postgres under %s does not answer; restarting it\n", c.pgdata)
		_ = c.pgctl(ctx, "stop", "-D", c.pgdata, "-m", "fast", "-w", "-t", "60")
	}
	if !portFree(port) {
		old := port
		if port, err = freePort(0); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "port %d is taken; private Postgres moves to port %d\n", old, port)
		if err := c.savePort(port); err != nil {
			return nil, err
		}
		srv.URL, srv.Port = c.url(port), port
	}
	c.removeStalePID(log)
	fmt.Fprintf(log, "starting private Postgres under %s (port %d)\n", c.pgdata, port)
	if err := c.start(ctx, port); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, srv.URL, 30*time.Second); err != nil {
		return nil, fmt.Errorf("pgserver: private Postgres under %s started but does not answer at %s: %v", c.pgdata, redact(srv.URL), err)
	}
	srv.Started = true
	return srv, nil
}

func (c *cluster) url(port int) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// initdb creates the cluster if dataDir/pgdata holds none yet.
func (c *cluster) initdb(ctx context.Context, log io.Writer) error {
	if _, err := os.Stat(filepath.Join(c.pgdata, "PG_VERSION")); err == nil {
		return nil
	}
	// A folder without PG_VERSION is a failed earlier initdb: start over.
	if err := os.RemoveAll(c.pgdata); err != nil {
		return fmt.Errorf("pgserver: remove incomplete %s: %w", c.pgdata, err)
	}
	fmt.Fprintf(log, "initializing private Postgres cluster in %s\n", c.pgdata)
	out, err := c.run(ctx, "initdb", "-D", c.pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
	if err != nil {
		_ = os.RemoveAll(c.pgdata)
		return fmt.Errorf("pgserver: initdb %s failed: %v: %s", c.pgdata, err, lastLine(out))
	}
	return nil
}

// port returns the recorded port, or picks and records one.
func (c *cluster) port(preferred int) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "port"))
	if err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 {
			return p, nil
		}
	}
	p, err := freePort(preferred)
	if err != nil {
		return 0, err
	}
	return p, c.savePort(p)
}

func (c *cluster) savePort(p int) error {
	if err := os.WriteFile(filepath.Join(c.dir, "port"), []byte(strconv.Itoa(p)+"\n"), 0o644); err != nil {
		return fmt.Errorf("pgserver: record port: %w", err)
	}
	return nil
}

// running reports whether a live postmaster serves pgdata.
func (c *cluster) running(ctx context.Context) bool {
	pid := c.postmasterPID()
	if pid == 0 {
		return false
	}
	switch procAlive(pid) {
	case alive:
	case gone:
		return false
	case unknown: // no /proc: ask pg_ctl
		_, err := c.run(ctx, "pg_ctl", "status", "-D", c.pgdata)
		return err == nil
	}
	return true
}

func (c *cluster) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(c.pgdata, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

type liveness int

const (
	unknown liveness = iota
	alive
	gone
)

// procAlive tells whether pid is a running Postgres process. A zombie (a
// killed server not yet reaped, common under a container's init) and a
// reused PID running something else both count as gone.
func procAlive(pid int) liveness {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return unknown
		}
		return gone
	}
	if err != nil {
		return unknown
	}
	// pid (comm) state ...
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return unknown
	}
	comm, rest := s[open+1:closing], strings.Fields(s[closing+1:])
	if len(rest) > 0 && (rest[0] == "Z" || rest[0] == "X") {
		return gone
	}
	if !strings.Contains(comm, "postgres") && !strings.Contains(comm, "postmaster") {
		return gone
	}
	return alive
}

// removeStalePID deletes a postmaster.pid whose process is gone, a zombie,
// or no longer Postgres (its PID was reused after a hard kill), which
// would otherwise keep the server from starting.
func (c *cluster) removeStalePID(log io.Writer) {
	pid := c.postmasterPID()
	if pid == 0 || procAlive(pid) != gone {
		return
	}
	path := filepath.Join(c.pgdata, "postmaster.pid")
	if os.Remove(path) == nil {
		fmt.Fprintf(log, "removed stale %s (process %d is gone)\n", path, pid)
	}
}

// start runs pg_ctl start, retrying a few times: right after a hard kill
// the old server's children may still hold its shared memory.
func (c *cluster) start(ctx context.Context, port int) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", port, shellQuote(c.dir))
	var err error
	for i := 0; i < 5; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		err = c.pgctl(ctx, "start", "-D", c.pgdata, "-l", c.logFile, "-w", "-t", "60", "-o", opts)
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("pgserver: starting private Postgres under %s failed: %v (see %s)", c.pgdata, err, c.logFile)
}

func (c *cluster) stopServer(ctx context.Context) error {
	if err := c.pgctl(ctx, "stop", "-D", c.pgdata, "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pgserver: stop private Postgres under %s: %w", c.pgdata, err)
	}
	return nil
}

// pgctl runs pg_ctl and folds its last output line into the error.
func (c *cluster) pgctl(ctx context.Context, args ...string) error {
	out, err := c.run(ctx, "pg_ctl", args...)
	if err != nil {
		if l := lastLine(out); l != "" {
			return fmt.Errorf("%v: %s", err, l)
		}
		return err
	}
	return nil
}

// run runs one of the Postgres binaries, as the unprivileged user when we
// are root, and returns its combined output.
func (c *cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.runAs == nil {
		cmd = exec.CommandContext(ctx, path, args...)
	} else if rp, err := exec.LookPath("runuser"); err == nil {
		cmd = exec.CommandContext(ctx, rp, append([]string{"-u", c.runAs.Username, "--", path}, args...)...)
	} else {
		line := shellQuote(path)
		for _, a := range args {
			line += " " + shellQuote(a)
		}
		cmd = exec.CommandContext(ctx, "su", "-s", "/bin/sh", c.runAs.Username, "-c", line)
	}
	cmd.Dir = c.dir
	// Its own process group: a Ctrl-C in the terminal reaches us, and we
	// stop the server in order, instead of reaching Postgres directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second // the daemonized postmaster must not hold us
	err := cmd.Run()
	return buf.Bytes(), err
}

// handOver gives the data folder to the unprivileged user, and makes sure
// that user can reach it.
func (c *cluster) handOver(log io.Writer) error {
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	err := filepath.Walk(c.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
			return nil
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("pgserver: give %s to user %s: %w", c.dir, c.runAs.Username, err)
	}
	// Every folder above must be searchable by the user: add o+x where it
	// is missing (never read or write).
	for p := filepath.Dir(c.dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		if m := info.Mode().Perm(); m&0o001 == 0 {
			if err := os.Chmod(p, m|0o001); err != nil {
				return fmt.Errorf("pgserver: make %s searchable for user %s: %w", p, c.runAs.Username, err)
			}
			fmt.Fprintf(log, "made %s searchable (o+x) so that user %s can reach %s\n", p, c.runAs.Username, c.dir)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func unprivilegedUser(name string) (*user.User, error) {
	names := []string{"postgres", "nobody"}
	if name != "" {
		names = []string{name}
	}
	for _, n := range names {
		if u, err := user.Lookup(n); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("pgserver: running as root, and neither user postgres nor nobody exists to run Postgres as")
}

// findBinaries returns a folder holding initdb and pg_ctl, or "" if none.
// With no explicit dirs it looks on PATH and in /usr/lib/postgresql/*/bin,
// preferring the major version an existing cluster under dataDir was made
// with, then the newest.
func findBinaries(dirs []string, dataDir string) (string, error) {
	if dirs == nil {
		dirs = candidateDirs()
	}
	var found []string
	seen := map[string]bool{}
	for _, d := range dirs {
		init, err := resolve(filepath.Join(d, "initdb"))
		if err != nil {
			continue
		}
		ctl, err := resolve(filepath.Join(d, "pg_ctl"))
		if err != nil || filepath.Dir(ctl) != filepath.Dir(init) {
			continue
		}
		if dir := filepath.Dir(init); !seen[dir] {
			seen[dir] = true
			found = append(found, dir)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "pgdata", "PG_VERSION")); err == nil {
		want := strings.TrimSpace(string(b))
		for _, d := range found {
			if majorVersion(d) == want {
				return d, nil
			}
		}
		return "", fmt.Errorf("pgserver: the private cluster in %s was made by Postgres %s, whose binaries are not installed; install them or remove %s",
			filepath.Join(dataDir, "pgdata"), want, filepath.Join(dataDir, "pgdata"))
	}
	return found[0], nil
}

func candidateDirs() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	vers, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(vers, func(i, j int) bool { return versionOf(vers[i]) > versionOf(vers[j]) })
	// The newest installed version first; PATH entries that point into
	// the same folders are deduplicated by findBinaries.
	return append(vers, dirs...)
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// majorVersion asks pg_ctl in dir for its major version ("15").
func majorVersion(dir string) string {
	out, err := exec.Command(filepath.Join(dir, "pg_ctl"), "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out)) // pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)
	if len(f) < 3 {
		return ""
	}
	major, _, _ := strings.Cut(f[2], ".")
	return major
}

func resolve(p string) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(r)
	if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("not executable: %s", p)
	}
	return r, nil
}

// freePort returns preferred if nothing listens there, else any free port.
func freePort(preferred int) (int, error) {
	if preferred > 0 && portFree(preferred) {
		return preferred, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// lockFile takes an exclusive flock on path, waiting for ctx.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("pgserver: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("pgserver: waiting for another process setting up %s: %w", filepath.Dir(path), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady pings url until it answers or limit passes.
func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := ping(ctx, url, 3*time.Second)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLine(b []byte) string {
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

// redact hides a password in a URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
