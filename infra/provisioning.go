package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sort"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/worker"
)

// Provisioning holds what a deploy does inside Postgres and Kafka: the
// migrate function (functions/migrate, built like the others into
// build/migrate) behind a custom-resource provider, and two custom
// resources it serves:
//   - Databases: a role and a database per service, the services'
//     embedded goose migrations, data-only grants. Its MigrationsHash
//     property changes with any migration file, so a deploy that brings
//     new migrations applies them before the functions are updated.
//   - Topics: the lifecycle topics of shared/kafka.Topics with their
//     partition counts.
//   - AdminKey: the stage's first admin API key in its secret
//     (Auth.AdminKey): a new jw_ key when the secret holds none, the one
//     there otherwise (shared/adminkey). The function may read and write
//     that one secret (GetSecretValue, PutSecretValue), nothing else of it.
//
// The four functions depend on all three, so none runs against a
// database or a topic that is not there yet, and the api finds its key.
type Provisioning struct {
	constructs.Construct
	Function  *GoFunction
	Databases awscdk.CustomResource
	Topics    awscdk.CustomResource
	AdminKey  awscdk.CustomResource
}

// NewProvisioning builds the migrate function and the two resources.
func NewProvisioning(scope constructs.Construct, id string, cfg Config, net *Network, data *Data, msg *Messaging, auth *Auth) *Provisioning {
	c := constructs.NewConstruct(scope, jsii.String(id))
	fn := NewGoFunction(c, "migrate", cfg, net,
		"JobWeaver deploy-time provisioning: databases, roles, migrations, Kafka topics (CloudFormation custom resources)",
		map[string]*string{
			"KAFKA_BROKERS": msg.BootstrapBrokers,
			"KAFKA_AUTH":    jsii.String("iam"),
		})
	data.Instance.Secret().GrantRead(fn.Function, nil)
	for _, svc := range Services {
		data.Secrets[svc].GrantRead(fn.Function, nil)
	}
	fn.Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
		Resources: jsii.Strings(*auth.AdminKey.SecretArn()),
	}))
	topicNames := kafka.TopicNames()
	msg.GrantCreateTopics(fn.Function, topicNames...)
	// It runs during the deploy: the endpoints and the security-group
	// rules it goes through must be there first.
	fn.Function.Node().AddDependency(net.Construct, data.Construct, msg.Construct)

	providerLogs := awslogs.NewLogGroup(c, jsii.String("ProviderLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	provider := customresources.NewProvider(c, jsii.String("Provider"), &customresources.ProviderProps{
		OnEventHandler: fn.Function,
		LogGroup:       providerLogs,
	})

	services := make([]any, 0, len(Services))
	for _, svc := range Services {
		services = append(services, map[string]any{
			"Name":      svc,
			"Database":  DatabaseName(svc),
			"SecretArn": data.Secrets[svc].SecretArn(),
		})
	}
	dbs := awscdk.NewCustomResource(c, jsii.String("Databases"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String("Custom::JobWeaverDatabases"),
		Properties: &map[string]any{
			"Host":            data.Instance.DbInstanceEndpointAddress(),
			"Port":            data.Instance.DbInstanceEndpointPort(),
			"MasterSecretArn": data.Instance.Secret().SecretArn(),
			"Services":        services,
			"SSLMode":         "require",
			"MigrationsHash":  MigrationsHash(),
		},
	})

	topics := make([]any, 0, len(kafka.Topics))
	for _, t := range kafka.Topics {
		topics = append(topics, map[string]any{"Name": t.Name, "Partitions": strconv.Itoa(int(t.Partitions))})
	}
	tps := awscdk.NewCustomResource(c, jsii.String("Topics"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String("Custom::JobWeaverTopics"),
		Properties:   &map[string]any{"Topics": topics},
	})
	key := awscdk.NewCustomResource(c, jsii.String("AdminKey"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String("Custom::JobWeaverAdminKey"),
		// Refresh runs it again on a deploy that changes nothing else.
		Properties: &map[string]any{"SecretArn": auth.AdminKey.SecretArn(), "Refresh": cfg.Refresh},
	})
	// One at a time: the function is small and each resource is quick.
	tps.Node().AddDependency(dbs)
	key.Node().AddDependency(tps)
	return &Provisioning{Construct: c, Function: fn, Databases: dbs, Topics: tps, AdminKey: key}
}

// MigrationsHash is a SHA-256 over every service's embedded migration
// files (names and contents): the same files the functions and the
// migrate function embed.
func MigrationsHash() string {
	h := sha256.New()
	for _, svc := range []struct {
		name string
		fsys fs.FS
	}{{"api", api.Migrations()}, {"scheduler", scheduler.Migrations()}, {"worker", worker.Migrations()}, {"dlq", dlq.Migrations()}} {
		var names []string
		_ = fs.WalkDir(svc.fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, p)
			}
			return err
		})
		sort.Strings(names)
		for _, n := range names {
			b, err := fs.ReadFile(svc.fsys, n)
			if err != nil {
				panic(err) // embedded files always read
			}
			h.Write([]byte(svc.name + "/" + n + "\x00"))
			h.Write(b)
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
