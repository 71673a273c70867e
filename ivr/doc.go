// Package ivr runs bilingual (English/Spanish) IVR flows, described in YAML, against a small Channel interface that a call implements.
package ivr
