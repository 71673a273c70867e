//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// The orchestrator drives its child processes (generator, careline relay) with one JSON
// object per line on their stdin; each command gets exactly one JSON line back on stdout.

// command is a request to a child.
type command struct {
	Cmd string `json:"cmd"`
	// streams (generator): destination ports on 127.0.0.1 of the streams sent from the
	// generator's A socket and B socket.
	A []int `json:"a,omitempty"`
	B []int `json:"b,omitempty"`
}

// childIO is a child's side of the control channel.
type childIO struct {
	in  *bufio.Scanner
	out *json.Encoder
}

func newChildIO() *childIO {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	return &childIO{in: sc, out: json.NewEncoder(os.Stdout)}
}

// next returns the next command; io.EOF when the orchestrator closed stdin.
func (c *childIO) next() (command, error) {
	if !c.in.Scan() {
		if err := c.in.Err(); err != nil {
			return command{}, fmt.Errorf("reading commands: %w", err)
		}
		return command{}, io.EOF
	}
	var cmd command
	if err := json.Unmarshal(c.in.Bytes(), &cmd); err != nil {
		return command{}, fmt.Errorf("bad command %q: %w", c.in.Text(), err)
	}
	return cmd, nil
}

func (c *childIO) reply(v any) error { return c.out.Encode(v) }

type errReply struct {
	Error string `json:"error"`
}
