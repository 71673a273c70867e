// Package dialer runs outbound campaigns (refill reminders, appointment confirmations) under a compliance gate, with pacing and answering-machine detection.
package dialer
