"""Audio post-processing and file formats for rendered bulletins."""
