"""``berth scanner``: a scanner adapter speaking Harbor's Pluggable Scanner API v1.1/v1.2."""
