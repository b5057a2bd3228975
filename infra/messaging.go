package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsmsk"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// kafkaIAMPort is the brokers' port for SASL/IAM over TLS on MSK.
const kafkaIAMPort = 9098

// Messaging holds the Kafka cluster: MSK Serverless, or a provisioned MSK
// cluster (kafka.mode), with IAM authentication only and TLS, in the
// private subnets. The topics are made at deploy time by the migrate
// function (Provisioning): MSK has no CloudFormation resource for topics.
type Messaging struct {
	constructs.Construct
	ClusterArn  *string
	ClusterName string
	// BootstrapBrokers is the SASL/IAM bootstrap string, read from
	// GetBootstrapBrokers at deploy time (neither MSK resource returns it).
	BootstrapBrokers *string
	SecurityGroup    awsec2.SecurityGroup
}

// NewMessaging builds the cluster and reads its bootstrap brokers.
func NewMessaging(scope constructs.Construct, id string, cfg Config, net *Network) *Messaging {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := &Messaging{Construct: c, ClusterName: resourceName(cfg, "kafka")}
	sg := awsec2.NewSecurityGroup(c, jsii.String("KafkaSg"), &awsec2.SecurityGroupProps{
		Vpc:              net.Vpc,
		Description:      jsii.String("JobWeaver MSK: SASL/IAM from the functions and from the event-source mapping pollers"),
		AllowAllOutbound: jsii.Bool(true),
	})
	sg.AddIngressRule(net.Functions, awsec2.Port_Tcp(jsii.Number(kafkaIAMPort)), jsii.String("functions and migrate"), nil)
	// Lambda's MSK pollers run in the cluster's subnets with the cluster's
	// security groups, so the group must admit itself.
	sg.AddIngressRule(sg, awsec2.Port_Tcp(jsii.Number(kafkaIAMPort)), jsii.String("event-source mapping pollers"), nil)
	m.SecurityGroup = sg

	subnetIDs := net.Vpc.SelectSubnets(net.Subnets).SubnetIds
	switch cfg.Kafka.Mode {
	case "serverless":
		cluster := awsmsk.NewCfnServerlessCluster(c, jsii.String("Cluster"), &awsmsk.CfnServerlessClusterProps{
			ClusterName: jsii.String(m.ClusterName),
			ClientAuthentication: &awsmsk.CfnServerlessCluster_ClientAuthenticationProperty{
				Sasl: &awsmsk.CfnServerlessCluster_SaslProperty{
					Iam: &awsmsk.CfnServerlessCluster_IamProperty{Enabled: jsii.Bool(true)},
				},
			},
			VpcConfigs: &[]*awsmsk.CfnServerlessCluster_VpcConfigProperty{{
				SubnetIds:      subnetIDs,
				SecurityGroups: &[]*string{sg.SecurityGroupId()},
			}},
		})
		m.ClusterArn = cluster.AttrArn()
	default: // provisioned (Validate allows nothing else)
		cluster := awsmsk.NewCfnCluster(c, jsii.String("Cluster"), &awsmsk.CfnClusterProps{
			ClusterName:         jsii.String(m.ClusterName),
			KafkaVersion:        jsii.String(cfg.Kafka.Version),
			NumberOfBrokerNodes: jsii.Number(float64(cfg.Kafka.Brokers)),
			BrokerNodeGroupInfo: &awsmsk.CfnCluster_BrokerNodeGroupInfoProperty{
				ClientSubnets:  subnetIDs,
				InstanceType:   jsii.String(cfg.Kafka.BrokerType),
				SecurityGroups: &[]*string{sg.SecurityGroupId()},
				StorageInfo: &awsmsk.CfnCluster_StorageInfoProperty{
					EbsStorageInfo: &awsmsk.CfnCluster_EBSStorageInfoProperty{VolumeSize: jsii.Number(float64(cfg.Kafka.VolumeGiB))},
				},
			},
			ClientAuthentication: &awsmsk.CfnCluster_ClientAuthenticationProperty{
				Sasl: &awsmsk.CfnCluster_SaslProperty{
					Iam: &awsmsk.CfnCluster_IamProperty{Enabled: jsii.Bool(true)},
				},
				Unauthenticated: &awsmsk.CfnCluster_UnauthenticatedProperty{Enabled: jsii.Bool(false)},
			},
			EncryptionInfo: &awsmsk.CfnCluster_EncryptionInfoProperty{
				EncryptionInTransit: &awsmsk.CfnCluster_EncryptionInTransitProperty{
					ClientBroker: jsii.String("TLS"),
					InCluster:    jsii.Bool(true),
				},
			},
		})
		m.ClusterArn = cluster.AttrArn()
	}
	// The cluster goes with the stack in every stage: its records live 7
	// days and are not the system of record (Postgres is), and a retained
	// cluster would go on billing.

	brokers := customresources.NewAwsCustomResource(c, jsii.String("BootstrapBrokers"), &customresources.AwsCustomResourceProps{
		OnUpdate: &customresources.AwsSdkCall{ // also runs on create
			Service:            jsii.String("Kafka"),
			Action:             jsii.String("getBootstrapBrokers"),
			Parameters:         map[string]any{"ClusterArn": m.ClusterArn},
			PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(m.ClusterName + "-bootstrap-brokers")),
			OutputPaths:        jsii.Strings("BootstrapBrokerStringSaslIam"),
		},
		Policy: customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{
			Resources: jsii.Strings(*m.ClusterArn),
		}),
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	m.BootstrapBrokers = brokers.GetResponseField(jsii.String("BootstrapBrokerStringSaslIam"))
	return m
}

