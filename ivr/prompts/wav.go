package prompts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// wavInfo is what the renderer checks in a WAV header.
type wavInfo struct {
	Format    uint16 // 1 = PCM
	Channels  int
	Rate      int
	Bits      int
	DataBytes int64
	FileBytes int64
}

func (w wavInfo) String() string {
	return fmt.Sprintf("format %d, %d Hz, %d channel(s), %d-bit, %d data bytes", w.Format, w.Rate, w.Channels, w.Bits, w.DataBytes)
}

// Duration returns the audio length.
func (w wavInfo) Duration() time.Duration {
	frame := int64(w.Channels * w.Bits / 8)
	if frame == 0 || w.Rate == 0 {
		return 0
	}
	return time.Duration(w.DataBytes / frame * int64(time.Second) / int64(w.Rate))
}

// readWAVInfo walks the RIFF chunks of a WAV file (fmt and data; others are
// skipped, odd sizes padded). Only PCM (format 1) is accepted.
func readWAVInfo(path string) (wavInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return wavInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return wavInfo{}, err
	}
	info := wavInfo{FileBytes: st.Size()}
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return info, errors.New("not a RIFF/WAVE file")
	}
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(f, ch[:]); err != nil {
			return info, errors.New("no data chunk")
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 {
				return info, errors.New("short fmt chunk")
			}
			b := make([]byte, size)
			if _, err := io.ReadFull(f, b); err != nil {
				return info, errors.New("short fmt chunk")
			}
			info.Format = binary.LittleEndian.Uint16(b[0:2])
			info.Channels = int(binary.LittleEndian.Uint16(b[2:4]))
			info.Rate = int(binary.LittleEndian.Uint32(b[4:8]))
			info.Bits = int(binary.LittleEndian.Uint16(b[14:16]))
			if info.Format != 1 {
				return info, fmt.Errorf("format tag %d is not PCM", info.Format)
			}
			haveFmt = true
			if size%2 == 1 {
				if _, err := f.Seek(1, io.SeekCurrent); err != nil {
					return info, err
				}
			}
		case "data":
			if !haveFmt {
				return info, errors.New("data chunk before fmt chunk")
			}
			info.DataBytes = size
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos+size > st.Size() {
				return info, errors.New("truncated data chunk")
			}
			return info, nil
		default:
			if _, err := f.Seek(size+size%2, io.SeekCurrent); err != nil {
				return info, err
			}
		}
	}
}
