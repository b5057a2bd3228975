package emulator

import (
	"context"
	"io"
	"maps"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// Platform runs JobWeaver's functions under the emulator for a local
// stack: its Remote is a devstack.Remote.
type Platform struct {
	RIE        string            // aws-lambda-rie (BuildRIE)
	Bootstraps map[string]string // bootstrap binary by function (BuildBootstraps)
	Log        io.Writer         // emulator and function output; nil discards
	// Env is given to every function (after the stack's DATABASE_URL and
	// KAFKA_BROKERS, which it may not override).
	Env map[string]string
	// Functions tune single functions: extra env, timeout, environments.
	Functions map[string]FunctionSettings
	// Started, if set, is called with the cluster once it runs.
	Started func(*Cluster)
}

// FunctionSettings tune one function of a Platform.
type FunctionSettings struct {
	Env       map[string]string
	Timeout   time.Duration // 0 means 30 s (the worker: worker.DefaultTimeout, as deployed)
	Instances int           // 0 means 1
}

// Functions returns the emulator functions for the stack's environment:
// each named function with its database and brokers, p.Env and its own
// settings; the api and the worker also get the deployed names of the
// functions they call (SCHEDULER_FUNCTION_NAME, ...), which the cluster
// answers to.
func (p *Platform) functions(env devstack.FunctionEnv) []Function {
	callees := map[string][]string{
		invoke.API:       {invoke.Scheduler, invoke.Worker, invoke.DLQ},
		invoke.Worker:    {invoke.Scheduler}, // attempts start through the scheduler
		invoke.Scheduler: {invoke.DLQ},       // the tick calls the dlq's maintenance
		invoke.DLQ:       {invoke.Scheduler}, // an entry's retry asks the scheduler
	}
	var fns []Function
	for _, name := range Functions {
		stackEnv, ok := env[name]
		if !ok {
			continue
		}
		set := p.Functions[name]
		e := map[string]string{}
		maps.Copy(e, p.Env)
		maps.Copy(e, set.Env)
		maps.Copy(e, stackEnv)
		for _, callee := range callees[name] {
			key := map[string]string{invoke.Scheduler: "SCHEDULER_FUNCTION_NAME", invoke.Worker: "WORKER_FUNCTION_NAME", invoke.DLQ: "DLQ_FUNCTION_NAME"}[callee]
			if _, set := e[key]; !set {
				e[key] = "jobweaver-" + callee
			}
		}
		timeout := set.Timeout
		if timeout == 0 && name == invoke.Worker {
			// As deployed, so that every attempt the api accepts can run.
			timeout = worker.DefaultTimeout
		}
		fns = append(fns, Function{Name: name, Bootstrap: p.Bootstraps[name], Env: e, Timeout: timeout, Instances: set.Instances})
	}
	return fns
}

// Remote starts the stack's functions under the emulator and returns the
// cluster, which the stack invokes through the Lambda Invoke API and closes
// when it stops.
func (p *Platform) Remote() devstack.Remote {
	return func(ctx context.Context, env devstack.FunctionEnv) (invoke.Invoker, error) {
		c, err := Start(ctx, Options{RIE: p.RIE, Log: p.Log}, p.functions(env)...)
		if err != nil {
			return nil, err
		}
		if p.Started != nil {
			p.Started(c)
		}
		return c, nil
	}
}
