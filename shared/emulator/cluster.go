package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/invoke"
)

// MaxPayloadBytes is Lambda's limit on a synchronous invocation's request
// (and response): 6 MB.
const MaxPayloadBytes = 6 * 1024 * 1024

// rieInvokePath is the only path the emulator serves.
const rieInvokePath = "/2015-03-31/functions/function/invocations"

// Function is one function to run under the emulator.
type Function struct {
	// Name is the platform's name of the function (api, scheduler, ...).
	// It answers to Name and to Options.NamePrefix+Name (its deployed
	// name), alone or at the end of a function ARN.
	Name string
	// Bootstrap is the path of its bootstrap binary.
	Bootstrap string
	// Env is its environment. The cluster adds the AWS_LAMBDA_* variables,
	// a region, static credentials and AWS_ENDPOINT_URL_LAMBDA (the
	// cluster's own Invoke API) unless Env sets them; nothing is inherited
	// from the calling process but PATH.
	Env map[string]string
	// Timeout is the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT),
	// rounded up to whole seconds; 0 means 30 s.
	Timeout time.Duration
	// Instances is how many execution environments (emulator processes)
	// run it, so how many invocations run at once; 0 means 1.
	Instances int
}

// Options configure a Cluster.
type Options struct {
	// RIE is the path of aws-lambda-rie (see BuildRIE).
	RIE string
	// Log receives every line the emulators and the functions print,
	// prefixed with "<name>#<environment> "; nil discards them.
	Log io.Writer
	// NamePrefix makes a function's deployed name; "" means "jobweaver-".
	NamePrefix string
	// Addr is where the Invoke API listens; "" means 127.0.0.1:0.
	Addr string
}

// Report is what the emulator reported for one invocation: the init that
// preceded it in a cold environment (its INIT REPORT lines) and the
// invocation itself (its REPORT line; for a cold one, that includes
// waiting for the init).
type Report struct {
	Environment int
	Init        time.Duration // 0 for a warm invocation
	Duration    time.Duration
}

// Invocation is one invocation as the cluster saw it.
type Invocation struct {
	Environment int
	Wall        time.Duration // from sending it to the emulator to its answer
	Cold        bool          // the environment's first invocation since it started
	Failed      string        // the error type of a failed invocation, or ""
}

// Cluster serves the Lambda Invoke API
// (POST /2015-03-31/functions/{name}/invocations) for its functions on one
// address, each function run by a pool of emulator processes.
//
// It passes the emulator's answers on, except where the emulator answers
// something the Lambda API never does:
//   - A function that panicked, exited, or answered more than 6 MB gets
//     502 from the emulator; the cluster answers 200 with
//     X-Amz-Function-Error: Unhandled and the error payload, as Lambda
//     does (and as the SDK needs: it would retry a 502, running the
//     function again).
//   - A function whose init failed gets an empty 502; the cluster answers
//     Unhandled with {"errorType":"Runtime.ExitError",...}. The function's
//     one-line reason is in its log (Lines), as in CloudWatch.
//   - InvocationType Event is answered 202 at once and run in the
//     background (the emulator would run it synchronously); DryRun 204.
//
// Left as the emulator answers them, as quirks for the invoker to handle:
// a handler's returned error is a 200 whose payload holds errorType and
// errorMessage, without X-Amz-Function-Error, and a timeout is a 200 whose
// payload is the text "Task timed out after N.00 seconds". invoke.Lambda
// reads both as failures. After a panic, exit or timeout the emulator
// starts the runtime afresh on the next invocation, as Lambda does.
type Cluster struct {
	// URL is the Invoke API's base URL, for AWS_ENDPOINT_URL_LAMBDA or an
	// SDK client's BaseEndpoint.
	URL string

	opts   Options
	pools  map[string]*pool // by every name a function answers to
	list   []*pool
	srv    *http.Server
	inv    *invoke.Lambda
	async  sync.WaitGroup
	closed chan struct{}
	once   sync.Once
	logMu  sync.Mutex
}

