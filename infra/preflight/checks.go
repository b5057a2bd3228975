package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kafkatypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Status is a check's outcome. A failed check means the deploy would fail
// (or the stage would misbehave); a warning is for a person to look at.
type Status string

const (
	Pass Status = "ok"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one row of the table: what was checked, the outcome, what was
// found and, unless it passed, what to do.
type Result struct {
	Check  string
	Status Status
	Detail string
	Fix    string
}

// MinUnreserved is the concurrency Lambda keeps unreserved in an account:
// a reservation that would leave less fails ("decreases account's
// UnreservedConcurrentExecution below its minimum value").
const MinUnreserved = 100

// ExcludedAZIDs are AZ IDs a stage's subnets must avoid, with what cannot
// go there. The IDs are the same in every account (names are not).
var ExcludedAZIDs = map[string][]string{
	"use1-az3": {"MSK", "RDS Proxy"},
}

// Clients are the AWS APIs preflight reads, all from one configuration
// (the standard credential chain, the stage's region).
type Clients struct {
	STS            *sts.Client
	Lambda         *lambda.Client
	EC2            *ec2.Client
	ServiceQuotas  *servicequotas.Client
	RDS            *rds.Client
	Kafka          *kafka.Client
	CloudFormation *cloudformation.Client
	Logs           *cloudwatchlogs.Client
	SecretsManager *secretsmanager.Client
}

// NewClients makes the clients from cfg.
func NewClients(cfg aws.Config) *Clients {
	return &Clients{
		STS: sts.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg),
		ServiceQuotas: servicequotas.NewFromConfig(cfg), RDS: rds.NewFromConfig(cfg), Kafka: kafka.NewFromConfig(cfg),
		CloudFormation: cloudformation.NewFromConfig(cfg), Logs: cloudwatchlogs.NewFromConfig(cfg),
		SecretsManager: secretsmanager.NewFromConfig(cfg),
	}
}

// Run makes every check against the account, in table order. A check
// that cannot read what it needs fails with the error and what it needs.
func Run(ctx context.Context, c *Clients, s *Stage) []Result {
	var out []Result
	account, res := checkIdentity(ctx, c, s)
	out = append(out, res)
	if res.Status == Fail {
		return out // nothing else can be read
	}
	stack, res := checkStack(ctx, c, s)
	out = append(out, res)
	out = append(out, checkBootstrap(ctx, c, s, account))
	out = append(out, checkConcurrency(ctx, c, s))
	out = append(out, checkAZs(ctx, c, s))
	out = append(out, checkQuotas(ctx, c, s, stack.exists)...)
	out = append(out, checkNames(ctx, c, s, stack.exists)...)
	return out
}

// Failed reports whether any check failed.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Table prints the results: one row per check, and the fix under a row
// that did not pass.
func Table(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-24s %-6s %s\n", "check", "result", "detail")
	for _, r := range results {
		fmt.Fprintf(w, "%-24s %-6s %s\n", r.Check, r.Status, r.Detail)
		if r.Status != Pass && r.Fix != "" {
			fmt.Fprintf(w, "%-24s %-6s fix: %s\n", "", "", r.Fix)
		}
	}
}

// errorCode is the AWS error code of err ("" if none).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func failed(check string, err error, needs string) Result {
	return Result{Check: check, Status: Fail, Detail: err.Error(), Fix: "preflight needs " + needs + " in this account and region"}
}

func checkIdentity(ctx context.Context, c *Clients, s *Stage) (string, Result) {
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", Result{Check: "credentials", Status: Fail, Detail: err.Error(),
			Fix: "give the standard AWS credential chain credentials: AWS_PROFILE (aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}
	}
	return aws.ToString(out.Account), Result{Check: "credentials", Status: Pass,
		Detail: fmt.Sprintf("account %s as %s, region %s (cdk.json)", aws.ToString(out.Account), aws.ToString(out.Arn), s.Region)}
}

type stackState struct{ exists bool }

