// Package call joins one SIP leg and its media session into a call that IVR flows and routing drive, and logs the call's life to the interaction log.
package call
