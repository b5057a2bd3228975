package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

const cdkJSON = "../../cdk.json"

// row finds the table row of a check: its result and detail, and the fix
// line under it ("" if none).
func row(table, check string) (status, detail, fix string) {
	lines := strings.Split(table, "\n")
	for i, l := range lines {
		if len(l) < 31 || strings.TrimSpace(l[:24]) != check {
			continue
		}
		status, detail = strings.TrimSpace(l[25:31]), strings.TrimSpace(l[31:])
		if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "fix: ") {
			fix = strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "fix: ")
		}
		return
	}
	return "", "", ""
}

var checkRow = regexp.MustCompile(`(?m)^\S.{23} (ok|WARN|FAIL) `)

func TestPreflight(t *testing.T) {
	type want struct {
		status, detail, fix string // status of the row; substrings of detail and fix
	}
	cases := []struct {
		name  string
		stage string
		edit  func(f *fakeAWS)
		code  int
		rows  int
		want  map[string]want
	}{
		{"a ready account, dev", "dev", nil, 0, 8, map[string]want{
			"credentials":        {"ok", "account 123456789012", ""},
			"stack":              {"ok", "JobWeaver-dev does not exist: the deploy creates it", ""},
			"cdk bootstrap":      {"ok", "bootstrap version 27", ""},
			"lambda concurrency": {"ok", "the stage reserves 39 (api 3, scheduler 22, worker 7, dlq 7), leaving 961 unreserved", ""},
			"availability zones": {"ok", "us-east-1a (use1-az6), us-east-1b (use1-az1)", ""},
			"msk quota":          {"ok", "brokers: 0 in use + 2 for the stage", ""},
			"rds quota":          {"ok", "DB instances: 0 in use + 1 for the stage", ""},
			"names":              {"ok", "no function, DB instance or app client secret", ""},
		}},
		{"a ready account, prod", "prod", nil, 0, 9, map[string]want{
			"lambda concurrency": {"ok", "the stage reserves 149", ""},
			"msk quota":          {"ok", "serverless clusters: 0 in use + 1", ""},
			"rds proxy quota":    {"ok", "proxies: 0 in use + 1", ""},
		}},
		{"a new account's concurrency", "prod", func(f *fakeAWS) { f.ConcurrencyLimit, f.Unreserved = 100, 100 }, 1, 9, map[string]want{
			"lambda concurrency": {"FAIL", "account limit 100, unreserved 100; the stage reserves 149", "quota (Service Quotas, L-B99A9384) of at least 249"},
		}},
		{"use1-az3 among the first AZs", "dev", func(f *fakeAWS) { f.Zones[1][1], f.Zones[4][1] = "use1-az3", "use1-az1" }, 1, 8, map[string]want{
			"availability zones": {"FAIL", "us-east-1b is use1-az3, where MSK is not offered", `availabilityZones in cdk.json to AZs whose IDs avoid use1-az3, say ["us-east-1a", "us-east-1c"]`},
		}},
		{"use1-az3 with the proxy", "prod", func(f *fakeAWS) { f.Zones[0][1], f.Zones[4][1] = "use1-az3", "use1-az6" }, 1, 9, map[string]want{
			"availability zones": {"FAIL", "us-east-1a is use1-az3, where MSK is not offered; us-east-1a is use1-az3, where RDS Proxy is not offered", `say ["us-east-1b", "us-east-1c"]`},
		}},
		{"no bootstrap stack", "dev", func(f *fakeAWS) { delete(f.Stacks, "CDKToolkit") }, 1, 8, map[string]want{
			"cdk bootstrap": {"FAIL", "no CDKToolkit stack in us-east-1", "npx cdk bootstrap aws://123456789012/us-east-1"},
		}},
		{"names left by an earlier stack", "dev", func(f *fakeAWS) {
			f.Functions["jobweaver-dev-scheduler"] = 0
			f.DBInstances = []string{"jobweaver-dev-postgres"}
			f.Secrets["jobweaver-dev/api-clients/operator"] = true
			f.Secrets["jobweaver-dev/api-admin-key"] = false
			f.LogGroups = []string{"/aws/lambda/jobweaver-dev-api", "/aws/lambda/jobweaver-dev-api-51af3dc0", "/aws/lambda/other"}
		}, 1, 9, map[string]want{
			"names": {"FAIL", "function jobweaver-dev-scheduler, DB instance jobweaver-dev-postgres, secret jobweaver-dev/api-admin-key, secret jobweaver-dev/api-clients/operator (scheduled for deletion)",
				"aws lambda delete-function --function-name jobweaver-dev-scheduler; delete or rename DB instance jobweaver-dev-postgres"},
			"retained":  {"ok", "2 log groups /aws/lambda/jobweaver-dev-* kept from an earlier stack", ""},
			"rds quota": {"ok", "DB instances: 1 in use + 1", ""},
		}},
		{"quotas used up", "dev", func(f *fakeAWS) {
			f.ProvisionedBrokers = []int{45, 44}
			f.DBInstances = make([]string, 40)
			for i := range f.DBInstances {
				f.DBInstances[i] = "db-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			}
		}, 1, 8, map[string]want{
			"msk quota": {"FAIL", `brokers: 89 in use + 2 for the stage, quota "Brokers per account" 90`, `ask for "Brokers per account" of at least 91`},
			"rds quota": {"FAIL", `DB instances: 40 in use + 1 for the stage, quota "DB instances" 40`, `of at least 41`},
		}},
		{"an update gives back what the stage holds", "dev", func(f *fakeAWS) {
			f.Stacks["JobWeaver-dev"] = "UPDATE_COMPLETE"
			f.ConcurrencyLimit, f.Unreserved = 139, 100
			for fn, n := range map[string]int{"api": 3, "scheduler": 22, "worker": 7, "dlq": 7, "migrate": 0} {
				f.Functions["jobweaver-dev-"+fn] = n
			}
			f.DBInstances = []string{"jobweaver-dev-postgres"}
			f.ProvisionedBrokers = []int{2}
		}, 0, 8, map[string]want{
			"stack":              {"ok", "JobWeaver-dev is UPDATE_COMPLETE: the deploy updates it", ""},
			"lambda concurrency": {"ok", "leaving 100 unreserved", ""},
			"msk quota":          {"ok", "brokers: 2 in use + 0 for the stage", ""},
			"names":              {"ok", "JobWeaver-dev exists and owns its names", ""},
		}},
		{"a stack CloudFormation cannot update", "dev", func(f *fakeAWS) { f.Stacks["JobWeaver-dev"] = "ROLLBACK_COMPLETE" }, 1, 8, map[string]want{
			"stack": {"FAIL", "JobWeaver-dev is ROLLBACK_COMPLETE", "make destroy STAGE=dev"},
		}},
		{"quotas unreadable", "dev", func(f *fakeAWS) { f.DenyServiceQuotas = true }, 0, 8, map[string]want{
			"msk quota": {"WARN", "AccessDeniedException", "allow servicequotas:ListServiceQuotas"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := healthyAccount()
			if c.edit != nil {
				c.edit(f)
			}
			f.serve(t)
			var out, errs bytes.Buffer
			code := run(context.Background(), []string{"-stage", c.stage, "-cdk", cdkJSON}, &out, &errs)
			table := out.String()
			if code != c.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, c.code, table, errs.String())
			}
			if rows := len(checkRow.FindAllString(table, -1)); rows != c.rows {
				t.Errorf("%d checks in the table, want %d:\n%s", rows, c.rows, table)
			}
			for check, w := range c.want {
				status, detail, fix := row(table, check)
				if status != w.status || !strings.Contains(detail, w.detail) || !strings.Contains(fix, w.fix) {
					t.Errorf("%s: %s %q (fix %q); want %s with %q (fix with %q)\n%s", check, status, detail, fix, w.status, w.detail, w.fix, table)
				}
			}
			if c.code == 0 && strings.Contains(table, " FAIL ") {
				t.Errorf("a check failed:\n%s", table)
			}
		})
	}
}

