// Package hms is everything of this backend that speaks 100ms: join tokens
// for the apps (JoinToken), a REST client with its own cached management
// token (Client), typed webhook events (ParseEvent) and the webhook's secret
// header check (WebhookSecrets). It imports nothing of Firebase and nothing
// else of this module, so any package can hold its values.
//
// Errors are sentinels for errors.Is: ErrUnavailable (100ms down or slow:
// try later), ErrRefused (100ms said no; also an *APIError with the status),
// ErrInvalidArgument, ErrMissingCredentials and ErrMalformedEvent. No error
// or printed value carries a token or a secret.
package hms
