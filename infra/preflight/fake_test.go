package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeAWS is an AWS endpoint for the calls preflight makes, speaking each
// service's own protocol (query/XML for STS, EC2, CloudFormation and RDS;
// REST-JSON for Lambda and MSK; JSON 1.1 for Service Quotas, CloudWatch
// Logs and Secrets Manager), so that the real SDK clients run against it
// through AWS_ENDPOINT_URL. Its fields are the account's state.
type fakeAWS struct {
	mu sync.Mutex

	Account            string
	ConcurrencyLimit   int
	Unreserved         int
	Functions          map[string]int // existing functions: name → reserved concurrency
	Zones              [][3]string    // name, ID, state
	Stacks             map[string]string
	BootstrapVersion   string
	Quotas             map[string]map[string]float64 // service code → quota name → value
	ProvisionedBrokers []int                         // one provisioned cluster per entry
	ServerlessClusters int
	DBInstances        []string
	DBProxies          int
	LogGroups          []string
	Secrets            map[string]bool // name → scheduled for deletion
	DenyServiceQuotas  bool
	Calls              map[string]int // by operation
	unknown            []string
}

// healthyAccount is an account where every check passes for cdk.json's
// dev and prod stages.
func healthyAccount() *fakeAWS {
	return &fakeAWS{
		Account:          "123456789012",
		ConcurrencyLimit: 1000,
		Unreserved:       1000,
		Functions:        map[string]int{},
		Zones: [][3]string{
			{"us-east-1a", "use1-az6", "available"}, {"us-east-1b", "use1-az1", "available"},
			{"us-east-1c", "use1-az2", "available"}, {"us-east-1d", "use1-az4", "available"},
			{"us-east-1e", "use1-az3", "available"}, {"us-east-1f", "use1-az5", "available"},
		},
		Stacks:           map[string]string{"CDKToolkit": "UPDATE_COMPLETE"},
		BootstrapVersion: "27",
		Quotas: map[string]map[string]float64{
			"kafka": {"Brokers per account": 90, "Serverless clusters per account": 10},
			"rds":   {"DB instances": 40, "Proxies": 20},
		},
		Secrets: map[string]bool{},
		Calls:   map[string]int{},
	}
}

// serve starts the endpoint and points the SDK at it, with test
// credentials and no shared configuration.
func (f *fakeAWS) serve(t *testing.T) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if len(f.unknown) > 0 {
			t.Errorf("the fake got calls it does not know: %v", f.unknown)
		}
	})
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "STAGE"} {
		t.Setenv(k, "")
	}
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		f.jsonRPC(w, r, target)
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		_ = r.ParseForm() // a malformed form leaves r.Form empty: the fake then answers an error
		f.query(w, r.Form)
		return
	}
	f.rest(w, r)
}

func (f *fakeAWS) call(op string) { f.Calls[op]++ }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// rest serves Lambda and MSK.
func (f *fakeAWS) rest(w http.ResponseWriter, r *http.Request) {
	notFound := func(msg string) {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		writeJSON(w, http.StatusNotFound, map[string]string{"Type": "User", "Message": msg})
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/2016-08-19/account-settings"):
		f.call("GetAccountSettings")
		writeJSON(w, 200, map[string]any{
			"AccountLimit": map[string]any{"ConcurrentExecutions": f.ConcurrencyLimit, "UnreservedConcurrentExecutions": f.Unreserved,
				"CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800, "TotalCodeSize": 80530636800},
			"AccountUsage": map[string]any{"FunctionCount": len(f.Functions), "TotalCodeSize": 0},
		})
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/2019-09-30/functions/") && strings.HasSuffix(p, "/concurrency"):
		f.call("GetFunctionConcurrency")
		name, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, "/2019-09-30/functions/"), "/concurrency"))
		n, ok := f.Functions[name]
		if !ok {
			notFound("Function not found: " + name)
			return
		}
		if n == 0 {
			writeJSON(w, 200, map[string]any{})
			return
		}
		writeJSON(w, 200, map[string]any{"ReservedConcurrentExecutions": n})
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/2015-03-31/functions/"):
		f.call("GetFunction")
		name, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, "/2015-03-31/functions/"), "/"))
		if _, ok := f.Functions[name]; !ok {
			notFound("Function not found: " + name)
			return
		}
		writeJSON(w, 200, map[string]any{"Configuration": map[string]any{"FunctionName": name}})
	case r.Method == http.MethodGet && p == "/api/v2/clusters":
		f.call("ListClustersV2")
		var list []any
		for i, b := range f.ProvisionedBrokers {
			list = append(list, map[string]any{"clusterName": fmt.Sprintf("other-%d", i), "clusterType": "PROVISIONED",
				"provisioned": map[string]any{"numberOfBrokerNodes": b}})
		}
		for i := 0; i < f.ServerlessClusters; i++ {
			list = append(list, map[string]any{"clusterName": fmt.Sprintf("serverless-%d", i), "clusterType": "SERVERLESS", "serverless": map[string]any{}})
		}
		writeJSON(w, 200, map[string]any{"clusterInfoList": list})
	default:
		f.unknown = append(f.unknown, r.Method+" "+p)
		writeJSON(w, 400, map[string]string{"message": "unexpected call"})
	}
}