func TestPreflightWithoutCredentials(t *testing.T) {
	f := healthyAccount()
	f.serve(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-stage", "dev", "-cdk", cdkJSON}, &out, &errs); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", code, out.String(), errs.String())
	}
	if status, _, fix := row(out.String(), "credentials"); status != "FAIL" || !strings.Contains(fix, "AWS_PROFILE") {
		t.Fatalf("credentials %s, fix %q:\n%s", status, fix, out.String())
	}
	if f.Calls["GetAccountSettings"] != 0 {
		t.Errorf("it went on without credentials: %v", f.Calls)
	}
}

func TestPreflightFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown stage", []string{"-stage", "qa", "-cdk", cdkJSON}, `stage "qa" is not one of [dev prod]`},
		{"no cdk.json", []string{"-cdk", "testdata/missing.json"}, "run from the repository's root, or pass -cdk"},
		{"stray argument", []string{"dev"}, `unexpected argument "dev"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), c.args, &out, &errs); code != 2 || !strings.Contains(errs.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errs.String(), c.want)
			}
		})
	}
}

func TestStageAZs(t *testing.T) {
	zones := []ec2types.AvailabilityZone{}
	for _, z := range [][3]string{{"us-east-1c", "use1-az2", "available"}, {"us-east-1a", "use1-az6", "impaired"}, {"us-east-1b", "use1-az1", "available"}, {"us-east-1d", "use1-az4", "available"}} {
		zones = append(zones, ec2types.AvailabilityZone{ZoneName: aws.String(z[0]), ZoneId: aws.String(z[1]), State: ec2types.AvailabilityZoneState(z[2]), ZoneType: aws.String("availability-zone")})
	}
	for _, c := range []struct {
		name   string
		pinned []string
		want   string
	}{
		{"the first available ones, in name order (Fn::GetAZs)", nil, "us-east-1b/use1-az1 us-east-1c/use1-az2"},
		{"pinned", []string{"us-east-1d", "us-east-1a"}, "us-east-1d/use1-az4 us-east-1a/use1-az6"},
		{"pinned, one unknown", []string{"us-east-1d", "us-east-1z"}, "us-east-1d/use1-az4 us-east-1z/"},
	} {
		s := &Stage{Name: "dev", Region: "us-east-1"}
		s.Network.MaxAzs, s.Network.AvailabilityZones = 2, c.pinned
		var got []string
		for _, z := range StageAZs(s, zones) {
			got = append(got, aws.ToString(z.ZoneName)+"/"+aws.ToString(z.ZoneId))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
}
