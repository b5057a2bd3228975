package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Network holds the VPC: private subnets in two AZs for the functions,
// RDS and MSK, no internet gateway unless NAT is asked for, and the
// interface endpoints for the AWS APIs called from inside:
//   - Secrets Manager: the functions read their database password, the
//     migrate function the master's;
//   - Lambda: the api function invokes scheduler, worker and dlq (internal
//     routes), and Lambda's MSK event-source mappings need it (or NAT) in
//     the cluster's VPC;
//   - STS: the MSK event-source mappings need it (or NAT) as well;
//   - SQS: the mappings' on-failure destination is a queue, and Lambda
//     sends to it from the cluster's VPC ("You must deploy a VPC endpoint
//     for your on-failure destination service inside your Kafka cluster
//     VPC", Lambda's Kafka error-handling guide);
//   - SNS: the dlq publishes each batch of new dead letters to the alarm
//     topic.
//   - CloudWatch (monitoring): the api function reads the mappings'
//     OffsetLag for GET /api/system (GetMetricData).
//   - X-Ray: each function's ADOT collector sends its spans to X-Ray's
//     OTLP endpoint (AddTracing).
//
// CloudWatch Logs needs none: Lambda ships the functions' logs (and the
// EMF metrics in them) from outside the VPC.
type Network struct {
	constructs.Construct
	Vpc     awsec2.Vpc
	Subnets *awsec2.SubnetSelection
	// Functions is the security group of every function (and the migrate
	// function): it may reach the database, the brokers and the endpoints.
	Functions awsec2.SecurityGroup
	// Endpoints are the interface endpoints, for the functions to depend
	// on (the migrate function runs during the deploy and needs them).
	Endpoints []awsec2.InterfaceVpcEndpoint
}

// NewNetwork builds the VPC. Nothing is looked up: the AZs are
// network.availabilityZones, or else the region's first maxAzs ones
// (Fn::GetAZs), so synth needs no AWS account.
func NewNetwork(scope constructs.Construct, id string, cfg Config) *Network {
	c := constructs.NewConstruct(scope, jsii.String(id))
	private := awsec2.SubnetType_PRIVATE_ISOLATED
	subnets := []*awsec2.SubnetConfiguration{}
	if cfg.Network.NatGateways > 0 {
		private = awsec2.SubnetType_PRIVATE_WITH_EGRESS
		subnets = append(subnets, &awsec2.SubnetConfiguration{
			Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24),
		})
	}
	subnets = append(subnets, &awsec2.SubnetConfiguration{
		Name: jsii.String("private"), SubnetType: private, CidrMask: jsii.Number(20),
	})
	props := &awsec2.VpcProps{
		VpcName:                      jsii.String(resourceName(cfg, "vpc")),
		IpAddresses:                  awsec2.IpAddresses_Cidr(jsii.String("10.40.0.0/16")),
		NatGateways:                  jsii.Number(float64(cfg.Network.NatGateways)),
		SubnetConfiguration:          &subnets,
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	}
	if azs := cfg.Network.AvailabilityZones; len(azs) > 0 {
		props.AvailabilityZones = jsii.Strings(azs...)
	} else {
		props.MaxAzs = jsii.Number(float64(cfg.Network.MaxAzs))
	}
	vpc := awsec2.NewVpc(c, jsii.String("Vpc"), props)
	sel := &awsec2.SubnetSelection{SubnetType: private}

	fnSG := awsec2.NewSecurityGroup(c, jsii.String("FunctionsSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("JobWeaver functions: out to RDS, MSK and the VPC endpoints"),
		AllowAllOutbound: jsii.Bool(true),
	})

	n := &Network{Construct: c, Vpc: vpc, Subnets: sel, Functions: fnSG}
	for _, e := range []struct {
		id      string
		service awsec2.IInterfaceVpcEndpointService
	}{
		{"SecretsManager", awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER()},
		{"Lambda", awsec2.InterfaceVpcEndpointAwsService_LAMBDA()},
		{"Sts", awsec2.InterfaceVpcEndpointAwsService_STS()},
		{"Sqs", awsec2.InterfaceVpcEndpointAwsService_SQS()},
		{"Sns", awsec2.InterfaceVpcEndpointAwsService_SNS()},
		{"CloudWatch", awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_MONITORING()},
		{"XRay", awsec2.InterfaceVpcEndpointAwsService_XRAY()},
	} {
		// Open: the endpoint's security group takes HTTPS from the VPC's
		// CIDR, which covers the functions and the MSK mappings' pollers.
		n.Endpoints = append(n.Endpoints, vpc.AddInterfaceEndpoint(jsii.String(e.id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           e.service,
			Subnets:           sel,
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(true),
		}))
	}
	return n
}
