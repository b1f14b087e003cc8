"""vietTTS-compatible voices (NTT123/vietTTS architecture) on onnxruntime."""
