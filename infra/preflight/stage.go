package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/jobweaver/jobweaver/shared/apiauth"
)

// Stage is what preflight needs of a stage of cdk.json: a few of the
// settings the CDK app (infra, Config) reads, under the same keys. The
// app validates the rest at synth.
type Stage struct {
	Name   string
	Region string

	Network struct {
		MaxAzs            int      `json:"maxAzs"`
		AvailabilityZones []string `json:"availabilityZones"`
	} `json:"network"`
	Database struct {
		Proxy bool `json:"proxy"`
	} `json:"database"`
	Kafka struct {
		Mode    string `json:"mode"`
		Brokers int    `json:"brokers"`
	} `json:"kafka"`
	Functions map[string]struct {
		ReservedConcurrency int `json:"reservedConcurrency"`
	} `json:"functions"`
	API struct {
		Auth    string              `json:"auth"`
		Clients map[string][]string `json:"clients"`
	} `json:"api"`
}

// functions are the stack's functions (infra.AllFunctions).
var functions = []string{"api", "scheduler", "worker", "dlq", "migrate"}

// LoadStage reads stage name from the cdk.json at path.
func LoadStage(path, name string) (*Stage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (run from the repository's root, or pass -cdk)", path, err)
	}
	var doc struct {
		Context struct {
			Region string                     `json:"region"`
			Stages map[string]json.RawMessage `json:"stages"`
		} `json:"context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	raw, ok := doc.Context.Stages[name]
	if !ok {
		names := make([]string, 0, len(doc.Context.Stages))
		for k := range doc.Context.Stages {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%s: stage %q is not one of %v", path, name, names)
	}
	s := &Stage{Name: name, Region: doc.Context.Region}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("%s: stages.%s: %w", path, name, err)
	}
	if s.Region == "" {
		return nil, fmt.Errorf(`%s: context "region" is missing`, path)
	}
	if s.Network.MaxAzs < 2 {
		return nil, fmt.Errorf("%s: stages.%s.network.maxAzs must be at least 2", path, name)
	}
	return s, nil
}

// StackName is the stage's CloudFormation stack (infra.StackName).
func (s *Stage) StackName() string { return "JobWeaver-" + s.Name }

// ResourceName is jobweaver-<stage>-<what> (infra's resourceName).
func (s *Stage) ResourceName(what string) string { return "jobweaver-" + s.Name + "-" + what }

// Reserved is each function's reserved concurrency, by name.
func (s *Stage) Reserved() map[string]int {
	out := map[string]int{}
	for _, fn := range functions {
		out[fn] = s.Functions[fn].ReservedConcurrency
	}
	return out
}

// ReservedTotal is the concurrency the stage reserves in all.
func (s *Stage) ReservedTotal() int {
	total := 0
	for _, n := range s.Reserved() {
		total += n
	}
	return total
}

// ClientSecretNames are the app client secrets and the admin key secret
// the stack makes, which keep fixed names (apiauth.SecretName,
// apiauth.AdminKeySecretName) for make token and make admin-key.
func (s *Stage) ClientSecretNames() []string {
	if s.API.Auth != "cognito" {
		return nil
	}
	names := make([]string, 0, len(s.API.Clients))
	for c := range s.API.Clients {
		names = append(names, apiauth.SecretName(s.Name, c))
	}
	// The first admin key's secret has a fixed name too.
	names = append(names, apiauth.AdminKeySecretName(s.Name))
	sort.Strings(names)
	return names
}
