package lag

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// Defaults of CloudWatch.
const (
	// DefaultWindow is how far back the reader looks for a mapping's
	// latest OffsetLag datapoint (Lambda publishes one a minute).
	DefaultWindow = 10 * time.Minute
	// DefaultCacheFor is how long an answer is reused: the metric moves
	// once a minute, and each read is billed per metric, while the
	// console polls every few seconds.
	DefaultCacheFor = 30 * time.Second
)

// CloudWatch reads the AWS/Lambda OffsetLag metric (Maximum, 1-minute
// periods) of each Kafka event-source mapping with GetMetricData: its
// latest datapoint within Window, 0 when there is none (a mapping that
// has not polled in that time). Each mapping is looked up by its
// EventSourceMappingUUID, alone and with its FunctionName, as Lambda
// publishes per-mapping series; a function with a single Kafka mapping
// also falls back to its FunctionName series (the function-level OffsetLag
// is then that mapping's). The role needs cloudwatch:GetMetricData.
type CloudWatch struct {
	Client   *cloudwatch.Client
	Mappings []Mapping // Function and UUID set
	Window   time.Duration
	CacheFor time.Duration
	Now      func() time.Time // default time.Now

	mu     sync.Mutex
	cached []internalapi.Lag
	at     time.Time
}

// Lag implements Reader.
func (c *CloudWatch) Lag(ctx context.Context) ([]internalapi.Lag, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	cacheFor := c.CacheFor
	if cacheFor == 0 {
		cacheFor = DefaultCacheFor
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	if c.cached != nil && t.Sub(c.at) < cacheFor {
		return append([]internalapi.Lag(nil), c.cached...), nil
	}
	out, err := c.read(ctx, t)
	if err != nil {
		return nil, err
	}
	c.cached, c.at = out, t
	return append([]internalapi.Lag(nil), out...), nil
}

func (c *CloudWatch) read(ctx context.Context, now time.Time) ([]internalapi.Lag, error) {
	if c.Client == nil {
		return nil, errors.New("lag: the CloudWatch reader has no client")
	}
	window := c.Window
	if window == 0 {
		window = DefaultWindow
	}
	perFunction := map[string]int{}
	for _, m := range c.Mappings {
		if m.Function == "" || m.UUID == "" {
			return nil, fmt.Errorf("lag: the %s mapping has no function name or UUID", m.Topic)
		}
		perFunction[m.Function]++
	}
	var queries []types.MetricDataQuery
	query := func(id string, dims ...types.Dimension) {
		queries = append(queries, types.MetricDataQuery{
			Id: aws.String(id),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("OffsetLag"), Dimensions: dims},
				Period: aws.Int32(60),
				Stat:   aws.String("Maximum"),
			},
			ReturnData: aws.Bool(true),
		})
	}
	dim := func(name, value string) types.Dimension {
		return types.Dimension{Name: aws.String(name), Value: aws.String(value)}
	}
	for i, m := range c.Mappings {
		query(fmt.Sprintf("m%d", i), dim("EventSourceMappingUUID", m.UUID))
		query(fmt.Sprintf("m%df", i), dim("FunctionName", m.Function), dim("EventSourceMappingUUID", m.UUID))
		if perFunction[m.Function] == 1 {
			query(fmt.Sprintf("f%d", i), dim("FunctionName", m.Function))
		}
	}

	// The latest datapoint of each query.
	type point struct {
		at time.Time
		v  float64
	}
	latest := map[string]point{}
	in := &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries,
		StartTime:         aws.Time(now.Add(-window)),
		EndTime:           aws.Time(now),
		ScanBy:            types.ScanByTimestampDescending,
	}
	for {
		res, err := c.Client.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("lag: CloudWatch GetMetricData: %w", err)
		}
		for _, r := range res.MetricDataResults {
			id := aws.ToString(r.Id)
			for j := range min(len(r.Timestamps), len(r.Values)) {
				if p, ok := latest[id]; !ok || r.Timestamps[j].After(p.at) {
					latest[id] = point{r.Timestamps[j], r.Values[j]}
				}
			}
		}
		if res.NextToken == nil {
			break
		}
		in.NextToken = res.NextToken
	}

	out := make([]internalapi.Lag, len(c.Mappings))
	for i, m := range c.Mappings {
		var best point
		found := false
		for _, id := range []string{fmt.Sprintf("m%d", i), fmt.Sprintf("m%df", i)} {
			if p, ok := latest[id]; ok && (!found || p.at.After(best.at)) {
				best, found = p, true
			}
		}
		if p, ok := latest[fmt.Sprintf("f%d", i)]; ok && !found {
			best, found = p, true
		}
		out[i] = entry(m, int64(max(best.v, 0)))
	}
	return out, nil
}
