"""Peer systems and backend processes for the head-to-head bench, each on a free loopback port."""
