// Package provision is what JobWeaver's deploy-time function
// (functions/migrate) does. It is not part of the job flow: CloudFormation
// calls the function, through the CDK custom-resource provider framework
// (infra/), on every deploy that changes what it provisions. Handler
// serves two custom resources:
//
//   - Custom::JobWeaverDatabases: for each service (api, scheduler,
//     worker, dlq), a login role and a database on the RDS instance, the
//     service's embedded goose migrations applied as the master user, and
//     data-only privileges (SELECT, INSERT, UPDATE, DELETE) for the role:
//     a service can read and write its own tables and nothing else
//     (Provision). The passwords come from one Secrets Manager secret per
//     service, the master credentials from the instance's secret.
//   - Custom::JobWeaverTopics: the lifecycle topics with their partition
//     counts (MSK has no CloudFormation resource for topics), over the
//     Kafka admin API with KAFKA_BROKERS and KAFKA_AUTH (iam on MSK)
//     (EnsureTopics).
//   - Custom::JobWeaverAdminKey: the stage's first admin API key in its
//     Secrets Manager secret: a new key (shared/adminkey) when the secret
//     holds none, the one there otherwise. The key is neither logged nor
//     returned; the api function reads the secret at cold start.
//
// Because the provider framework sends CloudFormation's response, the
// handler only returns (or fails). Deleting a resource deletes nothing:
// the data goes with the instance and the cluster, the secret with the
// stack.
package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/jobweaver/jobweaver/shared/adminkey"
)

// The custom resource types and their physical IDs (fixed: an update
// never replaces the resource).
const (
	TypeDatabases = "Custom::JobWeaverDatabases"
	TypeTopics    = "Custom::JobWeaverTopics"
	TypeAdminKey  = "Custom::JobWeaverAdminKey"

	physicalDatabases = "jobweaver-databases"
	physicalTopics    = "jobweaver-topics"
	physicalAdminKey  = "jobweaver-admin-key"
)

// Response is what the provider framework expects from an onEvent handler.
type Response struct {
	PhysicalResourceID string         `json:"PhysicalResourceId"`
	Data               map[string]any `json:"Data,omitempty"`
}

// Handler handles the custom resources' events; NewHandler makes one.
type Handler struct {
	log     *slog.Logger
	secrets secretReader
	store   func(ctx context.Context) (adminkey.Store, error)
	// databases and topics do the work; tests replace them.
	databases func(ctx context.Context, p databasesProps) (map[string]any, error)
	topics    func(ctx context.Context, p topicsProps) (map[string]any, error)
	adminKey  func(ctx context.Context, p adminKeyProps) (map[string]any, error)
}

// NewHandler returns a handler that reads secrets from Secrets Manager
// (a client made on first use, from the default AWS configuration) and
// Kafka's settings from the environment, and logs to log.
func NewHandler(log *slog.Logger) *Handler {
	h := &Handler{log: log}
	h.secrets = lazySecrets()
	h.store = lazyStore()
	h.databases = h.provisionDatabases
	h.topics = h.provisionTopics
	h.adminKey = h.provisionAdminKey
	return h
}

// Handle provisions what a Create or Update event's resource asks for, and
// keeps everything on Delete.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) (Response, error) {
	h.log.Info("custom resource event", slog.String("requestType", string(ev.RequestType)),
		slog.String("resourceType", ev.ResourceType), slog.String("logicalId", ev.LogicalResourceID))
	var physical string
	switch ev.ResourceType {
	case TypeDatabases:
		physical = physicalDatabases
	case TypeTopics:
		physical = physicalTopics
	case TypeAdminKey:
		physical = physicalAdminKey
	default:
		return Response{}, fmt.Errorf("migrate: unknown resource type %q", ev.ResourceType)
	}
	if ev.RequestType == cfn.RequestDelete {
		// Keep the data: it goes away with the instance or the cluster.
		id := ev.PhysicalResourceID
		if id == "" {
			id = physical
		}
		return Response{PhysicalResourceID: id}, nil
	}
	var (
		data map[string]any
		err  error
	)
	switch ev.ResourceType {
	case TypeDatabases:
		var p databasesProps
		if err = decodeProps(ev.ResourceProperties, &p); err == nil {
			data, err = h.databases(ctx, p)
		}
	case TypeTopics:
		var p topicsProps
		if err = decodeProps(ev.ResourceProperties, &p); err == nil {
			data, err = h.topics(ctx, p)
		}
	case TypeAdminKey:
		var p adminKeyProps
		if err = decodeProps(ev.ResourceProperties, &p); err == nil {
			data, err = h.adminKey(ctx, p)
		}
	}
	if err != nil {
		h.log.Error("provisioning failed", slog.String("resourceType", ev.ResourceType), slog.String("error", err.Error()))
		return Response{}, err
	}
	return Response{PhysicalResourceID: physical, Data: data}, nil
}

// decodeProps decodes CloudFormation resource properties (every scalar a
// string) into v.
func decodeProps(props map[string]any, v any) error {
	b, err := json.Marshal(props)
	if err != nil {
		return fmt.Errorf("migrate: encode properties: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("migrate: decode properties: %w", err)
	}
	return nil
}