// Start starts the functions' emulators and the Invoke API, and returns
// once every emulator listens. The functions' runtimes start (init) on
// their first invocation, as in Lambda.
func Start(ctx context.Context, opts Options, fns ...Function) (_ *Cluster, err error) {
	if opts.RIE == "" {
		return nil, errors.New("emulator: Options.RIE (the emulator's path) is required")
	}
	if opts.NamePrefix == "" {
		opts.NamePrefix = "jobweaver-"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	c := &Cluster{opts: opts, pools: map[string]*pool{}, closed: make(chan struct{})}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: Invoke API on %s: %w", opts.Addr, err)
	}
	c.URL = "http://" + ln.Addr().String()
	defer func() {
		if err != nil {
			ln.Close()
			c.stopAll()
		}
	}()
	names := map[string]string{}
	for _, fn := range fns {
		if fn.Name == "" || fn.Bootstrap == "" {
			return nil, fmt.Errorf("emulator: function %q needs a name and a bootstrap", fn.Name)
		}
		if c.pools[fn.Name] != nil {
			return nil, fmt.Errorf("emulator: function %q given twice", fn.Name)
		}
		p, err := c.newPool(fn)
		if err != nil {
			return nil, err
		}
		c.pools[fn.Name], c.pools[p.deployed] = p, p
		c.list = append(c.list, p)
		names[fn.Name] = p.deployed
		for _, in := range p.envs {
			if err := in.start(ctx); err != nil {
				return nil, err
			}
		}
	}
	c.inv = invoke.NewLambdaAt(c.URL, names)
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// DeployedName is the name function answers to as deployed (prefixed).
func (c *Cluster) DeployedName(function string) string { return c.opts.NamePrefix + function }

// Invoke implements invoke.Invoker: a synchronous invocation of function
// (its platform name) through the Invoke API, with aws-sdk-go-v2.
func (c *Cluster) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	return c.inv.Invoke(ctx, function, payload)
}

// Lines returns the latest lines (up to 5000) that function's
// environments printed: the emulator's own and the function's logs.
func (c *Cluster) Lines(function string) []string {
	p := c.pools[function]
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// Reports returns the emulator's reports of function's invocations.
func (c *Cluster) Reports(function string) []Report {
	p := c.pools[function]
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reports)
}

// Invocations returns function's invocations as the cluster saw them.
func (c *Cluster) Invocations(function string) []Invocation {
	p := c.pools[function]
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.invocations)
}

// Close stops the Invoke API, waits for background (Event) invocations,
// and kills every emulator and runtime process the cluster started.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if c.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.srv.Shutdown(ctx)
			cancel()
		}
		c.async.Wait()
		c.stopAll()
	})
	return nil
}

func (c *Cluster) stopAll() {
	for _, p := range c.list {
		for _, in := range p.envs {
			in.stop()
		}
	}
}

// ServeHTTP serves the Invoke API.
func (c *Cluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := functionFromPath(r.URL.Path)
	if !ok || r.Method != http.MethodPost {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "only POST /2015-03-31/functions/{name}/invocations is served")
		return
	}
	p := c.pools[name]
	if p == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", "the request body could not be read")
		return
	}
	if len(body) > MaxPayloadBytes {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxPayloadBytes))
		return
	}
	hdr := http.Header{}
	for _, h := range []string{"X-Amz-Client-Context", "X-Amzn-Trace-Id"} {
		if v := r.Header.Get(h); v != "" {
			hdr.Set(h, v)
		}
	}
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "Event":
		c.async.Add(1)
		go func() {
			defer c.async.Done()
			p.invoke(context.Background(), body, hdr)
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "unknown X-Amz-Invocation-Type "+t)
		return
	}
	res := p.invoke(r.Context(), body, hdr)
	for k, v := range res.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// functionFromPath takes the function name out of an Invoke path; an ARN
// (…:function:NAME[:qualifier]) gives NAME.
func functionFromPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/2015-03-31/functions/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
		if j := strings.IndexByte(name, ':'); j >= 0 {
			name = name[:j]
		}
	}
	return name, true
}

// apiError answers an Invoke API error as Lambda's REST API does.
func apiError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", kind)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Type": "User", "message": msg})
	_, _ = w.Write(b)
}

// pool is one function's execution environments.
type pool struct {
	c        *Cluster
	fn       Function
	deployed string
	timeout  time.Duration // whole seconds
	envs     []*environment
	idle     chan *environment
	client   *http.Client

	mu          sync.Mutex
	lines       []string
	reports     []Report
	pendingInit map[int]time.Duration // by environment: init not yet reported
	invocations []Invocation
}

const maxLines = 5000

func (c *Cluster) newPool(fn Function) (*pool, error) {
	bootstrap, err := filepath.Abs(fn.Bootstrap)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bootstrap); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("emulator: %s: bootstrap %s is not an executable file", fn.Name, bootstrap)
	}
	fn.Bootstrap = bootstrap
	if fn.Timeout <= 0 {
		fn.Timeout = 30 * time.Second
	}
	if fn.Instances <= 0 {
		fn.Instances = 1
	}
	secs := int(math.Ceil(fn.Timeout.Seconds()))
	p := &pool{
		c: c, fn: fn, deployed: c.opts.NamePrefix + fn.Name,
		timeout:     time.Duration(secs) * time.Second,
		idle:        make(chan *environment, fn.Instances),
		pendingInit: map[int]time.Duration{},
		client:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}},
	}
	for i := range fn.Instances {
		in := &environment{p: p, n: i + 1}
		p.envs = append(p.envs, in)
		p.idle <- in
	}
	return p, nil
}

