package peers

import (
	"encoding/binary"
	"math"
	"os"
)

// WriteToneWAV writes an 8 kHz mono 16-bit PCM WAV (what baresip's aufile
// needs for G.711) holding seconds of a sine tone at hz (0 = silence).
func WriteToneWAV(path string, seconds int, hz float64) error {
	const rate = 8000
	n := seconds * rate
	data := make([]byte, 44+2*n)
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], rate)
	binary.LittleEndian.PutUint32(data[28:], rate*2)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := range n {
		v := 0.0
		if hz > 0 {
			v = 0.3 * math.Sin(2*math.Pi*hz*float64(i)/rate)
		}
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(int16(v*32767)))
	}
	return os.WriteFile(path, data, 0o644)
}
