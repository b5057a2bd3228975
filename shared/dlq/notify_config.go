package dlq

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/ssrf"
)

// NotifyConfig tunes the notifications of new dead letters (see
// notify.go): a signed webhook and, in AWS, an SNS topic. Both are off
// until their variable is set.
type NotifyConfig struct {
	// WebhookURL (DLQ_WEBHOOK_URL) receives batches of new entries; empty
	// sends none. http or https only; the SSRF guard applies.
	WebhookURL string
	// WebhookSecret (DLQ_WEBHOOK_SECRET) keys the HMAC-SHA256 signature
	// of every delivery; required with WebhookURL, at least 16 bytes.
	// Never logged.
	WebhookSecret string
	// WebhookSecretARN (DLQ_WEBHOOK_SECRET_ARN) names a Secrets Manager
	// secret whose string is WebhookSecret: the function's main reads it
	// once at cold start (LoadWebhookSecret), before New.
	WebhookSecretARN string
	// WebhookAllowlist (DLQ_WEBHOOK_ALLOWLIST) lets the webhook reach
	// addresses the SSRF guard refuses: CIDRs or host names, as
	// WORKER_HTTP_ALLOWLIST for HTTP_CALL steps. Comma-separated (a
	// string, so that Config stays comparable).
	WebhookAllowlist string
	// WebhookTimeout (DLQ_WEBHOOK_TIMEOUT) bounds one delivery attempt
	// (default 10s, 1s to 60s).
	WebhookTimeout time.Duration
	// SNSTopicARN (DLQ_SNS_TOPIC_ARN) gets a short text message per batch;
	// empty publishes nothing. The stack sets it to the alarm topic.
	SNSTopicARN string
	// BatchSize (DLQ_NOTIFY_BATCH_SIZE) caps the entries of one delivery
	// (default 100, 1 to 100); a batch is also cut at NotifyMaxBodyBytes.
	BatchSize int
	// BackoffBase, BackoffCap and Jitter (DLQ_NOTIFY_BACKOFF_BASE,
	// DLQ_NOTIFY_BACKOFF_CAP, DLQ_NOTIFY_BACKOFF_JITTER): failed attempt n
	// is tried again after min(base·2^(n-1), cap) ± jitter (defaults 30s,
	// 1h, 0.2).
	BackoffBase, BackoffCap time.Duration
	Jitter                  float64
	// MaxAttempts (DLQ_NOTIFY_MAX_ATTEMPTS) is how many attempts a
	// delivery gets before it is given up as FAILED (default 24, about a
	// day with the default backoff).
	MaxAttempts int
	// SNS publishes to SNSTopicARN; nil makes a client from the default
	// AWS configuration (tests pass one aimed at a fake endpoint).
	SNS SNSPublisher
}

// SNSPublisher is the part of the SNS client the notifications use.
type SNSPublisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Defaults and limits of NotifyConfig.
const (
	DefaultWebhookTimeout    = 10 * time.Second
	DefaultNotifyBatchSize   = 100
	DefaultNotifyBackoffBase = 30 * time.Second
	DefaultNotifyBackoffCap  = time.Hour
	DefaultNotifyJitter      = 0.2
	DefaultNotifyMaxAttempts = 24
	MinWebhookSecretLen      = 16
	maxNotifyBatchSize       = 100
	maxNotifyAttempts        = 1000
	notifyBackoffMin         = time.Second
	notifyBackoffMax         = 24 * time.Hour
	webhookTimeoutMin        = time.Second
	webhookTimeoutMax        = time.Minute
)

// DefaultNotifyConfig returns NotifyConfig's defaults: nothing to notify.
func DefaultNotifyConfig() NotifyConfig {
	return NotifyConfig{
		WebhookTimeout: DefaultWebhookTimeout,
		BatchSize:      DefaultNotifyBatchSize,
		BackoffBase:    DefaultNotifyBackoffBase,
		BackoffCap:     DefaultNotifyBackoffCap,
		Jitter:         DefaultNotifyJitter,
		MaxAttempts:    DefaultNotifyMaxAttempts,
	}
}

