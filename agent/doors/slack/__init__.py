"""``zoomqa slack``: the assistant as a Slack bot (Socket Mode or HTTP), with picture uploads."""