// env is the environment of the function's emulator processes.
func (p *pool) env() []string {
	m := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        p.deployed,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(p.timeout / time.Second)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_ACCESS_KEY_ID":               "test",
		"AWS_SECRET_ACCESS_KEY":           "test",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_CONFIG_FILE":                 os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":     os.DevNull,
		"AWS_ENDPOINT_URL_LAMBDA":         p.c.URL,
		"TZ":                              "UTC",
		"PATH":                            os.Getenv("PATH"),
	}
	for k, v := range p.fn.Env {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// result is an answer of the Invoke API.
type result struct {
	status int
	header http.Header
	body   []byte
}

// invoke runs one invocation on an idle environment, waiting for one.
func (p *pool) invoke(ctx context.Context, body []byte, hdr http.Header) result {
	var in *environment
	select {
	case in = <-p.idle:
	case <-ctx.Done():
		return serviceError("TooManyRequestsException", http.StatusTooManyRequests, "no execution environment of "+p.fn.Name+" became free before the caller gave up")
	case <-p.c.closed:
		return serviceError("ServiceException", http.StatusServiceUnavailable, "the emulator cluster is closing")
	}
	defer func() { p.idle <- in }()
	return in.invoke(ctx, body, hdr)
}

func serviceError(kind string, status int, msg string) result {
	b, _ := json.Marshal(map[string]string{"Type": "Service", "message": msg})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", kind)
	return result{status: status, header: h, body: b}
}

func functionError(payload []byte) result {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Function-Error", "Unhandled")
	return result{status: http.StatusOK, header: h, body: payload}
}

// The emulator's REPORT line has an "Init Duration" that only measures
// starting the init; its "INIT REPORT(durationMs: …)" log line measures
// the init itself (the runtime's start until it asks for its first
// event), and precedes the REPORT line of the invocation it served.
var (
	initReport     = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reportDuration = regexp.MustCompile(`(?:^|\t)Duration: ([0-9.]+) ms`)
)

// line records a line an environment printed.
func (p *pool) line(n int, s string) {
	if len(s) > 4096 {
		s = s[:4096] + "…"
	}
	p.mu.Lock()
	if len(p.lines) >= maxLines {
		p.lines = append(p.lines[:0], p.lines[len(p.lines)-maxLines/2:]...)
	}
	p.lines = append(p.lines, s)
	if m := initReport.FindStringSubmatch(s); m != nil {
		p.pendingInit[n] += millis(m[1])
	}
	if strings.HasPrefix(s, "REPORT RequestId:") {
		r := Report{Environment: n, Init: p.pendingInit[n]}
		delete(p.pendingInit, n)
		if m := reportDuration.FindStringSubmatch(s); m != nil {
			r.Duration = millis(m[1])
		}
		p.reports = append(p.reports, r)
	}
	p.mu.Unlock()
	if w := p.c.opts.Log; w != nil {
		p.c.logMu.Lock()
		fmt.Fprintf(w, "%s#%d %s\n", p.fn.Name, n, s)
		p.c.logMu.Unlock()
	}
}

func millis(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Millisecond))
}

// environment is one emulator process running the function: one
// execution environment, serving one invocation at a time.
type environment struct {
	p *pool
	n int

	mu   sync.Mutex // guards cmd, done and url (stop runs from Close)
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the emulator process exited

	used bool // invoked since it started; only its invoker touches it
}

func (e *environment) current() (string, chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url, e.done
}

// start starts the emulator on two free ports and waits until it listens.
func (e *environment) start(ctx context.Context) error {
	var last error
	for range 3 { // a port taken between choosing and binding: try others
		if last = e.startOnce(ctx); last == nil {
			return nil
		}
	}
	return last
}

