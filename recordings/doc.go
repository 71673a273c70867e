// Package recordings stores call recordings encrypted at rest and controls, audits and expires access to them.
package recordings
