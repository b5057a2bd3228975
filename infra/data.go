package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Data holds the database: one RDS for PostgreSQL instance (private,
// encrypted, TLS only) with a database and a login role per service, the
// credentials in Secrets Manager (the master's and one secret per
// service), and optionally an RDS Proxy in front of it for the functions.
//
// The databases, roles, grants and migrations are made at deploy time by
// the migrate function (see Provisioning), not here: CloudFormation has no
// resource for what lives inside Postgres.
type Data struct {
	constructs.Construct
	Instance awsrds.DatabaseInstance
	// Secrets are the services' {username, password, dbname} secrets.
	Secrets map[string]awsrds.DatabaseSecret
	Proxy   awsrds.DatabaseProxy // nil without database.proxy
	// Host is where the functions connect: the proxy if there is one,
	// else the instance. The migrate function always uses the instance.
	Host *string
	Port *string
}

// DatabaseName and DatabaseUser name a service's database and role.
func DatabaseName(service string) string { return "jobweaver_" + service }
func DatabaseUser(service string) string { return "jobweaver_" + service }

// NewData builds the instance, the service secrets and the proxy.
func NewData(scope constructs.Construct, id string, cfg Config, net *Network) *Data {
	c := constructs.NewConstruct(scope, jsii.String(id))
	d := &Data{Construct: c, Secrets: map[string]awsrds.DatabaseSecret{}}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}

	sg := awsec2.NewSecurityGroup(c, jsii.String("DatabaseSg"), &awsec2.SecurityGroupProps{
		Vpc:              net.Vpc,
		Description:      jsii.String("JobWeaver Postgres: 5432 from the functions (or the RDS Proxy)"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(net.Functions, awsec2.Port_Tcp(jsii.Number(5432)), jsii.String("functions and migrate"), nil)

	engine := awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{
		Version: awsrds.PostgresEngineVersion_Of(jsii.String(cfg.Database.EngineVersion), jsii.String(cfg.Database.EngineVersion), nil),
	})
	params := awsrds.NewParameterGroup(c, jsii.String("Parameters"), &awsrds.ParameterGroupProps{
		Engine:      engine,
		Description: jsii.String("JobWeaver Postgres"),
		Parameters: &map[string]*string{
			"rds.force_ssl": jsii.String("1"),
			// A frozen Lambda environment keeps its connections open;
			// close the ones idle this long (pgx pings and reconnects).
			"idle_session_timeout":       jsii.String("600000"),
			"log_min_duration_statement": jsii.String("1000"),
		},
	})
	instanceRemoval := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		instanceRemoval = awscdk.RemovalPolicy_SNAPSHOT
	}
	d.Instance = awsrds.NewDatabaseInstance(c, jsii.String("Postgres"), &awsrds.DatabaseInstanceProps{
		InstanceIdentifier:  jsii.String(resourceName(cfg, "postgres")),
		Engine:              engine,
		InstanceType:        awsec2.NewInstanceType(jsii.String(cfg.Database.InstanceClass)),
		Vpc:                 net.Vpc,
		VpcSubnets:          net.Subnets,
		SecurityGroups:      &[]awsec2.ISecurityGroup{sg},
		PubliclyAccessible:  jsii.Bool(false),
		StorageEncrypted:    jsii.Bool(true),
		StorageType:         awsrds.StorageType_GP3,
		AllocatedStorage:    jsii.Number(float64(cfg.Database.AllocatedStorageGiB)),
		MaxAllocatedStorage: jsii.Number(float64(cfg.Database.MaxAllocatedStorageGiB)),
		MultiAz:             jsii.Bool(cfg.Database.MultiAz),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("jobweaver_admin"), &awsrds.CredentialsBaseOptions{
			SecretName: retainedName(resourceName(cfg, "db-master")),
		}),
		ParameterGroup:          params,
		BackupRetention:         awscdk.Duration_Days(jsii.Number(float64(cfg.Database.BackupRetentionDays))),
		DeleteAutomatedBackups:  jsii.Bool(!cfg.RetainData),
		DeletionProtection:      jsii.Bool(cfg.RetainData),
		RemovalPolicy:           instanceRemoval,
		AutoMinorVersionUpgrade: jsii.Bool(true),
		CopyTagsToSnapshot:      jsii.Bool(true),
	})
	d.Instance.Secret().ApplyRemovalPolicy(removal)

	for _, svc := range Services {
		secret := awsrds.NewDatabaseSecret(c, jsii.String(title(svc)+"Secret"), &awsrds.DatabaseSecretProps{
			SecretName: retainedName(resourceName(cfg, "db-"+svc)),
			Username:   jsii.String(DatabaseUser(svc)),
			Dbname:     jsii.String(DatabaseName(svc)),
		})
		secret.ApplyRemovalPolicy(removal)
		d.Secrets[svc] = secret
	}

	d.Host, d.Port = d.Instance.DbInstanceEndpointAddress(), d.Instance.DbInstanceEndpointPort()
	if cfg.Database.Proxy {
		proxySG := awsec2.NewSecurityGroup(c, jsii.String("ProxySg"), &awsec2.SecurityGroupProps{
			Vpc:              net.Vpc,
			Description:      jsii.String("JobWeaver RDS Proxy: 5432 from the functions, to the instance"),
			AllowAllOutbound: jsii.Bool(true),
		})
		proxySG.AddIngressRule(net.Functions, awsec2.Port_Tcp(jsii.Number(5432)), jsii.String("functions"), nil)
		// The proxy opens the instance's group to itself (the CDK adds that
		// rule when it binds the instance); adding it here too would make a
		// second, identical ingress rule.
		secrets := make([]awssecretsmanager.ISecret, 0, len(Services))
		for _, svc := range Services {
			secrets = append(secrets, d.Secrets[svc])
		}
		d.Proxy = awsrds.NewDatabaseProxy(c, jsii.String("Proxy"), &awsrds.DatabaseProxyProps{
			DbProxyName:    jsii.String(resourceName(cfg, "postgres")),
			ProxyTarget:    awsrds.ProxyTarget_FromInstance(d.Instance),
			Secrets:        &secrets,
			Vpc:            net.Vpc,
			VpcSubnets:     net.Subnets,
			SecurityGroups: &[]awsec2.ISecurityGroup{proxySG},
			RequireTLS:     jsii.Bool(true),
			IamAuth:        jsii.Bool(false),
			// Leave room on the instance for the migrate function and for
			// administrators, who connect directly.
			MaxConnectionsPercent:     jsii.Number(80),
			MaxIdleConnectionsPercent: jsii.Number(20),
			BorrowTimeout:             awscdk.Duration_Seconds(jsii.Number(30)),
		})
		d.Host = d.Proxy.Endpoint()
	}
	return d
}
