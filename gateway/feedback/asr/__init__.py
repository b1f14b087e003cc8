"""Speech recognition for residents' recordings: audio handling, voice activity, and
pluggable offline backends (sherpa-onnx, Vosk, faster-whisper) installed from local files."""
