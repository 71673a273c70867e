// Package store is the interaction log: events go to a local durable outbox and are shipped to PostgreSQL idempotently.
package store
