//go:build linux && (amd64 || arm64)

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

// ngClient speaks rtpengine's ng control protocol: "<cookie> <bencoded dict>" over UDP,
// answered with the same cookie and a bencoded dict.
type ngClient struct {
	c      *net.UDPConn
	cookie int
	buf    []byte
}

func dialNG(addr string) (*ngClient, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp4", nil, ua)
	if err != nil {
		return nil, err
	}
	return &ngClient{c: c, buf: make([]byte, 65536)}, nil
}

func (n *ngClient) Close() error { return n.c.Close() }

// call sends one command and returns the reply dict; it retries a lost datagram and fails
// when the reply's result is not "ok" or "pong".
func (n *ngClient) call(ctx context.Context, req map[string]any) (map[string]any, error) {
	n.cookie++
	cookie := strconv.Itoa(n.cookie) + "_" + strconv.Itoa(os.Getpid())
	msg := append([]byte(cookie+" "), bencode(nil, req)...)
	for try := 0; try < 5; try++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := n.c.Write(msg); err != nil {
			return nil, fmt.Errorf("ng: %w", err)
		}
		dl := time.Now().Add(time.Second)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		_ = n.c.SetReadDeadline(dl)
		for {
			k, err := n.c.Read(n.buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("ng: %w", err)
			}
			got, body, ok := bytes.Cut(n.buf[:k], []byte(" "))
			if !ok || string(got) != cookie {
				continue // a late reply to an earlier try
			}
			v, _, err := bdecode(body)
			if err != nil {
				return nil, fmt.Errorf("ng: reply: %w", err)
			}
			d, _ := v.(map[string]any)
			res, _ := d["result"].(string)
			if res != "ok" && res != "pong" {
				return nil, fmt.Errorf("ng: %v: result %q: %v", req["command"], res, d["error-reason"])
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("ng: %v: no reply", req["command"])
}

// bencode appends the encoding of v (string, []byte, int, []string, []any, map[string]any).
func bencode(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...)
	case []byte:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...)
	case int:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, int64(x), 10)
		return append(dst, 'e')
	case []string:
		dst = append(dst, 'l')
		for _, e := range x {
			dst = bencode(dst, e)
		}
		return append(dst, 'e')
	case []any:
		dst = append(dst, 'l')
		for _, e := range x {
			dst = bencode(dst, e)
		}
		return append(dst, 'e')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, 'd')
		for _, k := range keys {
			dst = bencode(dst, k)
			dst = bencode(dst, x[k])
		}
		return append(dst, 'e')
	default:
		panic(fmt.Sprintf("bencode: unsupported %T", v))
	}
}

// bdecode decodes one value (strings come back as string, integers as int64).
func bdecode(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errors.New("bencode: truncated")
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, errors.New("bencode: unterminated integer")
		}
		n, err := strconv.ParseInt(string(b[1:end]), 10, 64)
		return n, b[end+1:], err
	case c == 'l':
		var l []any
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			v, rest, err := bdecode(b)
			if err != nil {
				return nil, nil, err
			}
			l, b = append(l, v), rest
		}
		if len(b) == 0 {
			return nil, nil, errors.New("bencode: unterminated list")
		}
		return l, b[1:], nil
	case c == 'd':
		d := map[string]any{}
		b = b[1:]
		for len(b) > 0 && b[0] != 'e' {
			k, rest, err := bdecode(b)
			if err != nil {
				return nil, nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, nil, errors.New("bencode: dict key is not a string")
			}
			v, rest, err := bdecode(rest)
			if err != nil {
				return nil, nil, err
			}
			d[ks], b = v, rest
		}
		if len(b) == 0 {
			return nil, nil, errors.New("bencode: unterminated dict")
		}
		return d, b[1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, nil, errors.New("bencode: bad string")
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || colon+1+n > len(b) {
			return nil, nil, errors.New("bencode: bad string length")
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	default:
		return nil, nil, fmt.Errorf("bencode: unexpected %q", c)
	}
}