// checkStack reports whether the stage's stack exists (the deploy is an
// update) and fails on a state CloudFormation cannot deploy over.
func checkStack(ctx context.Context, c *Clients, s *Stage) (stackState, Result) {
	name := s.StackName()
	out, err := c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		if errorCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist") {
			return stackState{}, Result{Check: "stack", Status: Pass, Detail: name + " does not exist: the deploy creates it"}
		}
		return stackState{}, failed("stack", err, "cloudformation:DescribeStacks")
	}
	status := string(out.Stacks[0].StackStatus)
	switch {
	case status == "ROLLBACK_COMPLETE" || status == "ROLLBACK_FAILED" || status == "DELETE_FAILED":
		return stackState{exists: true}, Result{Check: "stack", Status: Fail, Detail: name + " is " + status + ": CloudFormation cannot update it",
			Fix: "delete it first (make destroy STAGE=" + s.Name + "), then deploy again"}
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		return stackState{exists: true}, Result{Check: "stack", Status: Fail, Detail: name + " is " + status,
			Fix: "wait until the running operation ends (aws cloudformation describe-stacks --stack-name " + name + ")"}
	}
	return stackState{exists: true}, Result{Check: "stack", Status: Pass, Detail: name + " is " + status + ": the deploy updates it"}
}

// checkBootstrap looks for the CDK's bootstrap stack, which holds the
// assets bucket and the roles cdk deploy uses.
func checkBootstrap(ctx context.Context, c *Clients, s *Stage, account string) Result {
	name := "CDKToolkit"
	fix := fmt.Sprintf("npx cdk bootstrap aws://%s/%s", account, s.Region)
	out, err := c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &name})
	if err != nil {
		if errorCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist") {
			return Result{Check: "cdk bootstrap", Status: Fail, Detail: "no CDKToolkit stack in " + s.Region, Fix: fix}
		}
		return failed("cdk bootstrap", err, "cloudformation:DescribeStacks")
	}
	st := out.Stacks[0]
	status := string(st.StackStatus)
	if !strings.HasSuffix(status, "_COMPLETE") || strings.HasPrefix(status, "ROLLBACK") || strings.HasPrefix(status, "DELETE") ||
		status == "UPDATE_ROLLBACK_COMPLETE" {
		return Result{Check: "cdk bootstrap", Status: Fail, Detail: "CDKToolkit is " + status, Fix: fix + " (after deleting a failed CDKToolkit stack)"}
	}
	version := "?"
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == "BootstrapVersion" {
			version = aws.ToString(o.OutputValue)
		}
	}
	return Result{Check: "cdk bootstrap", Status: Pass, Detail: fmt.Sprintf("CDKToolkit %s, bootstrap version %s", status, version)}
}

// checkConcurrency: once deployed, the stage's reservations must leave the
// account MinUnreserved. The stage's functions that exist already hold
// their current reservation, which the deploy gives back first.
func checkConcurrency(ctx context.Context, c *Clients, s *Stage) Result {
	const check = "lambda concurrency"
	acct, err := c.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return failed(check, err, "lambda:GetAccountSettings")
	}
	limit := int(acct.AccountLimit.ConcurrentExecutions)
	unreserved := int(aws.ToInt32(acct.AccountLimit.UnreservedConcurrentExecutions))
	held := 0
	for _, fn := range functions {
		name := s.ResourceName(fn)
		out, err := c.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: &name})
		if err != nil {
			if errorCode(err) == "ResourceNotFoundException" {
				continue
			}
			return failed(check, err, "lambda:GetFunctionConcurrency")
		}
		held += int(aws.ToInt32(out.ReservedConcurrentExecutions))
	}
	want := s.ReservedTotal()
	after := unreserved + held - want
	detail := fmt.Sprintf("account limit %d, unreserved %d; the stage reserves %d (%s), leaving %d unreserved (Lambda's minimum is %d)",
		limit, unreserved, want, reservedDetail(s), after, MinUnreserved)
	if after >= MinUnreserved {
		return Result{Check: check, Status: Pass, Detail: detail}
	}
	return Result{Check: check, Status: Fail, Detail: detail,
		Fix: fmt.Sprintf("ask for a Lambda 'Concurrent executions' quota (Service Quotas, L-B99A9384) of at least %d; "+
			"or lower functions.<fn>.reservedConcurrency in cdk.json (the synth refuses a reservation below a function's triggers)",
			limit+MinUnreserved-after)}
}

