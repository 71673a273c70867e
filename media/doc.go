// Package media moves audio for one call leg: RTP ports, SDP offer/answer, G.711, DTMF, prompt playback on a shared clock, bridging and recorder taps. It knows nothing of SIP dialogs, IVR, routing or the dialer.
package media
