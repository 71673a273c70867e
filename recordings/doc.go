// Package recordings stores call recordings encrypted at rest and controls, audits and
// expires access to them.
//
// # Writing
//
// Store.Start creates the file of a new recording and returns a Recorder. Its two
// taps (Left = patient, Right = agent) are media.FrameSinks that take frames from two
// receive goroutines; frames are placed on one timeline by RTP timestamp (wrapping at
// 2^32), so packet loss and hold become silence and the channels stay aligned. A new
// SSRC, and timestamps that stray from the clock by more than the resync limit (a
// sender that froze its clock over a hold), re-anchor a stream at its arrival time.
// Late, reordered and duplicate frames land where their timestamp says while they are
// inside the jitter window (default 500 ms); after that they are dropped and counted.
// Pause/Resume make the span silence (frames arriving while paused are discarded,
// PCI-style "silence" mode; the duration is kept) and log events with the offset.
//
// Audio leaves the jitter window in blocks that a per-recording goroutine seals into the
// container (see package container: AES-256-GCM chunks of, by default, 1 s under a
// fresh data key wrapped by the current master key). The RTP path never waits for the
// disk: when the write queue is full a block is dropped and becomes silence of the same
// length, so the timeline holds. No plaintext is ever written to disk.
//
// Voicemail and IVR messages (SaveVoicemail) use the same container with one channel
// (channels = 1 in the file header and the row); calls are stereo.
//
// # Metadata
//
// Store.Start appends recording.started to the interaction log and Recorder.Close
// appends recording.stopped; Projector turns them into the recordings row inside the
// shipper's transaction. So starting and stopping a recording never waits on Postgres
// (the design rule for the call path), and a crash loses no row: the outbox replays.
// Reads and the few updates (legal hold, deletion, recovery) use the pool directly,
// with a statement deadline.
//
// A writer that dies (SIGKILL, power loss, disk error) leaves a file whose whole
// chunks decrypt and a row in state "recording". Recover (run by RunMaintenance at
// start-up and periodically) reads such files of this node and seals the row as
// "truncated" with the readable length and the file checksum (or "complete" if the
// final chunk is there, or "missing"). Node ids (WithNodeID) must be unique per engine.
//
// # Access
//
// Store.Open is the only way to plaintext. It refuses roles other than supervisor,
// auditor and admin, and writes a "granted" row to recording_access_log synchronously
// before touching the file: if that insert fails, access fails (ErrAudit, HTTP 503) and
// no byte is released. It then authenticates the whole file (each chunk's tag, the
// final chunk, the length and the SHA-256 against the row) so tampering is a clean
// error (HTTP 500) before streaming; while streaming, each chunk is released only after
// its tag is verified again, and a failure aborts the HTTP response. Closing the
// Playback writes "completed", "aborted" or "integrity_error". Denials, unknown and
// deleted recordings are audited as well. The access log is append-only (triggers) and
// hash-chained; VerifyAuditLog finds an edited, removed or inserted row.
//
// API serves GET /api/v1/recordings/{id} (supervisor, auditor), pause/resume of the
// active recording of an interaction (supervisor, agent API) and legal hold (admin,
// auditor), with bearer tokens checked against SHA-256 hashes from config in constant
// time. Failed authentication is a bare 401 and a security log line without the token.
// Export is the audited path for the local admin command.
//
// # Retention
//
// RunRetention deletes recordings past retention_until that are not under legal hold
// and not being written: it overwrites the wrapped data key in the file, removes it,
// marks the row deleted and audits and logs the deletion. Copies of the file elsewhere
// (backups) still carry the wrapped key; retiring a master key from the keyring makes
// all of them unreadable.
package recordings