func reservedDetail(s *Stage) string {
	var parts []string
	for _, fn := range functions {
		if n := s.Reserved()[fn]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", fn, n))
		}
	}
	return strings.Join(parts, ", ")
}

// StageAZs are the AZs the stage's subnets go in: network.availabilityZones
// if set, else the first maxAzs of the region's available AZs in name
// order, which is what Fn::GetAZs gives the VPC (in an account with a
// default VPC, Fn::GetAZs lists only AZs with a default subnet: pin the
// AZs if you deleted some).
func StageAZs(s *Stage, zones []ec2types.AvailabilityZone) []ec2types.AvailabilityZone {
	byName := map[string]ec2types.AvailabilityZone{}
	var names []string
	for _, z := range zones {
		name := aws.ToString(z.ZoneName)
		byName[name] = z
		if z.State == ec2types.AvailabilityZoneStateAvailable && (z.ZoneType == nil || aws.ToString(z.ZoneType) == "availability-zone") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []ec2types.AvailabilityZone
	if len(s.Network.AvailabilityZones) > 0 {
		for _, n := range s.Network.AvailabilityZones {
			z, ok := byName[n]
			if !ok {
				z = ec2types.AvailabilityZone{ZoneName: aws.String(n)}
			}
			out = append(out, z)
		}
		return out
	}
	for i := 0; i < len(names) && i < s.Network.MaxAzs; i++ {
		out = append(out, byName[names[i]])
	}
	return out
}

// checkAZs maps the stage's AZ names to IDs and fails on an ID that MSK
// or the RDS Proxy (if the stage has one) cannot use.
func checkAZs(ctx context.Context, c *Clients, s *Stage) Result {
	const check = "availability zones"
	out, err := c.EC2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return failed(check, err, "ec2:DescribeAvailabilityZones")
	}
	azs := StageAZs(s, out.AvailabilityZones)
	var used, problems []string
	bad := map[string]bool{}
	for _, z := range azs {
		name, id := aws.ToString(z.ZoneName), aws.ToString(z.ZoneId)
		used = append(used, name+" ("+id+")")
		switch {
		case id == "":
			problems = append(problems, name+" is not an AZ of "+s.Region)
			bad[name] = true
		case z.State != ec2types.AvailabilityZoneStateAvailable:
			problems = append(problems, name+" is "+string(z.State))
			bad[name] = true
		}
		for _, svc := range ExcludedAZIDs[id] {
			if svc == "RDS Proxy" && !s.Database.Proxy {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s is %s, where %s is not offered", name, id, svc))
			bad[name] = true
		}
	}
	if len(azs) < s.Network.MaxAzs {
		problems = append(problems, fmt.Sprintf("the region has %d available AZs, the stage needs %d", len(azs), s.Network.MaxAzs))
	}
	detail := "the subnets go in " + strings.Join(used, ", ")
	if len(problems) == 0 {
		return Result{Check: check, Status: Pass, Detail: detail}
	}
	// Suggest the first AZs that would do.
	var good []string
	for _, z := range out.AvailabilityZones {
		id := aws.ToString(z.ZoneId)
		if z.State == ec2types.AvailabilityZoneStateAvailable && len(ExcludedAZIDs[id]) == 0 &&
			(z.ZoneType == nil || aws.ToString(z.ZoneType) == "availability-zone") {
			good = append(good, aws.ToString(z.ZoneName))
		}
	}
	sort.Strings(good)
	if len(good) > s.Network.MaxAzs {
		good = good[:s.Network.MaxAzs]
	}
	return Result{Check: check, Status: Fail, Detail: detail + ": " + strings.Join(problems, "; "),
		Fix: fmt.Sprintf(`pin stages.%s.network.availabilityZones in cdk.json to AZs whose IDs avoid %s, say ["%s"]`,
			s.Name, excludedList(), strings.Join(good, `", "`))}
}

func excludedList() string {
	var ids []string
	for id := range ExcludedAZIDs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// quota finds a quota of a service whose name matches, in Service Quotas'
// applied values (which list the defaults too).
func quota(ctx context.Context, c *Clients, service string, match func(name string) bool) (name string, value int, err error) {
	p := servicequotas.NewListServiceQuotasPaginator(c.ServiceQuotas, &servicequotas.ListServiceQuotasInput{ServiceCode: aws.String(service)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", 0, err
		}
		for _, q := range page.Quotas {
			if n := aws.ToString(q.QuotaName); match(strings.ToLower(n)) {
				return n, int(aws.ToFloat64(q.Value)), nil
			}
		}
	}
	return "", 0, nil
}

// checkQuotas compares the MSK and RDS quotas with what is in use plus
// what the stage adds (nothing when its stack exists: it is in use).
func checkQuotas(ctx context.Context, c *Clients, s *Stage, exists bool) []Result {
	adds := func(n int) int {
		if exists {
			return 0
		}
		return n
	}
	compare := func(check, service, what string, match func(string) bool, used, add int, usedErr error, needs string) Result {
		if usedErr != nil {
			return failed(check, usedErr, needs)
		}
		name, value, err := quota(ctx, c, service, match)
		if err != nil {
			return Result{Check: check, Status: Warn, Detail: "Service Quotas: " + err.Error(),
				Fix: "allow servicequotas:ListServiceQuotas, or read the " + service + " quotas in the Service Quotas console"}
		}
		if name == "" {
			return Result{Check: check, Status: Warn, Detail: fmt.Sprintf("no %s quota for %s listed; %d in use, the stage adds %d", service, what, used, add),
				Fix: "read it in the Service Quotas console (" + service + ")"}
		}
		detail := fmt.Sprintf("%s: %d in use + %d for the stage, quota %q %d", what, used, add, name, value)
		if used+add <= value {
			return Result{Check: check, Status: Pass, Detail: detail}
		}
		return Result{Check: check, Status: Fail, Detail: detail,
			Fix: fmt.Sprintf("ask for %q of at least %d in Service Quotas (%s), or free some", name, used+add, service)}
	}

	var out []Result
	// MSK: brokers for a provisioned cluster, clusters for serverless.
	clusters, err := listClusters(ctx, c)
	if s.Kafka.Mode == "provisioned" {
		brokers := 0
		for _, cl := range clusters {
			if cl.Provisioned != nil {
				brokers += int(aws.ToInt32(cl.Provisioned.NumberOfBrokerNodes))
			}
		}
		out = append(out, compare("msk quota", "kafka", "brokers", func(n string) bool {
			return strings.Contains(n, "broker") && strings.Contains(n, "account")
		}, brokers, adds(s.Kafka.Brokers), err, "kafka:ListClustersV2"))
	} else {
		serverless := 0
		for _, cl := range clusters {
			if cl.ClusterType == kafkatypes.ClusterTypeServerless {
				serverless++
			}
		}
		out = append(out, compare("msk quota", "kafka", "serverless clusters", func(n string) bool {
			return strings.Contains(n, "serverless") && strings.Contains(n, "cluster")
		}, serverless, adds(1), err, "kafka:ListClustersV2"))
	}
	// RDS: one instance, and a proxy if the stage has one.
	instances, err := countDBInstances(ctx, c)
	out = append(out, compare("rds quota", "rds", "DB instances", func(n string) bool { return n == "db instances" },
		instances, adds(1), err, "rds:DescribeDBInstances"))
	if s.Database.Proxy {
		proxies, err := countDBProxies(ctx, c)
		out = append(out, compare("rds proxy quota", "rds", "proxies", func(n string) bool { return n == "proxies" || n == "db proxies" },
			proxies, adds(1), err, "rds:DescribeDBProxies"))
	}
	return out
}

func listClusters(ctx context.Context, c *Clients) ([]kafkatypes.Cluster, error) {
	var out []kafkatypes.Cluster
	p := kafka.NewListClustersV2Paginator(c.Kafka, &kafka.ListClustersV2Input{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.ClusterInfoList...)
	}
	return out, nil
}

func countDBInstances(ctx context.Context, c *Clients) (int, error) {
	n := 0
	p := rds.NewDescribeDBInstancesPaginator(c.RDS, &rds.DescribeDBInstancesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.DBInstances)
	}
	return n, nil
}

func countDBProxies(ctx context.Context, c *Clients) (int, error) {
	n := 0
	p := rds.NewDescribeDBProxiesPaginator(c.RDS, &rds.DescribeDBProxiesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.DBProxies)
	}
	return n, nil
}