func (e *environment) startOnce(ctx context.Context) error {
	select {
	case <-e.p.c.closed:
		return errors.New("emulator: the emulator cluster is closed")
	default:
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	api, rt := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cmd := exec.Command(e.p.c.opts.RIE, "--log-level", "info",
		"--runtime-interface-emulator-address", api, "--runtime-api-address", rt, e.p.fn.Bootstrap)
	cmd.Dir = filepath.Dir(e.p.fn.Bootstrap)
	cmd.Env = e.p.env()
	out := &lineWriter{emit: func(s string) { e.p.line(e.n, s) }}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, and killed if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("emulator: start the emulator for %s: %w", e.p.fn.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); out.flush(); close(done) }()
	e.mu.Lock()
	e.cmd, e.done, e.url = cmd, done, "http://"+api+rieInvokePath
	e.mu.Unlock()
	e.used = false

	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", api, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("emulator: the emulator for %s exited at start: %s", e.p.fn.Name, lastLines(e.p, 5))
		case <-ctx.Done():
			e.stop()
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return fmt.Errorf("emulator: the emulator for %s does not listen on %s", e.p.fn.Name, api)
		}
	}
}

func lastLines(p *pool, n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], " | ")
}

// stop kills the emulator and the runtime it started (its child, in a
// process group of its own).
func (e *environment) stop() {
	e.mu.Lock()
	cmd, done := e.cmd, e.done
	e.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	pid := cmd.Process.Pid
	children := childPIDs(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range children {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// childPIDs lists pid's child processes (Linux).
func childPIDs(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// invoke sends one invocation to the emulator and translates its answer.
// The emulator is never left with an invocation the cluster gave up on:
// the request outlives the caller (the environment stays busy until the
// emulator answers, as a Lambda environment would).
func (e *environment) invoke(ctx context.Context, body []byte, hdr http.Header) result {
	p := e.p
	target, done := e.current()
	select {
	case <-done: // died since its last invocation
		if err := e.start(context.WithoutCancel(ctx)); err != nil {
			return serviceError("ServiceException", http.StatusBadGateway, err.Error())
		}
		target, _ = e.current()
	default:
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return serviceError("ServiceException", http.StatusInternalServerError, err.Error())
	}
	req.Header = hdr.Clone()
	cold := !e.used
	e.used = true
	start := time.Now()
	resp, err := p.client.Do(req)
	var payload []byte
	if err == nil {
		payload, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	inv := Invocation{Environment: e.n, Wall: time.Since(start), Cold: cold}
	var res result
	switch {
	case err != nil:
		// The emulator crashed or hung: replace it.
		e.stop()
		inv.Failed = "ServiceException"
		res = serviceError("ServiceException", http.StatusBadGateway, fmt.Sprintf("the emulator running %s failed: %v", p.fn.Name, err))
		if serr := e.start(context.WithoutCancel(ctx)); serr != nil {
			res = serviceError("ServiceException", http.StatusBadGateway, serr.Error())
		}
	case resp.StatusCode == http.StatusOK:
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		res = result{status: http.StatusOK, header: h, body: payload}
		inv.Failed = failedType(payload)
	case resp.StatusCode == http.StatusBadGateway && json.Valid(payload):
		res = functionError(payload)
		inv.Failed = failedType(payload)
	case resp.StatusCode == http.StatusBadGateway && len(bytes.TrimSpace(payload)) == 0:
		msg := fmt.Sprintf("RequestId: %s Error: the runtime exited during init (see the function's log)", newRequestID())
		b, _ := json.Marshal(map[string]string{"errorType": "Runtime.ExitError", "errorMessage": msg})
		res = functionError(b)
		inv.Failed = "Runtime.ExitError"
	default:
		inv.Failed = "ServiceException"
		res = serviceError("ServiceException", http.StatusBadGateway,
			fmt.Sprintf("the emulator running %s answered %d: %s", p.fn.Name, resp.StatusCode, strings.TrimSpace(string(payload))))
	}
	p.mu.Lock()
	p.invocations = append(p.invocations, inv)
	p.mu.Unlock()
	return res
}

// failedType tells the error type of a failure payload, or "".
func failedType(payload []byte) string {
	t := bytes.TrimSpace(payload)
	if len(t) > 0 && !json.Valid(t) {
		if bytes.Contains(t, []byte("Task timed out")) {
			return invoke.ErrorTypeTimeout
		}
		return "Unhandled"
	}
	var e struct {
		ErrorType  string          `json:"errorType"`
		StatusCode json.RawMessage `json:"statusCode"`
	}
	if len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &e) == nil && e.StatusCode == nil {
		return e.ErrorType
	}
	return ""
}

func newRequestID() string { return uuid.NewString() }

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// lineWriter splits what a process writes into lines.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // an endless line: pass it on in pieces
		w.emit(string(w.buf))
		w.buf = nil
	}
	w.buf = append([]byte(nil), w.buf...)
	return len(b), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}
