// Package sip is careline's SIP signaling mechanism: transports, request
// validation, the registrar, digest auth, call legs and outbound Dial, on
// sipgo. It deals in SDP bytes only (the media package negotiates them) and
// knows nothing of IVR, routing, the dialer or calls; policy arrives through
// small interfaces (Handler, Credentials, BindingStore).
//
// # Shape
//
//	New(Config, ...Option) → *Server; Run(ctx); Shutdown(ctx)
//	Handler.HandleCall(ctx, *Leg)      inbound calls (policy from the binary)
//	Server.Dial(ctx, DialOptions)      outbound calls → *Leg or a Classified error
//	Leg: Ringing/Progress/Answer/Reject/Hangup, OnOffer, Events, Done, EndReason
//
// One sipgo UserAgent is shared by the server and client sides. Every request
// passes two stages before any business logic:
//
//  1. a raw-bytes pre-parse of each UDP datagram (sipgo's read filter):
//     stateless 400/505/416 to the packet source for what sipgo's parser
//     would silently drop, Content-Length defects, RFC 3261 LWS
//     normalisation of structured headers, and ";rport" forced on the top
//     Via so responses reach phones behind NAT (Asterisk's force_rport);
//  2. Validate on the parsed request (RFC 3261 / RFC 4475 outcomes).
//
// Every handler, leg goroutine and callback runs under recover(): a panic
// fails that request or call (500 or BYE), never the process.
//
// # Decisions worth knowing
//
//   - Legs: one goroutine per leg owns its state; in-dialog requests go
//     through a mailbox; the ACK is matched to the CSeq of the INVITE it
//     acknowledges (sipgo's DialogServerSession.ReadAck checks the latest
//     CSeq and loses calls when an INFO overtakes the ACK). A re-INVITE
//     with a higher CSeq counts as an implicit ACK of the previous 2xx.
//     Remote CSeq order is not enforced (sipgo delivers each message on its
//     own goroutine, so strict ordering would 500 legitimate requests).
//   - 2xx retransmission (T1 doubling to T2) and the 64*T1 ACK wait are leg
//     timers, so Answer returns as soon as the 200 is sent.
//   - An INVITE server transaction has no timer of its own: an inbound call
//     left unanswered for MaxRingTime gets 480 from the leg.
//   - Max-Forwards 0 is answered 483 except on OPTIONS, which the final
//     recipient answers (RFC 3261 §11, RFC 4475 zeromf).
//   - Digest: two challenges, SHA-256 first (RFC 8760), qop=auth, stateless
//     HMAC nonces with stale=true after NonceTTL, nc replay tracking,
//     constant-time compares, unknown users compared against a random HA1.
//     User agents that choke on a SHA-256 first challenge (baresip 1.0,
//     sipsak 0.9.8, measured) get MD5 only, chosen by User-Agent, never by
//     user. A failed REGISTER gets a fresh 401; a failed INVITE gets 403.
//   - Dialling a registered user forks in parallel to all bindings (own
//     Call-ID each); the first answer wins and the rest are CANCELled with
//     Reason "Call completed elsewhere". A 200 racing our CANCEL is ACKed
//     and BYEd. Dial never needs a provisional response.
//   - Requests to a leg's peer go to the flow the INVITE or REGISTER came
//     from (source address/transport), not to a Contact behind NAT.
//   - TCP: accepted connections get idle read and write deadlines by
//     wrapping the listener (keeps sipgo on our per-object redacting
//     logger). TLS is a later issue; the listener list leaves room for it.
//   - REFER is answered 202 with NOTIFY 100 Trying; the owner gets a
//     ReferEvent and reports the outcome with Leg.ReferResult.
//
// # Logging
//
// Raw SIP is never logged at info. Every logger given to sipgo is wrapped
// by NewRedactingHandler (raw-message attributes replaced by their size, URI
// user parts masked, one line, rate limited). InstallLogging routes sipgo's
// remaining package-level logging through the same wrapper; the binary calls
// it once. WithTrace adds a debug trace with masked URIs.
package sip
