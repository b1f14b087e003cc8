"""Loudspeakers: clusters that pull their schedule (4G), LAN PA speakers fed paced RTP, and
stream receivers on Icecast; proof of play back into the ledger."""
