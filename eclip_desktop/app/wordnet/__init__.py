"""The WordNet browser: dock, details, the service that loads the hierarchy."""
