"""The ``file`` channel: writes each delivery's audio and metadata to a folder."""
