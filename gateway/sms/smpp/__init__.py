"""SMPP 3.4 transceiver: wire format, session and transport."""