// kafkaArn returns the ARN of a topic or group of the cluster:
// arn:aws:kafka:<region>:<account>:<kind>/<cluster name>/<cluster uuid>/<name>,
// the uuid taken from the cluster's ARN (…:cluster/<name>/<uuid>).
func (m *Messaging) kafkaArn(kind, name string) *string {
	uuid := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), m.ClusterArn, nil))
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":kafka:"), awscdk.Aws_REGION(), jsii.String(":"),
		awscdk.Aws_ACCOUNT_ID(), jsii.String(":" + kind + "/" + m.ClusterName + "/"), uuid, jsii.String("/" + name),
	})
}

// TopicArn and GroupArn name a topic and a consumer group for IAM.
func (m *Messaging) TopicArn(topic string) *string { return m.kafkaArn("topic", topic) }
func (m *Messaging) GroupArn(group string) *string { return m.kafkaArn("group", group) }

// GrantProduce lets a principal write the topics with an idempotent
// producer (WriteDataIdempotently is a cluster action).
func (m *Messaging) GrantProduce(p awsiam.IGrantable, topics ...string) {
	m.grant(p, []string{"kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"}, m.ClusterArn)
	arns := make([]*string, len(topics))
	for i, t := range topics {
		arns[i] = m.TopicArn(t)
	}
	m.grant(p, []string{"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"}, arns...)
}

// GrantConsume lets a function's event-source mapping read a topic in a
// consumer group (the mapping uses the function's role).
func (m *Messaging) GrantConsume(p awsiam.IGrantable, topic, group string) {
	m.grant(p, []string{"kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"}, m.ClusterArn)
	m.grant(p, []string{"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"}, m.TopicArn(topic))
	m.grant(p, []string{"kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"}, m.GroupArn(group))
}

// GrantRead lets a principal read topics by offset, with no consumer
// group (the dlq reads back the ranges it replays).
func (m *Messaging) GrantRead(p awsiam.IGrantable, topics ...string) {
	m.grant(p, []string{"kafka-cluster:Connect"}, m.ClusterArn)
	arns := make([]*string, len(topics))
	for i, t := range topics {
		arns[i] = m.TopicArn(t)
	}
	m.grant(p, []string{"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"}, arns...)
}

// GrantCreateTopics lets the migrate function create and grow topics.
func (m *Messaging) GrantCreateTopics(p awsiam.IGrantable, topics ...string) {
	m.grant(p, []string{"kafka-cluster:Connect"}, m.ClusterArn)
	arns := make([]*string, len(topics))
	for i, t := range topics {
		arns[i] = m.TopicArn(t)
	}
	m.grant(p, []string{"kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:AlterTopic"}, arns...)
}

func (m *Messaging) grant(p awsiam.IGrantable, actions []string, resources ...*string) {
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      p,
		Actions:      jsii.Strings(actions...),
		ResourceArns: &resources,
	})
}
