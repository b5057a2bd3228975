package kafka

import (
	"encoding/json"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// DecodeEvent decodes an event-source mapping's payload into
// aws-lambda-go's events.KafkaEvent. It gives the same result as
// json.Unmarshal, faster: Lambda writes each header value as an array of
// byte-sized numbers, which encoding/json decodes one reflected number at a
// time, and on a busy worker that was a third of its CPU. Headers are read
// with a small scanner here, falling back to encoding/json for any shape
// the scanner does not expect.
func DecodeEvent(payload []byte) (events.KafkaEvent, error) {
	type lazyRecord struct {
		events.KafkaRecord
		Headers json.RawMessage `json:"headers"` // shadows KafkaRecord.Headers
	}
	var lazy struct {
		EventSource      string                  `json:"eventSource"`
		EventSourceARN   string                  `json:"eventSourceArn"`
		Records          map[string][]lazyRecord `json:"records"`
		BootstrapServers string                  `json:"bootstrapServers"`
	}
	if err := json.Unmarshal(payload, &lazy); err != nil {
		return events.KafkaEvent{}, err
	}
	ev := events.KafkaEvent{
		EventSource:      lazy.EventSource,
		EventSourceARN:   lazy.EventSourceARN,
		BootstrapServers: lazy.BootstrapServers,
	}
	if lazy.Records != nil {
		ev.Records = make(map[string][]events.KafkaRecord, len(lazy.Records))
	}
	for k, rs := range lazy.Records {
		out := make([]events.KafkaRecord, len(rs))
		for i, r := range rs {
			out[i] = r.KafkaRecord
			hs, err := decodeHeaders(r.Headers)
			if err != nil {
				return events.KafkaEvent{}, err
			}
			out[i].Headers = hs
		}
		ev.Records[k] = out
	}
	return ev, nil
}

// decodeHeaders reads [{"name":[n,...]},...] as written by Lambda and
// encoding/json, or hands anything else to encoding/json.
func decodeHeaders(raw json.RawMessage) ([]map[string]events.JSONNumberBytes, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if hs, ok := scanHeaders(raw); ok {
		return hs, nil
	}
	var hs []map[string]events.JSONNumberBytes
	err := json.Unmarshal(raw, &hs)
	return hs, err
}

// scanHeaders is the fast path of decodeHeaders: compact JSON, plain
// (unescaped) names, integers from -128 to 127 (signed bytes). ok is false otherwise.
func scanHeaders(b []byte) (hs []map[string]events.JSONNumberBytes, ok bool) {
	i := 0
	expect := func(c byte) bool {
		if i < len(b) && b[i] == c {
			i++
			return true
		}
		return false
	}
	if !expect('[') {
		return nil, false
	}
	hs = []map[string]events.JSONNumberBytes{}
	if expect(']') {
		return hs, i == len(b)
	}
	for {
		if !expect('{') {
			return nil, false
		}
		m := map[string]events.JSONNumberBytes{}
		if !expect('}') {
			for {
				if !expect('"') {
					return nil, false
				}
				start := i
				for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
					i++
				}
				name := string(b[start:i])
				if !expect('"') || !expect(':') || !expect('[') {
					return nil, false
				}
				val := events.JSONNumberBytes{}
				if !expect(']') {
					for {
						start := i
						if i < len(b) && b[i] == '-' {
							i++
						}
						for i < len(b) && b[i] >= '0' && b[i] <= '9' {
							i++
						}
						n, err := strconv.Atoi(string(b[start:i]))
						if err != nil || n < -128 || n > 127 {
							return nil, false
						}
						val = append(val, byte(n))
						if expect(']') {
							break
						}
						if !expect(',') {
							return nil, false
						}
					}
				}
				m[name] = val
				if expect('}') {
					break
				}
				if !expect(',') {
					return nil, false
				}
			}
		}
		hs = append(hs, m)
		if expect(']') {
			return hs, i == len(b)
		}
		if !expect(',') {
			return nil, false
		}
	}
}