// checkNames looks, when the stack is to be created, for resources left
// with the fixed names it will give (an earlier stack's, or made by hand):
// the functions, the database instance and the app client secrets (a
// secret scheduled for deletion still holds its name). What the stack
// keeps after a delete (log groups, database secrets) carries the
// deleted stack's own suffix and does not collide: it is listed only.
func checkNames(ctx context.Context, c *Clients, s *Stage, exists bool) []Result {
	const check = "names"
	if exists {
		return []Result{{Check: check, Status: Pass, Detail: s.StackName() + " exists and owns its names"}}
	}
	var out []Result
	var taken []string
	var fixes []string
	for _, fn := range functions {
		name := s.ResourceName(fn)
		_, err := c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
		switch {
		case err == nil:
			taken = append(taken, "function "+name)
			fixes = append(fixes, "aws lambda delete-function --function-name "+name)
		case errorCode(err) != "ResourceNotFoundException":
			return []Result{failed(check, err, "lambda:GetFunction")}
		}
	}
	db := s.ResourceName("postgres")
	if _, err := c.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: &db}); err == nil {
		taken = append(taken, "DB instance "+db)
		fixes = append(fixes, "delete or rename DB instance "+db+" (snapshot it first if it holds data)")
	} else if errorCode(err) != "DBInstanceNotFound" && errorCode(err) != "DBInstanceNotFoundFault" {
		return []Result{failed(check, err, "rds:DescribeDBInstances")}
	}
	for _, name := range s.ClientSecretNames() {
		sec, err := c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		switch {
		case err == nil && sec.DeletedDate != nil:
			taken = append(taken, "secret "+name+" (scheduled for deletion)")
			fixes = append(fixes, "aws secretsmanager delete-secret --force-delete-without-recovery --secret-id "+name)
		case err == nil:
			taken = append(taken, "secret "+name)
			fixes = append(fixes, "aws secretsmanager delete-secret --force-delete-without-recovery --secret-id "+name)
		case errorCode(err) != "ResourceNotFoundException":
			return []Result{failed(check, err, "secretsmanager:DescribeSecret")}
		}
	}
	if len(taken) > 0 {
		out = append(out, Result{Check: check, Status: Fail,
			Detail: "taken outside the stack: " + strings.Join(taken, ", "),
			Fix:    strings.Join(fixes, "; ")})
	} else {
		out = append(out, Result{Check: check, Status: Pass, Detail: "no function, DB instance or app client secret holds the stage's names"})
	}

	// Retained from an earlier stack: harmless, but say so.
	prefix := "/aws/lambda/" + s.ResourceName("")
	logs := 0
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(c.Logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return append(out, failed("retained", err, "logs:DescribeLogGroups"))
		}
		logs += len(page.LogGroups)
	}
	if logs > 0 {
		out = append(out, Result{Check: "retained", Status: Pass,
			Detail: fmt.Sprintf("%d log groups %s* kept from an earlier stack; the new stack's names carry its own suffix", logs, prefix)})
	}
	return out
}
