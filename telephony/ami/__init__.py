"""Asterisk Manager Interface: the sans-IO codec, typed events and the asyncio connection."""
