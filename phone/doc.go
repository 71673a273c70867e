// Package phone is a small SIP softphone for tests, benchmarks and people trying
// careline: it registers with digest auth (and refreshes and removes the binding),
// places calls (answering a digest challenge), answers calls (optionally at once),
// plays WAV files or tones into a call, records what it hears to a WAV file, sends and
// receives RFC 4733 DTMF, holds and resumes with re-INVITEs, hangs up and notices the
// far end hanging up.
//
// # Shape
//
//	New(ctx, Config, ...Option) → *Phone; Close()
//	Phone.Register / Unregister         REGISTER with digest; refreshed at half the granted expiry
//	Phone.Call(ctx, target) → *Call     INVITE (digest if challenged), returns once answered
//	Phone.Incoming() <-chan *Call       inbound calls (WithAutoAnswer answers them first)
//	Call: Answer/Reject, Play, Record, SendDTMF, DTMF(), Hold/Resume, Hangup, Done, Events
//
// # Why signalling is on sipgo and not on careline's sip package
//
// careline's sip.Server owns its UDP socket and exposes neither a client REGISTER nor a
// way to send a re-INVITE from our side. A phone must REGISTER from the socket it
// listens on (careline's registrar sends calls back to the REGISTER's source address)
// and must put the far end on hold, so the phone runs its own sipgo UserAgent: one UDP
// socket that serves requests and sends every request of ours, with sipgo's dialog
// sessions for INVITE, ACK, re-INVITE and BYE. Audio is careline's media package: a
// PortAllocator, one shared playout Clock, and a media.Session with a Negotiator per
// call. Raw SIP never reaches the logs: sipgo logs through sip.NewRedactingHandler.
//
// Digits received on a call are delivered on Call.DTMF and never logged.
package phone
