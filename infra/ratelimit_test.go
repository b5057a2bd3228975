package main

import (
	"strconv"
	"testing"
)

// Both stages limit each caller in the api function (docs/security.md,
// Rate limits), below the stage's API Gateway throttle, which stays the
// backstop for everyone together.
func TestAPIRateLimitPerCaller(t *testing.T) {
	for _, stage := range []string{"dev", "prod"} {
		t.Run(stage, func(t *testing.T) {
			s := synth(t, stage)
			apiID := s.functionID(t, resourceName(s.cfg, "api"))
			env := props(s.resources("AWS::Lambda::Function")[apiID])["Environment"].(map[string]any)["Variables"].(map[string]any)
			rate, err1 := strconv.ParseFloat(str(env["API_RATE_LIMIT"]), 64)
			burst, err2 := strconv.Atoi(str(env["API_RATE_BURST"]))
			if err1 != nil || err2 != nil || rate <= 0 || burst < 1 {
				t.Fatalf("api API_RATE_LIMIT=%v API_RATE_BURST=%v; want a per-caller limit on", env["API_RATE_LIMIT"], env["API_RATE_BURST"])
			}
			if rate >= float64(s.cfg.API.ThrottleRatePerSecond) {
				t.Errorf("per-caller limit %v/s is not below the stage throttle %v/s: one caller could use up everyone's", rate, s.cfg.API.ThrottleRatePerSecond)
			}
		})
	}
}

func str(v any) string { s, _ := v.(string); return s }
