package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DashboardHosting holds the web dashboard's hosting: a private,
// encrypted S3 bucket behind a CloudFront distribution with origin access
// control, and /api/* sent to the HTTP API so that the dashboard calls
// the API on its own origin (no CORS). Each deploy uploads the dashboard's
// build (cfg.DashboardDir) into the bucket and invalidates the
// distribution's cache. Behind the dashboardHosting context flag.
//
// Deep links (/jobs/<id>) work through a viewer-request CloudFront
// Function on the default behaviour only (DeepLinks), which turns an
// extension-less path into /index.html. There are deliberately no
// distribution-wide custom error responses: they would turn the API's own
// 401, 403 and 404 under /api/* into the page.
type DashboardHosting struct {
	constructs.Construct
	Bucket       awss3.Bucket
	Distribution awscloudfront.Distribution
	DeepLinks    awscloudfront.Function
	Upload       []awss3deployment.BucketDeployment
	Url          *string
}

// DeepLinksCode is the viewer-request CloudFront Function of the default
// (S3) behaviour: an extension-less path (a route of the single-page app,
// such as /jobs/<id> or /dlq) becomes /index.html; a file (/assets/x.js,
// /favicon.svg) passes unchanged. The query string stays as it is: the
// app reads its filters from it.
const DeepLinksCode = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
`

// Cache-Control of the uploaded files: the hashed assets (assets/*) never
// change under their names; everything else (index.html) is revalidated.
const (
	assetsCacheControl = "public, max-age=31536000, immutable"
	pagesCacheControl  = "no-cache"
)

// NewDashboardHosting builds the bucket, the distribution, the deep-link
// function and the upload.
func NewDashboardHosting(scope constructs.Construct, id string, cfg Config, api *API) *DashboardHosting {
	c := constructs.NewConstruct(scope, jsii.String(id))
	h := &DashboardHosting{Construct: c}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	h.Bucket = awss3.NewBucket(c, jsii.String("Bucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(!cfg.RetainData),
	})
	h.DeepLinks = awscloudfront.NewFunction(c, jsii.String("DeepLinks"), &awscloudfront.FunctionProps{
		FunctionName: jsii.String(resourceName(cfg, "dashboard-deep-links")),
		Comment:      jsii.String("JobWeaver dashboard: extension-less paths (the app's routes) to /index.html"),
		Runtime:      awscloudfront.FunctionRuntime_JS_2_0(),
		Code:         awscloudfront.FunctionCode_FromInline(jsii.String(DeepLinksCode)),
	})
	h.Distribution = awscloudfront.NewDistribution(c, jsii.String("Distribution"), &awscloudfront.DistributionProps{
		Comment:           jsii.String(resourceName(cfg, "dashboard")),
		DefaultRootObject: jsii.String("index.html"),
		PriceClass:        awscloudfront.PriceClass_PRICE_CLASS_100,
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:               awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(h.Bucket, nil),
			ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:          awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			Compress:             jsii.Bool(true),
			FunctionAssociations: &[]*awscloudfront.FunctionAssociation{{
				EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST,
				Function:  h.DeepLinks,
			}},
		},
		AdditionalBehaviors: &map[string]*awscloudfront.BehaviorOptions{
			"/api/*": {
				Origin: awscloudfrontorigins.NewHttpOrigin(api.Domain(), &awscloudfrontorigins.HttpOriginProps{
					ProtocolPolicy: awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
				}),
				ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
				AllowedMethods:       awscloudfront.AllowedMethods_ALLOW_ALL(),
				CachePolicy:          awscloudfront.CachePolicy_CACHING_DISABLED(),
				OriginRequestPolicy:  awscloudfront.OriginRequestPolicy_ALL_VIEWER_EXCEPT_HOST_HEADER(),
			},
		},
	})
	h.Url = awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), h.Distribution.DistributionDomainName()})

	// The upload: the build is one asset (zipped at synth, no Docker),
	// copied in two passes for the two cache lifetimes. Neither prunes:
	// the hashed assets of the previous build stay for pages that are
	// still open, and the second pass's invalidation makes CloudFront
	// fetch the new index.html.
	source := []awss3deployment.ISource{awss3deployment.Source_Asset(jsii.String(cfg.DashboardDir), nil)}
	logs := awslogs.NewLogGroup(c, jsii.String("UploadLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	assets := awss3deployment.NewBucketDeployment(c, jsii.String("UploadAssets"), &awss3deployment.BucketDeploymentProps{
		Sources:           &source,
		DestinationBucket: h.Bucket,
		Exclude:           jsii.Strings("*"),
		Include:           jsii.Strings("assets/*"),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String(assetsCacheControl))},
		Prune:             jsii.Bool(false),
		MemoryLimit:       jsii.Number(512),
		LogGroup:          logs,
	})
	pages := awss3deployment.NewBucketDeployment(c, jsii.String("UploadPages"), &awss3deployment.BucketDeploymentProps{
		Sources:           &source,
		DestinationBucket: h.Bucket,
		Exclude:           jsii.Strings("assets/*"),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_FromString(jsii.String(pagesCacheControl))},
		Prune:             jsii.Bool(false),
		MemoryLimit:       jsii.Number(512),
		LogGroup:          logs,
		Distribution:      h.Distribution,
		DistributionPaths: jsii.Strings("/*"),
	})
	// The pages refer to the assets: upload those first.
	pages.Node().AddDependency(assets)
	h.Upload = []awss3deployment.BucketDeployment{assets, pages}
	return h
}
