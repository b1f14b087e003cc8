"""Loa gateway: state, workflow and every channel (loudspeakers, telephony, SMS)."""
