// Package emulator runs JobWeaver's real Lambda bootstrap binaries under
// the official AWS Lambda Runtime Interface Emulator (RIE), with no Docker,
// and serves the Lambda Invoke API in front of them, so that the local
// stack, the tests and `make invoke-remote` reach the functions exactly as
// AWS callers do: through aws-sdk-go-v2's Lambda client.
//
// The emulator (github.com/aws/aws-lambda-runtime-interface-emulator,
// pinned at RIEVersion) is built from the Go module proxy and cached under
// build/rie/. One emulator process runs one function and serves one
// invocation at a time (a second concurrent one crashes it), under a
// single path. A Cluster therefore runs a small pool of emulator processes
// (execution environments) per function behind one Invoke API endpoint,
// routes each invocation by function name to an idle environment, and
// queues it while all are busy. See Cluster for what it changes in the
// emulator's answers.
//
// The package's tests (`make test-lambda`, part of `make test`) drive the
// whole platform through it; see docs/lambda.md.
package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The pinned Runtime Interface Emulator.
const (
	RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// Functions are the platform's functions, in the order they are built.
var Functions = []string{"api", "scheduler", "worker", "dlq"}

// BuildFlags are the flags every bootstrap is built with (with
// CGO_ENABLED=0 and GOOS=linux): the same for `make build` and the tests.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Root returns the folder of the main module's go.mod, as seen from the
// working directory.
func Root(ctx context.Context) (string, error) {
	out, err := goCmd(ctx, "", nil, "env", "GOMOD")
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("emulator: not inside the JobWeaver module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// RIEPath is where BuildRIE keeps the emulator for the host: under root's
// build/ folder, by version, OS and architecture.
func RIEPath(root string) string {
	return filepath.Join(root, "build", "rie", RIEVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH, "aws-lambda-rie")
}

// BuildRIE returns the path of the emulator, building it for the host with
// `go install` from the module proxy first if it is not cached yet.
// Progress goes to log.
func BuildRIE(ctx context.Context, root string, log io.Writer) (string, error) {
	path := RIEPath(root)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path, nil
	}
	log = discardIfNil(log)
	fmt.Fprintf(log, "building the Lambda Runtime Interface Emulator %s@%s (once; cached in %s)\n", RIEPackage, RIEVersion, filepath.Dir(path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	// Install into a private folder and rename: concurrent builds never
	// see a half-written binary.
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GOBIN=" + tmp, "CGO_ENABLED=0", "GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH, "GOFLAGS=-mod=mod"}
	if _, err := goCmd(ctx, tmp, env, "install", RIEPackage+"@"+RIEVersion); err != nil {
		return "", fmt.Errorf("emulator: build the emulator: %w", err)
	}
	if err := os.Rename(filepath.Join(tmp, "aws-lambda-rie"), path); err != nil {
		return "", err
	}
	return path, nil
}

// BuildBootstraps builds the named functions (all four if none) for the
// host's architecture, with BuildFlags, as dir/<name>/bootstrap, and
// returns each one's absolute path by name.
func BuildBootstraps(ctx context.Context, root, dir string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		names = Functions
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp(dir, ".out-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out+string(filepath.Separator))
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if _, err := goCmd(ctx, root, env, args...); err != nil {
		return nil, fmt.Errorf("emulator: build the functions: %w", err)
	}
	paths := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(out, n), p); err != nil {
			return nil, err
		}
		paths[n] = p
	}
	return paths, nil
}

// goCmd runs the go command in dir with extra environment variables and
// returns its standard output; a failure carries its standard error.
func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	// go test and go run put the go command that runs them first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("emulator: the go command is needed to build the functions and the emulator: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func discardIfNil(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
