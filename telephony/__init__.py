"""hotline: the city's telephony integration daemon beside an Asterisk PBX."""

__version__ = "0.1.0"
