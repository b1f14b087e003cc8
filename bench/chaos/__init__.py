"""``python -m bench --only-chaos``: campaigns on every channel while processes die."""
