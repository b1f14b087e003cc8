"""The SMS channel (3GPP TS 23.038 encodings; Kannel, SMPP and modem transports)."""
