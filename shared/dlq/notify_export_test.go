package dlq

import "time"

// SetNotifyClock replaces the notifications' clock and, if rnd is not nil,
// their jitter source (tests only).
func SetNotifyClock(s *Service, now func() time.Time, rnd func() float64) {
	s.notify.now = now
	if rnd != nil {
		s.notify.rnd = rnd
	}
}

// LoadWebhookSecretWith is loadWebhookSecret (tests only).
var LoadWebhookSecretWith = loadWebhookSecret
