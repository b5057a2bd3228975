package provision

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/adminkey"
)

// adminKeyProps are Custom::JobWeaverAdminKey's properties.
type adminKeyProps struct {
	// SecretArn is the secret that must hold the stage's first admin key.
	SecretArn string `json:"SecretArn"`
}

// lazyStore returns a Secrets Manager client made on first use, from the
// default AWS configuration.
func lazyStore() func(ctx context.Context) (adminkey.Store, error) {
	var (
		once   sync.Once
		client *secretsmanager.Client
		err    error
	)
	return func(ctx context.Context) (adminkey.Store, error) {
		once.Do(func() {
			cfg, e := awsconfig.LoadDefaultConfig(ctx)
			if e != nil {
				err = fmt.Errorf("migrate: load AWS configuration: %w", e)
				return
			}
			client = secretsmanager.NewFromConfig(cfg)
		})
		return client, err
	}
}

// provisionAdminKey makes the secret hold a valid admin key
// (adminkey.Ensure). It answers no data: the key never leaves the secret
// (a custom resource's data is readable in the stack).
func (h *Handler) provisionAdminKey(ctx context.Context, p adminKeyProps) (map[string]any, error) {
	if p.SecretArn == "" {
		return nil, fmt.Errorf("migrate: %s needs SecretArn", TypeAdminKey)
	}
	sm, err := h.store(ctx)
	if err != nil {
		return nil, err
	}
	made, err := adminkey.Ensure(ctx, sm, p.SecretArn)
	if err != nil {
		return nil, err
	}
	h.log.InfoContext(ctx, "admin key secret", slog.String("secretArn", p.SecretArn), slog.Bool("generated", made))
	return nil, nil
}