// jsonRPC serves the JSON 1.1 services.
func (f *fakeAWS) jsonRPC(w http.ResponseWriter, r *http.Request, target string) {
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in) // a malformed body leaves in empty: the fake then answers an error
	str := func(k string) string { s, _ := in[k].(string); return s }
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	ok := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(v)
	}
	op := target[strings.LastIndex(target, ".")+1:]
	f.call(op)
	switch target {
	case "ServiceQuotasV20190624.ListServiceQuotas":
		if f.DenyServiceQuotas {
			fail(400, "AccessDeniedException", "not authorized to perform servicequotas:ListServiceQuotas")
			return
		}
		var quotas []any
		for name, v := range f.Quotas[str("ServiceCode")] {
			quotas = append(quotas, map[string]any{"ServiceCode": str("ServiceCode"), "QuotaName": name, "QuotaCode": "L-TEST", "Value": v})
		}
		ok(map[string]any{"Quotas": quotas})
	case "Logs_20140328.DescribeLogGroups":
		var groups []any
		for _, g := range f.LogGroups {
			if strings.HasPrefix(g, str("logGroupNamePrefix")) {
				groups = append(groups, map[string]any{"logGroupName": g})
			}
		}
		ok(map[string]any{"logGroups": groups})
	case "secretsmanager.DescribeSecret":
		deleted, exists := f.Secrets[str("SecretId")]
		if !exists {
			fail(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		out := map[string]any{"Name": str("SecretId"), "ARN": "arn:aws:secretsmanager:us-east-1:" + f.Account + ":secret:" + str("SecretId") + "-AbCdEf"}
		if deleted {
			out["DeletedDate"] = 1.7646e9
		}
		ok(out)
	default:
		f.unknown = append(f.unknown, target)
		fail(400, "UnknownOperationException", "unexpected call")
	}
}

// query serves the query-protocol services (XML answers).
func (f *fakeAWS) query(w http.ResponseWriter, form url.Values) {
	action := form.Get("Action")
	f.call(action)
	w.Header().Set("Content-Type", "text/xml")
	queryError := func(status int, code, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code, html.EscapeString(msg))
	}
	switch action {
	case "GetCallerIdentity":
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::%[1]s:user/deployer</Arn><UserId>AIDTEST</UserId><Account>%[1]s</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, f.Account)
	case "DescribeAvailabilityZones":
		var b strings.Builder
		for _, z := range f.Zones {
			fmt.Fprintf(&b, `<item><zoneName>%s</zoneName><zoneId>%s</zoneId><zoneState>%s</zoneState><regionName>us-east-1</regionName><zoneType>availability-zone</zoneType></item>`, z[0], z[1], z[2])
		}
		fmt.Fprintf(w, `<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><availabilityZoneInfo>%s</availabilityZoneInfo></DescribeAvailabilityZonesResponse>`, b.String())
	case "DescribeStacks":
		name := form.Get("StackName")
		status, ok := f.Stacks[name]
		if !ok {
			queryError(400, "ValidationError", "Stack with id "+name+" does not exist")
			return
		}
		outputs := ""
		if name == "CDKToolkit" {
			outputs = `<Outputs><member><OutputKey>BootstrapVersion</OutputKey><OutputValue>` + f.BootstrapVersion + `</OutputValue></member></Outputs>`
		}
		fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>`+
			`<StackName>%s</StackName><StackStatus>%s</StackStatus><CreationTime>2026-11-29T10:00:00Z</CreationTime>%s`+
			`</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`, name, status, outputs)
	case "DescribeDBInstances":
		id := form.Get("DBInstanceIdentifier")
		var b strings.Builder
		for _, db := range f.DBInstances {
			if id == "" || id == db {
				fmt.Fprintf(&b, `<DBInstance><DBInstanceIdentifier>%s</DBInstanceIdentifier><Engine>postgres</Engine></DBInstance>`, db)
			}
		}
		if id != "" && b.Len() == 0 {
			queryError(404, "DBInstanceNotFound", "DBInstance "+id+" not found.")
			return
		}
		fmt.Fprintf(w, `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances>%s</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`, b.String())
	case "DescribeDBProxies":
		var b strings.Builder
		for i := 0; i < f.DBProxies; i++ {
			fmt.Fprintf(&b, `<member><DBProxyName>proxy-%d</DBProxyName></member>`, i)
		}
		fmt.Fprintf(w, `<DescribeDBProxiesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBProxiesResult><DBProxies>%s</DBProxies></DescribeDBProxiesResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeDBProxiesResponse>`, b.String())
	default:
		f.unknown = append(f.unknown, action)
		queryError(400, "InvalidAction", "unexpected call "+action)
	}
}