// notifyConfigFromEnv reads the DLQ_WEBHOOK_* and DLQ_NOTIFY_* variables
// and DLQ_SNS_TOPIC_ARN.
func notifyConfigFromEnv(env *config.Env) NotifyConfig {
	d := DefaultNotifyConfig()
	return NotifyConfig{
		WebhookURL:       env.String("DLQ_WEBHOOK_URL", ""),
		WebhookSecret:    env.String("DLQ_WEBHOOK_SECRET", ""),
		WebhookSecretARN: env.String("DLQ_WEBHOOK_SECRET_ARN", ""),
		WebhookAllowlist: strings.Join(env.List("DLQ_WEBHOOK_ALLOWLIST", nil), ","),
		WebhookTimeout:   env.Duration("DLQ_WEBHOOK_TIMEOUT", d.WebhookTimeout, webhookTimeoutMin, webhookTimeoutMax),
		SNSTopicARN:      env.String("DLQ_SNS_TOPIC_ARN", ""),
		BatchSize:        env.Int("DLQ_NOTIFY_BATCH_SIZE", d.BatchSize, 1, maxNotifyBatchSize),
		BackoffBase:      env.Duration("DLQ_NOTIFY_BACKOFF_BASE", d.BackoffBase, notifyBackoffMin, notifyBackoffMax),
		BackoffCap:       env.Duration("DLQ_NOTIFY_BACKOFF_CAP", d.BackoffCap, notifyBackoffMin, notifyBackoffMax),
		Jitter:           env.Float("DLQ_NOTIFY_BACKOFF_JITTER", d.Jitter, 0, 1),
		MaxAttempts:      env.Int("DLQ_NOTIFY_MAX_ATTEMPTS", d.MaxAttempts, 1, maxNotifyAttempts),
	}
}

// withDefaults fills zero fields from DefaultNotifyConfig.
func (c NotifyConfig) withDefaults() NotifyConfig {
	d := DefaultNotifyConfig()
	if c.WebhookTimeout == 0 {
		c.WebhookTimeout = d.WebhookTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = d.BackoffBase
	}
	if c.BackoffCap == 0 {
		c.BackoffCap = d.BackoffCap
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	return c
}

// validate reports the first bad field, named by its variable. It never
// prints the secret.
func (c NotifyConfig) validate() error {
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return config.Invalid("DLQ_WEBHOOK_URL", "an http:// or https:// URL with a host and no user info", fmt.Sprintf("%q", redactURL(c.WebhookURL)))
		}
		if c.WebhookSecret == "" && c.WebhookSecretARN == "" {
			return fmt.Errorf("config: DLQ_WEBHOOK_URL needs DLQ_WEBHOOK_SECRET (or DLQ_WEBHOOK_SECRET_ARN) to sign its deliveries")
		}
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < MinWebhookSecretLen {
		return fmt.Errorf("config: DLQ_WEBHOOK_SECRET must be at least %d bytes (got %d)", MinWebhookSecretLen, len(c.WebhookSecret))
	}
	if _, err := ssrf.NewGuard(c.allowlist()); err != nil {
		return fmt.Errorf("config: DLQ_WEBHOOK_ALLOWLIST: %w", err)
	}
	if c.WebhookTimeout < webhookTimeoutMin || c.WebhookTimeout > webhookTimeoutMax {
		return config.Invalid("DLQ_WEBHOOK_TIMEOUT", "from 1s to 1m0s", c.WebhookTimeout)
	}
	if c.BatchSize < 1 || c.BatchSize > maxNotifyBatchSize {
		return config.Invalid("DLQ_NOTIFY_BATCH_SIZE", "from 1 to 100", c.BatchSize)
	}
	if c.BackoffBase < notifyBackoffMin || c.BackoffBase > notifyBackoffMax {
		return config.Invalid("DLQ_NOTIFY_BACKOFF_BASE", "from 1s to 24h0m0s", c.BackoffBase)
	}
	if c.BackoffCap < c.BackoffBase || c.BackoffCap > notifyBackoffMax {
		return config.Invalid("DLQ_NOTIFY_BACKOFF_CAP", "from DLQ_NOTIFY_BACKOFF_BASE to 24h0m0s", c.BackoffCap)
	}
	if c.Jitter < 0 || c.Jitter > 1 {
		return config.Invalid("DLQ_NOTIFY_BACKOFF_JITTER", "from 0 to 1", c.Jitter)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > maxNotifyAttempts {
		return config.Invalid("DLQ_NOTIFY_MAX_ATTEMPTS", "from 1 to 1000", c.MaxAttempts)
	}
	return nil
}

// allowlist splits WebhookAllowlist (NewGuard skips empty entries).
func (c NotifyConfig) allowlist() []string { return strings.Split(c.WebhookAllowlist, ",") }

// redactURL drops a URL's query and user info, which may hold tokens,
// for messages and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
