package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestNoWarnings: the CDK's own checks (deprecated APIs, settings it
// knows CloudFormation or a service will refuse or ignore) say nothing.
func TestNoWarnings(t *testing.T) {
	for _, variant := range []string{"dev", "prod", "dev-x86"} {
		s := synth(t, variant)
		a := assertions.Annotations_FromStack(s.stack.Stack)
		for _, m := range *a.FindWarning(jsii.String("*"), assertions.Match_AnyValue()) {
			//lint:ignore SA1019 the Go bindings return this type and have no other; the deprecation is about its TypeScript home
			t.Errorf("%s: warning at %s: %v", variant, *m.Id, m.Entry.Data)
		}
		for _, m := range *a.FindError(jsii.String("*"), assertions.Match_AnyValue()) {
			//lint:ignore SA1019 the Go bindings return this type and have no other; the deprecation is about its TypeScript home
			t.Errorf("%s: error at %s: %v", variant, *m.Id, m.Entry.Data)
		}
	}
}
