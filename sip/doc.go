// Package sip is careline's SIP signaling mechanism: transports, request validation, the registrar, digest auth, call legs and outbound Dial, on sipgo. It knows nothing of IVR, routing or the dialer; policy arrives through its Handler interface.
package sip
