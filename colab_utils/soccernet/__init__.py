"""SoccerNet data for every model that uses it: the download, safe extraction, split zips."""
