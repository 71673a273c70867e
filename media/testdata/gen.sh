#!/bin/sh
# Regenerates the sox-made WAV fixtures used by the media tests. Run via `go generate ./media`
# (needs sox). The outputs are small and committed, so tests do not depend on sox versions.
set -eu
cd "$(dirname "$0")"

# 0.5 s 440 Hz at half scale, 16-bit PCM (fmt 16 bytes, tag 1).
sox -n -r 8000 -c 1 -b 16 -e signed-integer tone440_pcm16.wav synth 0.5 sine 440 vol 0.5
# The same tone as G.711 (fmt 18 bytes, tags 7/6, with a fact chunk). -D: no dither, so the
# encoded bytes are a deterministic function of the PCM file.
sox -D tone440_pcm16.wav -e mu-law tone440_ulaw.wav
sox -D tone440_pcm16.wav -e a-law tone440_alaw.wav

# Every G.711 code once, as a G.711 WAV, and sox's own PCM16 decoding of it.
printf "$(i=0; while [ $i -lt 256 ]; do printf '\\%03o' $i; i=$((i+1)); done)" > codes.bin
sox -t raw -r 8000 -c 1 -e mu-law -b 8 codes.bin ulaw_codes.wav
sox -t raw -r 8000 -c 1 -e a-law -b 8 codes.bin alaw_codes.wav
sox -D ulaw_codes.wav -e signed-integer -b 16 ulaw_codes_pcm.wav
sox -D alaw_codes.wav -e signed-integer -b 16 alaw_codes_pcm.wav
rm -f codes.bin

# Files the decoder must refuse with a clear reason.
sox -n -r 16000 -c 1 -b 16 -e signed-integer reject_16k.wav synth 0.05 sine 440
sox -n -r 8000 -c 2 -b 16 -e signed-integer reject_stereo.wav synth 0.05 sine 440
sox -n -r 8000 -c 1 -b 24 reject_24bit.wav synth 0.05 sine 440   # WAVE_FORMAT_EXTENSIBLE, 24-bit
