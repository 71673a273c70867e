//go:build !(linux && (amd64 || arm64))

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "relaybench: Linux only (taskset, /proc, sendmmsg)")
	os.Exit(1)
}
