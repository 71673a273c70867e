// Package media moves audio for one call leg. It allocates RTP ports (with a rest period
// before reuse), negotiates SDP offers and answers, encodes and decodes G.711, reads and
// writes WAV, receives RTP (symmetric latching, demultiplexing by payload type, RFC 4733
// and in-band DTMF, media timeout), sends frames and relayed payloads, and plays cached
// prompts and DTMF on one shared 20 ms playout clock. It knows nothing of SIP dialogs,
// IVR, routing or the dialer: it takes and returns SDP bytes.
//
// Wiring, per process: one PortAllocator, one Clock (run it), one Metrics, one
// PromptCache. Per leg: Allocate a Port, NewSession, negotiate with a Negotiator (or
// Offer/Answer/ParseAnswer), Start, then Play/SendDTMF/DTMF()/SetSink, Update on
// re-INVITE, Close at the end.
package media
