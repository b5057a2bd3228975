package main

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// collectorConfig is the ADOT collector's configuration, shipped as a
// layer of its own (/opt/jobweaver/collector.yaml).
//
//go:embed collector/collector.yaml
var collectorConfig embed.FS

// Tracing environment the stack sets on each function: spans go over
// OTLP/HTTP to the ADOT collector extension beside it, which reads the
// configuration the CollectorConfig layer ships. The sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) is the code's default
// unless a stage's functions.<fn>.env sets it.
const (
	otlpEndpoint       = "http://localhost:4318"
	collectorConfigURI = "/opt/jobweaver/collector.yaml"
)

// adotLayer is the ADOT collector layer (AWS-managed, per region and
// architecture), pinned so that a CDK upgrade does not move it.
func adotLayer() awslambda.AdotLambdaLayerGenericVersion {
	return awslambda.AdotLambdaLayerGenericVersion_V0_115_0()
}

// AddTracing wires every function's OpenTelemetry spans to X-Ray: the
// ADOT collector layer runs as a Lambda extension, takes the spans over
// OTLP/HTTP on localhost and sends them to X-Ray's OTLP endpoint, signed
// with the function's role (xray:PutSpans, xray:PutSpansForIndexing); no
// X-Ray SDK or daemon. The functions reach X-Ray through the VPC's X-Ray
// endpoint (Network).
func AddTracing(scope constructs.Construct, cfg Config, fns map[string]*GoFunction) {
	dir := writeCollectorConfig()
	arch := awslambda.Architecture_ARM_64()
	if cfg.Architecture == "x86_64" {
		arch = awslambda.Architecture_X86_64()
	}
	conf := awslambda.NewLayerVersion(scope, jsii.String("CollectorConfig"), &awslambda.LayerVersionProps{
		LayerVersionName:        jsii.String(resourceName(cfg, "collector-config")),
		Description:             jsii.String("JobWeaver: the ADOT collector's configuration (OTLP to X-Ray)"),
		Code:                    awslambda.Code_FromAsset(jsii.String(dir), nil),
		CompatibleArchitectures: &[]awslambda.Architecture{arch},
	})
	adot := awslambda.LayerVersion_FromLayerVersionArn(scope, jsii.String("AdotCollector"), adotLayer().LayerArn(scope, arch))
	for _, svc := range Services {
		fn := fns[svc].Function
		fn.AddLayers(adot, conf)
		fn.AddEnvironment(jsii.String("OTEL_EXPORTER_OTLP_ENDPOINT"), jsii.String(otlpEndpoint), nil)
		fn.AddEnvironment(jsii.String("OPENTELEMETRY_COLLECTOR_CONFIG_URI"), jsii.String(collectorConfigURI), nil)
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			// X-Ray's OTLP endpoint has no resource-level permissions.
			Actions:   jsii.Strings("xray:PutSpans", "xray:PutSpansForIndexing"),
			Resources: jsii.Strings("*"),
		}))
	}
}

// writeCollectorConfig lays the layer's files out in a fresh folder:
// jobweaver/collector.yaml, which Lambda extracts under /opt.
func writeCollectorConfig() string {
	dir, err := os.MkdirTemp("", "jobweaver-collector-")
	if err != nil {
		panic(err)
	}
	b, err := fs.ReadFile(collectorConfig, "collector/collector.yaml")
	if err != nil {
		panic(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "jobweaver"), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jobweaver", "collector.yaml"), b, 0o644); err != nil {
		panic(err)
	}
	return dir
}
