// Package webhook signs and verifies the bodies of JobWeaver's outgoing
// webhooks (the dlq's notifications of new dead letters).
//
// A delivery is a POST of a JSON body with these headers:
//
//	X-JobWeaver-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the shared secret>
//	X-JobWeaver-Timestamp: <Unix seconds when this attempt was sent>
//	X-JobWeaver-Delivery:  <delivery ID, the same on every attempt of one delivery>
//	X-JobWeaver-Attempt:   <1 for the first attempt, then 2, 3, ...>
//
// A receiver verifies the signature over the raw body before parsing it
// (Verify, or any HMAC-SHA256 implementation), compares it in constant
// time, and dedupes on the delivery ID: a delivery whose answer was lost
// is sent again under the same ID.
package webhook
